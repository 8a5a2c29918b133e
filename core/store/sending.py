"""A reminder's usual delivery on PostgreSQL, in five round trips straight to the driver.

Most deliveries go as planned: take the intent with its case and the
person's history, lease it, send, record it sent. Through SQLAlchemy Core
that is a dozen statements at about a quarter of a millisecond of Python
each, on top of their round trips. Here the statements of each step go
together, as one simple query each (psycopg's client-side binding, with the
same conversions SQLAlchemy applies to each column): the case gate's lock
with the intent locked for update; the case with the debtor's reminders; the
person's events; the lease with its commit; and, after the provider's
answer, the record — one data-modifying statement for the intent, its
attempt, its audit row and the case's next check — with its commit and the
gate's release. Anything unusual — a loan joining the message, a re-check
that says not now, a template that does not render, a provider's error — is
left to the store's ordinary methods.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Connection, Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect

from dunning.core.domain.model import Case, History, IntentState
from dunning.core.store.bulk import result_value
from dunning.core.store.cases import LIVE, PROFILE, case_from_mapping
from dunning.core.store.gate import gate_key
from dunning.core.store.history import ON_CONTACT_POINT, addresses_of, assemble_histories
from dunning.core.store.schema import cases, debtors, events, intents

__all__ = ["SendPath", "Session", "Taken"]

_TAKEABLE = (str(IntentState.PLANNED), str(IntentState.ENQUEUED))


class _Row:
    """An intent's columns as attributes, like the rows of the store's ordinary reads."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


@dataclass
class Session:
    """One delivery's driver connection, its cursor, and the case's gate."""

    raw: psycopg.Connection[Any]
    cursor: psycopg.ClientCursor[tuple[Any, ...]]
    key: int
    #: the gate is held (shared) by this session
    held: bool = False


@dataclass(frozen=True)
class Taken:
    """An intent taken for sending: locked, with its case and its person's history."""

    intent: Any
    case: Case
    history: History


def _readers(table: Table, dialect: Dialect) -> list[tuple[str, Callable[[Any], Any]]]:
    """The conversion of each column that needs one, as the store's other driver reads make it."""
    return [
        (c.name, process) for c in table.columns if (process := result_value(c.type, dialect)) is not None
    ]


def _convert(row: dict[str, Any], readers: list[tuple[str, Callable[[Any], Any]]]) -> dict[str, Any]:
    for name, process in readers:
        if name in row:
            row[name] = process(row[name])
    return row


def _columns(table: Table) -> str:
    return ", ".join(f"{table.name}.{column.name}" for column in table.columns)


class SendPath:
    """The statements of a usual delivery, for one PostgreSQL store."""

    def __init__(self, dialect: Dialect) -> None:
        self._intent_readers = _readers(intents, dialect)
        self._case_readers = _readers(cases, dialect) + _readers(debtors, dialect)
        self._event_readers = _readers(events, dialect)
        profile = ", ".join(f"debtors.{name}" for name in (*PROFILE, "strategy"))
        self._intent_names = [column.name for column in intents.columns]
        self._case_names = [column.name for column in cases.columns] + [*PROFILE, "strategy"]
        self._event_names = [column.name for column in events.columns]
        self._unlock = "SELECT pg_advisory_unlock_shared(%s)"
        self._take_intent = (
            "BEGIN; SELECT pg_advisory_lock_shared(%s);"
            f" SELECT {_columns(intents)} FROM intents WHERE intent_id = %s FOR UPDATE"
        )
        self._case_and_intents = (
            f"SELECT {_columns(cases)}, {profile} FROM cases"
            " LEFT OUTER JOIN debtors ON debtors.debtor_id = cases.debtor_id WHERE cases.case_id = %s;"
            f" SELECT {_columns(intents)} FROM intents WHERE intents.debtor_id = %s"
        )
        self._events = (
            f"SELECT {_columns(events)} FROM events"
            " WHERE events.debtor_id = %(debtor)s"
            " OR (events.address = ANY(%(addresses)s) AND events.kind = ANY(%(rights)s))"
            " ORDER BY events.at, events.id"
        )
        self._rights = sorted(str(kind) for kind in ON_CONTACT_POINT)
        self._live = list(LIVE)

    # ------------------------------------------------------------ the gate

    @contextlib.contextmanager
    def session(self, conn: Connection, case_id: str) -> Iterator[Session]:
        """The driver connection of ``conn``, the case's gate released (shared) when done.

        The lock itself is taken by :meth:`take` and normally let go by
        :meth:`sent`, in their first and last round trips; whatever happens
        in between, the gate is let go here, or the connection is thrown away
        (closing the session releases its locks).
        """
        raw: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
        session = Session(raw, psycopg.ClientCursor(raw), gate_key(case_id))
        try:
            yield session
        finally:
            try:
                if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    raw.execute("ROLLBACK")
                if session.held:
                    raw.autocommit = True
                    raw.execute(self._unlock, (session.key,))
                    session.held = False
                raw.autocommit = False
            except Exception:
                conn.invalidate()
                raise

    # ------------------------------------------------------------ the take

    def take(
        self,
        session: Session,
        intent_id: str,
        case_id: str,
        settling: Collection[str],
        combine: bool,
    ) -> Taken | None:
        """Lock the gate and the intent and read what its re-check needs; None to take the usual way.

        Three round trips: the gate and the intent (locked for update), then
        the case with its debtor's reminders, then the person's events. None
        (the transaction rolled back) when the intent is not to be sent as
        planned by this path: already taken or done, of another case or
        debtor, its case gone, or other loans waiting to join its message.
        """
        raw, cur = session.raw, session.cursor
        with _translated():
            raw.autocommit = True  # each round trip says BEGIN and COMMIT itself
            cur.execute(self._take_intent, (session.key, intent_id))
            session.held = True
            found = _rows(cur, ["locked"], self._intent_names)[-1]
            row = found[0] if found else None
            if row is None or row["state"] not in _TAKEABLE or row["case_id"] != case_id:
                self.abandon(session)
                return None
            cur.execute(self._case_and_intents, (case_id, row["debtor_id"]))
            case_rows, intent_rows = _rows(cur, self._case_names, self._intent_names)
            if not case_rows or case_rows[0]["debtor_id"] != row["debtor_id"]:
                self.abandon(session)
                return None
            found_case = _convert(case_rows[0], self._case_readers)
            case = case_from_mapping(
                found_case, {k: found_case[k] for k in PROFILE if found_case[k] is not None}
            )
            if combine and any(
                r["message_id"] == intent_id and r["intent_id"] != intent_id and r["state"] in _TAKEABLE
                for r in intent_rows
            ):
                self.abandon(session)
                return None
            cur.execute(
                self._events,
                {"debtor": case.debtor_id, "addresses": addresses_of(case), "rights": self._rights},
            )
            event_rows = [_convert(r, self._event_readers) for r in _rows(cur, self._event_names)[-1]]
            intent_rows = [_convert(r, self._intent_readers) for r in intent_rows]
            history = assemble_histories([case], event_rows, intent_rows, settling)[case_id]
            return Taken(_Row(_convert(row, self._intent_readers)), case, history)

    def lease(self, session: Session, intent_id: str, now: datetime, values: Mapping[str, Any]) -> None:
        """Write the lease and commit, in one round trip: the intent is being sent."""
        names = sorted(values)
        assignments = ", ".join(f"{name} = %({name})s" for name in names)
        with _translated():
            session.cursor.execute(
                f"UPDATE intents SET {assignments}, updated_at = %(now)s WHERE intent_id = %(intent_id)s;"
                " COMMIT",
                {**{name: values[name] for name in names}, "now": now, "intent_id": intent_id},
            )
            session.raw.autocommit = False

    def abandon(self, session: Session) -> None:
        """Give up the take: nothing of it was written (the gate stays held until the session ends)."""
        with _translated():
            session.raw.execute("ROLLBACK")
            session.raw.autocommit = False

    # ------------------------------------------------------------ the record

    def sent(
        self,
        session: Session,
        intent: Any,
        done: datetime,
        provider_id: str | None,
        segments: int | None,
    ) -> None:
        """Record the send, its attempt, its audit row and the case's next check, and let the gate go.

        One round trip, committed without waiting for the disk: should the
        database lose this commit in a crash, the intent is still leased with
        its call's start recorded (the lease's commit did wait), and settles
        as any send cut off mid-way does — reconciled with the provider where
        it can be asked, counted as unknown where not — never sent again.
        """
        params = {
            "intent_id": intent.intent_id,
            "case_id": intent.case_id,
            "channel": intent.channel,
            "step": intent.step,
            "done": done,
            "state": str(IntentState.SENT),
            "provider_id": provider_id,
            "segments": segments,
            "detail": Json({"provider_id": provider_id}),
            "live": self._live,
            "key": session.key,
        }
        with _translated():
            session.raw.autocommit = True
            try:
                session.cursor.execute(_RECORD_SENT, params)
                session.held = False
            finally:
                if session.raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                    session.raw.autocommit = False


def _rows(cur: psycopg.ClientCursor[tuple[Any, ...]], *names: list[str]) -> list[list[dict[str, Any]]]:
    """The rows of each statement of the last execute that returned rows, by the column ``names`` of each.

    Rows come as tuples and are named here: psycopg's own naming would describe
    every column of every result anew.
    """
    out: list[list[dict[str, Any]]] = []
    while True:
        result = cur.pgresult
        if result is not None and result.status == psycopg.pq.ExecStatus.TUPLES_OK:
            columns = names[len(out)]
            out.append([dict(zip(columns, row, strict=True)) for row in cur.fetchall()])
        if not cur.nextset():
            return out


#: The intent sent, its attempt, its audit row and the case woken, as
#: Store.update_intent, add_attempt, add_audit and wake_case write them.
_RECORD_SENT = """
BEGIN;
SET LOCAL synchronous_commit TO OFF;
WITH sent AS (
    UPDATE intents SET state = %(state)s, provider_id = %(provider_id)s, contact_at = %(done)s,
        completed_at = %(done)s, lease_until = NULL, segments = %(segments)s, updated_at = %(done)s
    WHERE intent_id = %(intent_id)s
    RETURNING intent_id
), attempt AS (
    INSERT INTO attempts (intent_id, case_id, channel, at, outcome, provider_id)
    VALUES (%(intent_id)s, %(case_id)s, %(channel)s, %(done)s, 'sent', %(provider_id)s)
), trail AS (
    INSERT INTO audit (at, case_id, kind, action, channel, step, rule, intent_id, detail)
    VALUES (%(done)s, %(case_id)s, 'intent', 'sent', %(channel)s, %(step)s, NULL, %(intent_id)s, %(detail)s)
)
UPDATE cases SET
    next_check_at = CASE WHEN next_check_at IS NULL OR next_check_at > %(done)s
        THEN %(done)s ELSE next_check_at END,
    updated_at = %(done)s
WHERE case_id = %(case_id)s AND status = ANY(%(live)s);
COMMIT;
SELECT pg_advisory_unlock_shared(%(key)s)
"""


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """The driver's errors as SQLAlchemy's, so callers tell an outage from a bad row the same way."""
    try:
        yield
    except psycopg.Error as exc:
        lost = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        raise sa_exc.DBAPIError.instance(None, None, exc, psycopg.Error, connection_invalidated=lost) from exc
