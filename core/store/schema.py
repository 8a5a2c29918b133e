"""The store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are stored in UTC and always come back aware; money is stored exactly
(NUMERIC on PostgreSQL, text on SQLite, never a float). The scheduler's query
is indexed on ``(next_check_at, case_id)``, its order, so that a tick costs what the due
cases cost, not what the portfolio does. Alembic migrations under
``migrations/`` create exactly these tables; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    insert,
    text,
)

__all__ = [
    "attempts",
    "audit",
    "callbacks",
    "cases",
    "debtors",
    "events",
    "insert_rows",
    "intents",
    "metadata",
    "outbox_messages",
    "sessions",
    "text_lengths",
    "users",
    "webhook_deliveries",
    "work_items",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact decimal amount: NUMERIC(20, 4) on PostgreSQL, text on SQLite."""

    impl = Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(_tidy(value)) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(value)  # stored tidy (see process_bind_param)
        return _tidy(Decimal(str(value)))


def _tidy(amount: Decimal) -> Decimal:
    """The same amount on both backends: trailing zeros beyond the cents dropped (845.2000 → 845.20)."""
    tidy = amount.normalize()
    if tidy.as_tuple().exponent > -2:  # type: ignore[operator]
        return tidy.quantize(Decimal("0.01"))
    return tidy


debtors = Table(
    "debtors",
    metadata,
    Column("debtor_id", String(128), primary_key=True),
    Column("previous_cures", Integer, nullable=False, default=0),
    Column("broken_promises", Integer, nullable=False, default=0),
    Column("kept_promises", Integer, nullable=False, default=0),
    Column("days_to_pay_last", Integer),
    Column("updated_at", UTCDateTime, nullable=False),
    #: the strategy of a champion/challenger split the debtor was assigned to, kept for good
    Column("strategy", String(64)),
)

#: Each debtor's contact points (numbers, push tokens, addresses) as their cases name them: a
#: number two debtors share has two rows, and rights recorded on it reach both.
contact_points = Table(
    "contact_points",
    metadata,
    Column("debtor_id", String(128), primary_key=True),
    #: phone | push_token | email | a channel plugin's own kind
    Column("kind", String(32), primary_key=True),
    Column("address", String(512), primary_key=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index("ix_contact_points_kind_address", "kind", "address"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(128), primary_key=True),
    Column("debtor_id", String(128), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("phone", String(32)),
    Column("push_token", String(512)),
    Column("locale", String(16), nullable=False),
    Column("timezone", String(64)),
    Column("account", String(64), nullable=False),
    Column("amount_due", Money, nullable=False),
    Column("original_amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("payment_url", String(1024)),
    Column("contact", String(256)),
    Column("tags", JSON, nullable=False),
    Column("contacts", JSON, nullable=False),
    Column("amount_as_of", UTCDateTime),
    #: open | held | stopped | paid
    Column("status", String(16), nullable=False),
    Column("segment", String(64)),
    Column("ladder", String(64)),
    Column("next_check_at", UTCDateTime),
    #: the scheduler partition: a stable hash of the debtor id
    Column("partition", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    #: when the debtor's running promise (its date plus grace) ends, as the engine's hold said;
    #: cleared when the case is paid or the promise is counted as broken (once)
    Column("promise_until", UTCDateTime),
    #: consecutive failures to decide or render this case; reset when it is decided again
    Column("faults", Integer, nullable=False, default=0, server_default="0"),
    #: the last failure, as ``stage: ErrorType: message`` with personal data masked
    Column("fault", String(512)),
    #: when the case was parked for a failure (None: not quarantined)
    Column("quarantined_at", UTCDateTime, index=True),
    #: the repayment deadline the lender set for this loan, when its import names one
    Column("deadline", Date),
    #: why the case waits for a person (the engine's hold rule: dispute, handoff, ...); None otherwise
    Column("hold_reason", String(64), index=True),
    #: since when it has waited for a person for that reason
    Column("held_since", UTCDateTime),
    #: how a person closed the case for good (status ``closed``): paid, settled, written_off, ...
    Column("outcome", String(32)),
    #: the lender's own attributes the policy declares, by name (numbers as exact text, dates ISO)
    Column("attributes", JSON),
    Index("ix_cases_due", "next_check_at", "case_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    #: namespaced by where it came from (``api:``, ``twilio:``, ``cli:``, ...); unique
    Column("event_id", String(160), unique=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("debtor_id", String(128), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("amount", Money),
    Column("full", Boolean),
    Column("date", Date),
    Column("channel", String(64)),
    Column("text", Text),
    #: the contact point a right (opt-out, wrong number, ...) was recorded on
    Column("address", String(512), index=True),
    Column("intent_id", String(64)),
    #: why a case is held for a person (attorney, bankruptcy, ...), for a hold
    Column("reason", String(64)),
    #: api | webhook | cli | import | runtime
    Column("source", String(32), nullable=False),
    #: a digest of what the sender said: the same id with another body is a conflict
    Column("fingerprint", String(64)),
    Column("recorded_at", UTCDateTime, nullable=False),
    #: who did it, when a person did: the API token's name or the console user
    Column("actor", String(128)),
)

intents = Table(
    "intents",
    metadata,
    Column("intent_id", String(64), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("debtor_id", String(128), nullable=False, index=True),
    Column("channel", String(64), nullable=False),
    Column("ladder", String(64), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("step", Integer, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("template", String(128), nullable=False),
    Column("variant", String(64)),
    #: the message this reminder went in: its own id, or the id of the combined message of
    #: several loans of one debtor (the one that is handed to the broker)
    Column("message_id", String(64), index=True),
    #: the contact point it was sent to (for reconciliation and the audit)
    Column("address", String(512)),
    #: see dunning.core.domain.model.IntentState
    Column("state", String(16), nullable=False),
    Column("planned_at", UTCDateTime, nullable=False),
    #: when it may be sent; moved forward when a send-time check defers it
    Column("not_before", UTCDateTime, nullable=False),
    #: when it was (or will be) sent: the moment caps and waits count from
    Column("contact_at", UTCDateTime, nullable=False),
    Column("enqueued_at", UTCDateTime),
    Column("lease_until", UTCDateTime),
    Column("lease_owner", String(128)),
    #: set just before the provider is called: after it, a crash is ambiguous
    Column("call_started_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("provider_id", String(128)),
    Column("error_code", String(32)),
    Column("reason", String(128)),
    Column("connected", Boolean, nullable=False, default=False),
    Column("segments", Integer),
    Column("completed_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    #: the debtor's strategy when the policy splits debtors between strategies (reports group by it)
    Column("strategy", String(64)),
    Index("ix_intents_state", "state", "not_before"),
    Index("ix_intents_provider", "provider_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("intent_id", String(64), nullable=False, index=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("channel", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    #: sent | delivered | failed | retry | ambiguous | suppressed | cancelled | deferred | ...
    Column("outcome", String(32), nullable=False),
    Column("provider_id", String(128)),
    Column("error_code", String(32)),
    Column("detail", Text),
)

#: Provider status callbacks already applied, by natural key: a provider's retry changes nothing.
callbacks = Table(
    "callbacks",
    metadata,
    #: channel, provider id, status (and the call's sequence number)
    Column("key", String(255), primary_key=True),
    Column("intent_id", String(64), nullable=False, index=True),
    Column("case_id", String(128), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("case_id", String(128), nullable=False, index=True),
    #: decision | intent | callback | event | case | queue (work items) | reveal (a full number shown)
    Column("kind", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("channel", String(64)),
    Column("step", Integer),
    Column("rule", String(256)),
    Column("intent_id", String(64)),
    Column("detail", JSON),
)

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("intent_id", String(64), nullable=False, unique=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("channel", String(64), nullable=False),
    Column("address", String(512), nullable=False),
    Column("parts", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

#: Cases held for a person: one open item per held case, resolved with an outcome.
work_items = Table(
    "work_items",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", String(128), nullable=False, index=True),
    #: the hold reason the item was opened for (the engine's hold rule)
    Column("reason", String(64), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    #: when the policy's service level for the reason says it must be resolved
    Column("sla_due", UTCDateTime, nullable=False),
    Column("owner", String(128)),
    #: open | claimed | resolved
    Column("state", String(16), nullable=False),
    Column("outcome", String(32)),
    Column("resolved_by", String(128)),
    Column("resolved_at", UTCDateTime),
    #: the debtor's call to an agent, if one was put through: Twilio's DialCallStatus and seconds
    Column("call_status", String(32)),
    Column("call_seconds", Integer),
    Index("ix_work_items_state_due", "state", "sla_due"),
    Index(
        "uq_work_items_open_case",
        "case_id",
        unique=True,
        sqlite_where=text("state != 'resolved'"),
        postgresql_where=text("state != 'resolved'"),
    ),
)

#: Console users: a name, a role and a password hash (never the password).
users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    #: viewer | agent | admin
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Console sessions, kept server-side: the cookie carries a random id whose digest is the key.
sessions = Table(
    "sessions",
    metadata,
    #: SHA-256 of the session id the cookie carries (a stolen table opens no session)
    Column("key", String(64), primary_key=True),
    Column("user_name", String(64), nullable=False, index=True),
    #: the token every form of this session must send back
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

#: Outbound webhooks (the lender's systems subscribe), written with what caused them.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    #: the delivery id the receiver de-duplicates by
    Column("id", String(64), primary_key=True),
    Column("url", String(1024), nullable=False),
    #: handed_off | disputed | opted_out | paid | promise_broken | quarantined
    Column("topic", String(32), nullable=False),
    Column("case_id", String(128), index=True),
    #: the JSON body, fixed when the delivery was written
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    #: pending | enqueued | delivered | failed
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    #: when the next attempt is due (pending) or when the broker had it (enqueued)
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_status", Integer),
    Column("last_error", String(512)),
    Column("delivered_at", UTCDateTime),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
)


def text_lengths(table: Table) -> dict[str, int]:
    """The length of each bounded text column of ``table``: what PostgreSQL refuses beyond."""
    return {c.name: int(c.type.length) for c in table.c if isinstance(c.type, String) and c.type.length}


def insert_rows(
    conn: Connection, batches: Sequence[tuple[Table, Sequence[dict[str, Any]]]], *, chunk: int = 5000
) -> None:
    """Insert each batch of rows into its table, ``chunk`` rows per statement, in the order given."""
    for table, batch in batches:
        for start in range(0, len(batch), chunk):
            conn.execute(insert(table), list(batch[start : start + chunk]))
