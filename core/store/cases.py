"""Cases in the store: upsert by ``case_id``, load, and find the ones that are due."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, or_, select, tuple_, update
from sqlalchemy import case as sql_case

from dunning.core.domain.model import Case
from dunning.core.store.base import StoreBase
from dunning.core.store.bulk import fetch, pg_array_type, result_value, sqlite_time
from dunning.core.store.schema import cases, debtors

__all__ = [
    "LIVE",
    "PROFILE",
    "CaseContact",
    "CasesMixin",
    "DueCase",
    "UpsertResult",
    "case_from_mapping",
    "case_from_row",
    "case_values",
    "merged_attributes",
    "partition_of",
]

#: Scheduler partitions are taken modulo this many hash slots.
SLOTS = 4096
#: Case statuses the scheduler still looks at (a stopped ladder reopens on a reply).
LIVE = ("open", "held", "stopped")
#: Rows per statement when upserting or loading many cases.
CHUNK = 500
_PROFILE = ("previous_cures", "broken_promises", "kept_promises", "days_to_pay_last")
#: The debtor's profile columns a case is loaded with.
PROFILE = _PROFILE
#: What a case is loaded with from its debtor's row: the profile and the strategy.
_DEBTOR_COLUMNS = (*[debtors.c[k] for k in _PROFILE], debtors.c.strategy)


def partition_of(debtor_id: str) -> int:
    """A stable slot for a debtor's cases, so that schedulers can share a portfolio.

    By debtor, not by case: all of a person's loans are decided by one scheduler,
    which sees each of them when it weighs the caps that protect that person.
    """
    return int.from_bytes(hashlib.blake2b(debtor_id.encode(), digest_size=4).digest(), "big") % SLOTS


@dataclass(frozen=True)
class CaseContact:
    """A case's person, zone and contact points, as a timeline needs them."""

    debtor_id: str
    timezone: str | None
    phone: str | None
    push_token: str | None


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.inserted += other.inserted
        self.updated += other.updated
        return self


def case_values(case: Case) -> dict[str, Any]:
    """The columns of a cases row that come from the case itself (its attributes are merged apart)."""
    return {
        "debtor_id": case.debtor_id,
        "partition": partition_of(case.debtor_id),
        "name": case.name,
        "phone": case.phone,
        "push_token": case.push_token,
        "locale": case.locale,
        "timezone": case.timezone,
        "account": case.account,
        "currency": case.currency,
        "due_date": case.due_date,
        "payment_url": case.payment_url,
        "contact": case.contact,
        "tags": list(case.tags),
        "contacts": dict(case.contacts),
        "deadline": case.deadline,
    }


def merged_attributes(stored: Mapping[str, Any] | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """The stored attributes with those a row carries replaced (a row's none clears one)."""
    merged = {**(stored or {}), **given}
    return {name: value for name, value in merged.items() if value is not None}


def case_from_row(row: Row[Any] | Any, profile: dict[str, Any] | None = None) -> Case:
    """A case from its row; the debtor's strategy comes along when the query joined it."""
    return case_from_mapping(row._mapping, profile)


def case_from_mapping(m: Mapping[Any, Any], profile: dict[str, Any] | None = None) -> Case:
    """:func:`case_from_row` from columns by name (a driver's dict row)."""
    return Case(
        case_id=m["case_id"],
        debtor_id=m["debtor_id"],
        name=m["name"],
        account=m["account"],
        amount_due=m["amount_due"],
        currency=m["currency"],
        due_date=m["due_date"],
        locale=m["locale"],
        phone=m["phone"],
        push_token=m["push_token"],
        timezone=m["timezone"],
        payment_url=m["payment_url"],
        contact=m["contact"],
        tags=tuple(m["tags"] or ()),
        contacts=dict(m["contacts"] or {}),
        profile=profile or {},
        amount_as_of=m["amount_as_of"],
        deadline=m["deadline"],
        attributes=dict(m["attributes"] or {}),
        strategy=m.get("strategy"),
    )


@dataclass(frozen=True)
class DueCase:
    """A case the scheduler is to decide, with the version it was read at."""

    case: Case
    status: str
    updated_at: datetime
    next_check_at: datetime
    promise_until: datetime | None = None
    #: when it was parked for a failure; None when it is not quarantined
    quarantined_at: datetime | None = None


def _due(query: Any, now: datetime, partitions: tuple[int, int], after: tuple[datetime, str] | None) -> Any:
    """Restrict ``query`` to live cases due at ``now`` on this partition, after ``after``, in order."""
    count, index = partitions
    query = query.where(cases.c.status.in_(LIVE), cases.c.next_check_at <= now)
    if count > 1:
        query = query.where(cases.c.partition % count == index)
    if after is not None:
        # A row-value comparison, which both databases answer from the index in order.
        query = query.where(tuple_(cases.c.next_check_at, cases.c.case_id) > tuple_(after[0], after[1]))
    return query.order_by(cases.c.next_check_at, cases.c.case_id)


class CasesMixin(StoreBase):
    """Operations on cases and debtors."""

    def upsert_cases(self, conn: Connection, batch: Sequence[Case], now: datetime) -> UpsertResult:
        """Insert new cases and update known ones; a changed amount restarts the payment count."""
        result = UpsertResult()
        for start in range(0, len(batch), CHUNK):
            result += self._upsert_chunk(conn, batch[start : start + CHUNK], now)
        return result

    def _upsert_chunk(self, conn: Connection, chunk: Sequence[Case], now: datetime) -> UpsertResult:
        latest = {case.case_id: case for case in chunk}  # a file may name a case twice: last wins
        known = {
            row.case_id: row
            for row in conn.execute(
                select(cases.c.case_id, cases.c.amount_due, cases.c.status, cases.c.attributes).where(
                    cases.c.case_id.in_(list(latest))
                )
            )
        }
        fresh = [c for c in latest.values() if c.case_id not in known]
        if fresh:
            conn.execute(
                cases.insert(),
                [
                    {
                        "case_id": c.case_id,
                        **case_values(c),
                        "attributes": merged_attributes(None, c.attributes),
                        "amount_due": c.amount_due,
                        "original_amount": c.amount_due,
                        "amount_as_of": now,
                        "status": "open",
                        "next_check_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in fresh
                ],
            )
        for case_id, row in known.items():
            case = latest[case_id]
            values = {**case_values(case), "updated_at": now}
            if case.attributes:
                values["attributes"] = merged_attributes(row.attributes, case.attributes)
            if case.amount_due != row.amount_due:
                values.update(amount_due=case.amount_due, amount_as_of=now)
                if row.status == "paid" and case.amount_due > 0:
                    values.update(status="open", closed_at=None)
            if values.get("status", row.status) in LIVE:
                values["next_check_at"] = now  # new contact details may change the next move
            conn.execute(update(cases).where(cases.c.case_id == case_id).values(**values))
        self._upsert_debtors(conn, list(latest.values()), now)
        self.upsert_contact_points(conn, list(latest.values()), now)  # type: ignore[attr-defined]
        return UpsertResult(inserted=len(fresh), updated=len(known))

    def _upsert_debtors(self, conn: Connection, chunk: Sequence[Case], now: datetime) -> None:
        ids = {c.debtor_id for c in chunk}
        known = set(conn.scalars(select(debtors.c.debtor_id).where(debtors.c.debtor_id.in_(ids))))
        new_rows: dict[str, dict[str, Any]] = {}
        for case in chunk:
            profile = {k: case.profile[k] for k in _PROFILE if k in case.profile}
            if case.debtor_id in known:
                if profile:
                    conn.execute(
                        update(debtors)
                        .where(debtors.c.debtor_id == case.debtor_id)
                        .values(**profile, updated_at=now)
                    )
            else:
                row = new_rows.setdefault(
                    case.debtor_id,
                    {"debtor_id": case.debtor_id, **dict.fromkeys(_PROFILE[:3], 0), "days_to_pay_last": None},
                )
                row.update(profile, updated_at=now)
        if new_rows:
            conn.execute(debtors.insert(), list(new_rows.values()))

    def load_cases(self, conn: Connection, case_ids: Iterable[str]) -> dict[str, tuple[Case, str]]:
        """Cases by id, each with its status, profile included."""
        ids = list(case_ids)
        out: dict[str, tuple[Case, str]] = {}
        for start in range(0, len(ids), CHUNK):
            query = (
                select(cases, *_DEBTOR_COLUMNS)
                .select_from(cases.outerjoin(debtors, debtors.c.debtor_id == cases.c.debtor_id))
                .where(cases.c.case_id.in_(ids[start : start + CHUNK]))
            )
            for row in conn.execute(query):
                profile = {k: row._mapping[k] for k in _PROFILE if row._mapping[k] is not None}
                out[row.case_id] = (case_from_row(row, profile), row.status)
        return out

    def case_contact(self, conn: Connection, case_id: str) -> CaseContact | None:
        """Whom a case reaches and where they live; None if there is no such case."""
        row = conn.execute(
            select(cases.c.debtor_id, cases.c.timezone, cases.c.phone, cases.c.push_token).where(
                cases.c.case_id == case_id
            )
        ).first()
        return None if row is None else CaseContact(**row._mapping)

    def due_cases(
        self,
        conn: Connection,
        now: datetime,
        limit: int,
        partitions: tuple[int, int] = (1, 0),
        after: tuple[datetime, str] | None = None,
    ) -> list[DueCase]:
        """The next page of due cases, loaded whole (one query), oldest check first.

        Read through the driver, with only the columns a decision needs, each
        value converted once by its column's own rule.
        """
        statement, params = _due_statement(self.dialect, now, limit, partitions, after)
        found = fetch(conn, statement, params)
        convert = _due_converters(conn.dialect)
        out = []
        for values in found:
            m = dict(zip(_DUE_NAMES, values, strict=True))
            for name, process in convert:
                m[name] = process(m[name])
            profile = {k: m[k] for k in _PROFILE if m[k] is not None}
            case = case_from_mapping(m, profile)
            out.append(
                DueCase(
                    case,
                    m["status"],
                    m["updated_at"],
                    m["next_check_at"],
                    m["promise_until"],
                    m["quarantined_at"],
                )
            )
        return out

    def due_case_ids(
        self,
        conn: Connection,
        now: datetime,
        limit: int,
        partitions: tuple[int, int] = (1, 0),
        after: tuple[datetime, str] | None = None,
    ) -> list[tuple[datetime, str]]:
        """Live cases whose next check is due, oldest first, as (next_check_at, case_id).

        ``partitions`` is (count, index): this scheduler takes the slots with
        ``slot % count == index``. ``after`` continues a previous page.
        """
        query = _due(select(cases.c.next_check_at, cases.c.case_id), now, partitions, after).limit(limit)
        return [(row.next_check_at, row.case_id) for row in conn.execute(query)]

    def set_case_state(
        self, conn: Connection, rows: Sequence[dict[str, Any]], versions: Mapping[str, datetime] | None = None
    ) -> set[str]:
        """Write back each decided case's status, segment, ladder, next check and hold reason (one statement).

        With ``versions`` (the ``updated_at`` each case was read at), a case changed
        since — by a payment, a re-import — is left alone; returns the cases written.
        """
        if not rows:
            return set()
        values = [_state_values(row, versions) for row in rows]
        if self.dialect == "postgresql":
            return _pg_set_states(conn, values, versions is not None)
        return _sqlite_set_states(conn, values, versions is not None, rows)

    def record_strategies(self, conn: Connection, assigned: Mapping[str, str], now: datetime) -> None:
        """Record each debtor's strategy (debtor id -> name); a debtor keeps it from then on."""
        if not assigned:
            return
        conn.execute(
            update(debtors)
            .where(debtors.c.debtor_id == bindparam("b_debtor_id"))
            .values(strategy=bindparam("b_strategy"), updated_at=now),
            [{"b_debtor_id": debtor, "b_strategy": name} for debtor, name in sorted(assigned.items())],
        )

    def wake_case(self, conn: Connection, case_id: str, at: datetime) -> None:
        """Have the scheduler look at a live case again at ``at`` (or sooner).

        The case's version changes too, so a tick that read it before this
        wake leaves it alone rather than write back a later check over it.
        """
        sooner = or_(cases.c.next_check_at.is_(None), cases.c.next_check_at > at)
        conn.execute(
            update(cases)
            .where(cases.c.case_id == case_id, cases.c.status.in_(LIVE))
            .values(
                next_check_at=sql_case((sooner, at), else_=cases.c.next_check_at),
                updated_at=at,
            )
        )


#: The columns of a case the tick writes back, in the order the statements below take them.
_STATE = (
    "case_id", "version", "status", "segment", "ladder", "next_check_at", "updated_at",
    "closed_at", "hold_reason", "held_since",
)  # fmt: skip
#: A case whose status is one of these is closed as of the write.
_CLOSING = ("paid", "stopped", "closed")
_SET_STATE = """
    status = {v}status, segment = {v}segment, ladder = {v}ladder, next_check_at = {v}next_check_at,
    updated_at = {v}updated_at, closed_at = {v}closed_at, hold_reason = {v}hold_reason,
    held_since = CASE WHEN cases.hold_reason = {v}hold_reason THEN cases.held_since
                      ELSE {v}held_since END
"""  # Held for the same reason as before: since the first time; else since now (or never).


def _state_values(row: Mapping[str, Any], versions: Mapping[str, datetime] | None) -> dict[str, Any]:
    stamp = row["updated_at"]
    reason = row.get("hold_reason")
    return {
        "case_id": row["case_id"],
        "version": versions.get(row["case_id"]) if versions is not None else None,
        "status": row["status"],
        "segment": row["segment"],
        "ladder": row["ladder"],
        "next_check_at": row["next_check_at"],
        "updated_at": stamp,
        "closed_at": stamp if row["status"] in _CLOSING else None,
        "hold_reason": reason,
        "held_since": stamp if reason else None,
    }


def _pg_set_states(conn: Connection, values: Sequence[dict[str, Any]], versioned: bool) -> set[str]:
    """One ``UPDATE ... FROM unnest(...)``; ``RETURNING`` names the cases it wrote."""
    types = {"version": cases.c.updated_at.type, "held_since": cases.c.held_since.type}
    arrays = ", ".join(f"%b::{pg_array_type(conn, types.get(k) or cases.c[k].type)}" for k in _STATE)
    where = "cases.case_id = v.case_id" + (" AND cases.updated_at = v.version" if versioned else "")
    statement = (
        f"UPDATE cases SET {_SET_STATE.format(v='v.')} FROM unnest({arrays}) AS v({', '.join(_STATE)}) "
        f"WHERE {where} RETURNING cases.case_id"
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor(binary=True) as cursor:
        cursor.execute(statement, [[row[k] for row in values] for k in _STATE])
        return {found[0] for found in cursor.fetchall()}


def _sqlite_set_states(
    conn: Connection, values: Sequence[dict[str, Any]], versioned: bool, rows: Sequence[Mapping[str, Any]]
) -> set[str]:
    """One ``executemany``; when it wrote fewer rows than given, read back which carry this write's stamp."""
    statement = f"UPDATE cases SET {_SET_STATE.format(v=':')} WHERE case_id = :case_id"
    if versioned:
        statement += " AND updated_at = :version"
    times = ("version", "next_check_at", "updated_at", "closed_at", "held_since")
    params = [{**row, **{k: sqlite_time(row[k]) for k in times}} for row in values]
    raw = conn.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(statement, params)
        count = cursor.rowcount
    finally:
        cursor.close()
    ids = {row["case_id"] for row in rows}
    if not versioned or count == len(rows):
        return ids
    # Some case changed meanwhile: only those now carrying this write's stamp were written.
    stamp = {row["case_id"]: row["updated_at"] for row in rows}
    written = set()
    listed = list(ids)
    for start in range(0, len(listed), CHUNK):
        chunk = listed[start : start + CHUNK]
        for case_id, updated_at in conn.execute(
            select(cases.c.case_id, cases.c.updated_at).where(cases.c.case_id.in_(chunk))
        ):
            if updated_at == stamp[case_id]:
                written.add(case_id)
    return written


#: The columns of a due case the scheduler reads: the case, its version and holds, its debtor's profile.
_DUE_CASE = (
    "case_id", "debtor_id", "name", "account", "amount_due", "currency", "due_date", "locale",
    "phone", "push_token", "timezone", "payment_url", "contact", "tags", "contacts", "amount_as_of",
    "deadline", "attributes", "status", "updated_at", "next_check_at", "promise_until", "quarantined_at",
)  # fmt: skip
_DUE_NAMES = (*_DUE_CASE, *_PROFILE, "strategy")


def _due_statement(
    dialect: str, now: datetime, limit: int, partitions: tuple[int, int], after: tuple[datetime, str] | None
) -> tuple[str, dict[str, Any]]:
    """The due-case query in the driver's own terms, as :func:`_due` builds it for SQLAlchemy."""

    def mark(name: str) -> str:
        return f"%({name})s" if dialect == "postgresql" else f":{name}"

    def time(t: datetime) -> Any:
        return t if dialect == "postgresql" else sqlite_time(t)

    columns = ", ".join([*(f'c."{k}"' for k in _DUE_CASE), *(f'd."{k}"' for k in (*_PROFILE, "strategy"))])
    live = ", ".join(f"'{status}'" for status in LIVE)
    where = [f"c.status IN ({live})", f"c.next_check_at <= {mark('now')}"]
    params: dict[str, Any] = {"now": time(now), "limit": limit}
    count, index = partitions
    if count > 1:
        modulo = "%%" if dialect == "postgresql" else "%"
        where.append(f'c."partition" {modulo} {mark("count")} = {mark("index")}')
        params.update(count=count, index=index)
    if after is not None:
        # A row-value comparison, which both databases answer from the index in order.
        where.append(f"(c.next_check_at, c.case_id) > ({mark('after_at')}, {mark('after_id')})")
        params.update(after_at=time(after[0]), after_id=after[1])
    statement = (
        f"SELECT {columns} FROM cases AS c LEFT OUTER JOIN debtors AS d ON d.debtor_id = c.debtor_id "
        f"WHERE {' AND '.join(where)} ORDER BY c.next_check_at, c.case_id LIMIT {mark('limit')}"
    )
    return statement, params


def _due_converters(dialect: Any) -> list[tuple[str, Callable[[Any], Any]]]:
    """How each column of a due case comes back from the driver to Python, as SQLAlchemy would bring it."""
    found = [(name, result_value(cases.c[name].type, dialect)) for name in _DUE_CASE]
    return [(name, process) for name, process in found if process is not None]
