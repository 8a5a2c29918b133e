"""The outbox: intents, their attempts, the callbacks applied to them, and the audit trail.

An intent is written in the same transaction as the decision that planned it,
under its deterministic id, so a second plan of it is a no-op. It is handed to
the broker only after commit; the sweeper hands over whatever was committed
but never handed over, or was lost by the broker, and takes back intents
whose worker died.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dunning.core.domain.model import IntentState
from dunning.core.store.base import StoreBase
from dunning.core.store.bulk import insert_rows
from dunning.core.store.schema import attempts, audit, callbacks, intents

__all__ = ["PENDING_STATES", "OutboxMixin"]

#: States in which an intent has not been sent and may still be withdrawn.
PENDING_STATES = (IntentState.PLANNED, IntentState.ENQUEUED)


class OutboxMixin(StoreBase):
    """Operations on intents, attempts and the audit trail."""

    def _insert_ignore(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    # ------------------------------------------------------------ loans in one message

    def joined_to(self, conn: Connection, owner_id: str) -> list[tuple[str, str]]:
        """(intent_id, case_id) of the loans waiting to go in ``owner_id``'s message."""
        query = select(intents.c.intent_id, intents.c.case_id).where(
            intents.c.message_id == owner_id,
            intents.c.intent_id != owner_id,
            intents.c.state.in_(PENDING_STATES),
        )
        return [(row.intent_id, row.case_id) for row in conn.execute(query.order_by(intents.c.intent_id))]

    def release_joined(self, conn: Connection, intent_ids: Iterable[str], now: datetime) -> None:
        """Each loan that waited to join a message goes on its own instead, now."""
        for intent_id in intent_ids:
            conn.execute(
                update(intents)
                .where(intents.c.intent_id == intent_id, intents.c.state.in_(PENDING_STATES))
                .values(message_id=intent_id, state=IntentState.PLANNED, not_before=now, updated_at=now)
            )

    def settle_joined(
        self, conn: Connection, intent_ids: Sequence[str], values: dict[str, Any], now: datetime
    ) -> None:
        """The joined loans still being sent take the outcome ``values`` of their message."""
        conn.execute(
            update(intents)
            .where(and_(intents.c.intent_id.in_(intent_ids), intents.c.state == IntentState.SENDING))
            .values(**values, updated_at=now)
        )

    def plan_intents(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Insert planned intents; return the ids that were new (a re-plan is ignored).

        On PostgreSQL the insert itself says which rows were new, even with two
        schedulers planning the same intent at once; on SQLite, whose writers
        take turns, the ids already planned are looked up first.
        """
        if not rows:
            return []
        if self.dialect == "postgresql":
            return insert_rows(conn, intents, rows, ignore_on="intent_id")
        ids = [row["intent_id"] for row in rows]
        known: set[str] = set()
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ", ".join("?" for _ in chunk)
            query = f"SELECT intent_id FROM intents WHERE intent_id IN ({marks})"
            known.update(found for (found,) in conn.exec_driver_sql(query, tuple(chunk)))
        return insert_rows(
            conn, intents, [row for row in rows if row["intent_id"] not in known], ignore_on="intent_id"
        )

    def mark_enqueued(self, conn: Connection, ids: Sequence[str], now: datetime) -> None:
        if ids:
            conn.execute(
                update(intents)
                .where(intents.c.intent_id.in_(ids), intents.c.state.in_(PENDING_STATES))
                .values(state=IntentState.ENQUEUED, enqueued_at=now, updated_at=now)
            )

    def intent(self, conn: Connection, intent_id: str, *, lock: bool = False) -> Row[Any] | None:
        query = select(intents).where(intents.c.intent_id == intent_id)
        if lock and self.dialect == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).first()

    def intent_by_provider_id(self, conn: Connection, provider_id: str) -> Row[Any] | None:
        return conn.execute(select(intents).where(intents.c.provider_id == provider_id)).first()

    def update_intent(self, conn: Connection, intent_id: str, now: datetime, **values: Any) -> None:
        conn.execute(update(intents).where(intents.c.intent_id == intent_id).values(updated_at=now, **values))

    def to_hand_over(
        self, conn: Connection, now: datetime, stale: timedelta, limit: int = 1000
    ) -> list[tuple[str, str, str]]:
        """(intent_id, channel, case_id) of intents due to go to the broker: never handed over, or lost."""
        query = (
            select(intents.c.intent_id, intents.c.channel, intents.c.case_id)
            .where(
                or_(
                    and_(intents.c.state == IntentState.PLANNED, intents.c.not_before <= now),
                    and_(intents.c.state == IntentState.ENQUEUED, intents.c.enqueued_at <= now - stale),
                ),
                # A loan that joined another's message is delivered with it, never on its own.
                or_(intents.c.message_id.is_(None), intents.c.message_id == intents.c.intent_id),
            )
            .order_by(intents.c.not_before)
            .limit(limit)
        )
        return [(row.intent_id, row.channel, row.case_id) for row in conn.execute(query)]

    def expire_leases(self, conn: Connection, now: datetime) -> tuple[list[str], list[str]]:
        """Take back intents whose worker died: (requeued, ambiguous) ids.

        Before the provider call started, a retry is safe. After it, the message
        may have left: it becomes ``unknown`` and is reconciled, never resent blindly.
        """
        expired = list(
            conn.execute(
                select(intents.c.intent_id, intents.c.call_started_at).where(
                    intents.c.state == IntentState.SENDING, intents.c.lease_until < now
                )
            )
        )
        safe = [r.intent_id for r in expired if r.call_started_at is None]
        unsure = [r.intent_id for r in expired if r.call_started_at is not None]
        if safe:
            conn.execute(
                update(intents)
                .where(intents.c.intent_id.in_(safe), intents.c.state == IntentState.SENDING)
                .values(state=IntentState.PLANNED, lease_until=None, lease_owner=None, updated_at=now)
            )
        if unsure:
            conn.execute(
                update(intents)
                .where(intents.c.intent_id.in_(unsure), intents.c.state == IntentState.SENDING)
                .values(
                    state=IntentState.UNKNOWN,
                    reason="worker_lost_during_call",
                    lease_until=None,
                    completed_at=now,
                    updated_at=now,
                )
            )
        return safe, unsure

    def to_reconcile(
        self, conn: Connection, before: datetime, channels: Sequence[str], limit: int = 200
    ) -> list[Row[Any]]:
        """Ambiguous intents, untouched since ``before``, on channels that can reconcile."""
        if not channels:
            return []
        return list(
            conn.execute(
                select(intents)
                .where(
                    intents.c.state == IntentState.UNKNOWN,
                    intents.c.updated_at <= before,
                    intents.c.channel.in_(list(channels)),
                )
                .order_by(intents.c.updated_at)
                .limit(limit)
            )
        )

    def is_latest_of_case(self, conn: Connection, row: Row[Any]) -> bool:
        later = conn.execute(
            select(intents.c.intent_id)
            .where(intents.c.case_id == row.case_id, intents.c.seq > row.seq)
            .limit(1)
        ).first()
        return later is None

    def pending_intents(self, conn: Connection, case_ids: Iterable[str]) -> list[Row[Any]]:
        return list(
            conn.execute(
                select(intents).where(
                    intents.c.case_id.in_(list(case_ids)), intents.c.state.in_(PENDING_STATES)
                )
            )
        )

    def cancel_intents(self, conn: Connection, ids: Sequence[str], reason: str, now: datetime) -> list[str]:
        """Withdraw intents that have not been sent; return those actually withdrawn."""
        if not ids:
            return []
        return self.cancel_where(conn, intents.c.intent_id.in_(list(ids)), reason=reason, now=now)

    def cancel_where(self, conn: Connection, *where: Any, reason: str, now: datetime) -> list[str]:
        """Withdraw the unsent intents matching ``where`` in one statement; return their ids."""
        statement = (
            update(intents)
            .where(*where, intents.c.state.in_(PENDING_STATES))
            .values(state=IntentState.CANCELLED, reason=reason, completed_at=now, updated_at=now)
            .returning(intents.c.intent_id, intents.c.case_id, intents.c.channel, intents.c.step)
        )
        withdrawn = list(conn.execute(statement))
        self.add_audit(
            conn,
            [
                {
                    "at": now,
                    "case_id": row.case_id,
                    "kind": "intent",
                    "action": "cancel",
                    "channel": row.channel,
                    "step": row.step,
                    "rule": reason,
                    "intent_id": row.intent_id,
                }
                for row in withdrawn
            ],
        )
        return [row.intent_id for row in withdrawn]

    def add_attempt(self, conn: Connection, **values: Any) -> None:
        conn.execute(insert(attempts).values(**values))

    def note_callback(
        self, conn: Connection, key: str, *, intent_id: str, case_id: str, at: datetime
    ) -> bool:
        """Remember a provider callback by its natural key; False if it was applied before."""
        # RETURNING, not rowcount: psycopg reports no row count for an INSERT ... ON CONFLICT.
        statement = self._insert_ignore(callbacks).values(
            key=key, intent_id=intent_id, case_id=case_id, at=at
        )
        return conn.execute(statement.returning(callbacks.c.key)).first() is not None

    def audit_of(self, conn: Connection, case_id: str) -> list[Row[Any]]:
        """A case's audit trail, oldest first."""
        return list(
            conn.execute(select(audit).where(audit.c.case_id == case_id).order_by(audit.c.at, audit.c.id))
        )

    def add_audit(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to the audit trail (a row without a detail has none)."""
        if rows:
            insert_rows(conn, audit, rows)
