"""Reach, cures, cost and guardrails: the report's first queries, per group of reminders.

Each query returns rows keyed by the report's group columns (``strategy``,
``segment``, ``ladder``, ``step``, ``channel``, ``variant``, ``template``);
with no group columns it returns the one row of the whole store.
:mod:`dunning.core.reporting.reports` assembles them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    select,
)

from dunning.core.domain.model import EventKind, IntentState
from dunning.core.store.reports.columns import StoreColumns
from dunning.core.store.reports.dialect import plus_days
from dunning.core.store.schema import audit, cases, debtors, events, intents

__all__ = [
    "GROUP_COLUMNS",
    "SENT_STATES",
    "audit_counts",
    "case_counts",
    "contact_counts",
    "contacts",
    "contacts_per_debtor",
    "cost_counts",
    "cure_times",
    "cured_cases",
    "exposure",
    "intent_counts",
    "paid_cases",
    "paid_times",
    "portfolio_counts",
]

#: Group columns in display order; each is a column of intents (``strategy`` where the store has it).
GROUP_COLUMNS = ("strategy", "segment", "ladder", "step", "channel", "variant", "template")
#: Intent states that mean the reminder (may have) reached the debtor: sent, and billed.
SENT_STATES = (IntentState.SENT, IntentState.DELIVERED, IntentState.UNKNOWN)
#: Events that count as the debtor responding to a reminder.
RESPONSE_KINDS = (EventKind.REPLY, EventKind.ACK, EventKind.PROMISE)


def _keys(source: Any, by: Sequence[str]) -> list[ColumnElement[Any]]:
    return [source.c[name] for name in by]


def contacts(response_days: int, cols: StoreColumns) -> CTE:
    """Sent reminders, each with whether the debtor responded, opted out or disputed after it.

    An event answers a reminder when it comes after it and before the case's next
    reminder, and within ``response_days`` of it.
    """
    i = intents
    following = func.lead(i.c.contact_at).over(partition_by=i.c.case_id, order_by=(i.c.contact_at, i.c.seq))
    base = (
        select(
            *[cols.intent(name).label(name) for name in GROUP_COLUMNS],
            i.c.intent_id,
            i.c.case_id,
            i.c.debtor_id,
            i.c.state,
            i.c.segments,
            i.c.contact_at,
            following.label("next_at"),
        )
        .where(i.c.state.in_(SENT_STATES))
        .cte("sent_contacts")
    )
    capped = plus_days(base.c.contact_at, response_days)
    window_end = case(
        (and_(base.c.next_at.is_not(None), base.c.next_at < capped), base.c.next_at), else_=capped
    )

    def answered(kinds: Sequence[str]) -> ColumnElement[int]:
        e = events
        found = exists().where(
            e.c.case_id == base.c.case_id,
            e.c.kind.in_(list(kinds)),
            e.c.at > base.c.contact_at,
            e.c.at <= window_end,
        )
        return case((found, 1), else_=0)

    return select(
        base,
        answered(RESPONSE_KINDS).label("responded"),
        answered([EventKind.OPT_OUT]).label("opted_out"),
        answered([EventKind.DISPUTE]).label("disputed"),
    ).cte("contacts")


def cured_cases(sent: CTE, cure_days: int) -> CTE:
    """Cases paid in full within ``cure_days`` of their first reminder, with both moments."""
    first = (
        select(sent.c.case_id, func.min(sent.c.contact_at).label("first_at"))
        .group_by(sent.c.case_id)
        .cte("first_contact")
    )
    paid = paid_cases().cte("paid")
    return (
        select(first.c.case_id, first.c.first_at, paid.c.paid_at)
        .join(paid, paid.c.case_id == first.c.case_id)
        .where(paid.c.paid_at <= plus_days(first.c.first_at, cure_days))
        .cte("cured")
    )


def paid_cases() -> Select[Any]:
    """Each paid case and the moment of the payment that settled it.

    The settling payment is the latest one recorded by the time the case closed
    (a payment recorded after that settles nothing new).
    """
    return (
        select(cases.c.case_id, func.max(events.c.at).label("paid_at"))
        .join(events, events.c.case_id == cases.c.case_id)
        .where(
            cases.c.status == "paid",
            events.c.kind == EventKind.PAYMENT,
            events.c.recorded_at <= cases.c.closed_at,
        )
        .group_by(cases.c.case_id)
    )


def intent_counts(conn: Connection, by: Sequence[str], cols: StoreColumns) -> list[Row[Any]]:
    """Planned reminders per group, whatever became of them."""
    keys = [cols.intent(name) for name in by]
    labelled = [key.label(name) for key, name in zip(keys, by, strict=True)]
    query = select(*labelled, func.count().label("intents")).select_from(intents).group_by(*keys)
    return list(conn.execute(query))


def _is_cured(case_id: ColumnElement[Any], cured: CTE) -> ColumnElement[bool]:
    # IN (SELECT ...) rather than a join: SQLite indexes the subquery's result, but not a CTE it joins.
    return case_id.in_(select(cured.c.case_id))


def contact_counts(conn: Connection, by: Sequence[str], sent: CTE, cured: CTE) -> list[Row[Any]]:
    """Sent, delivered, answered, opted-out and disputed reminders per group; and those of cured cases."""
    keys = _keys(sent, by)
    query = (
        select(
            *keys,
            func.count().label("sent"),
            func.sum(case((sent.c.state == IntentState.DELIVERED, 1), else_=0)).label("delivered"),
            func.sum(sent.c.responded).label("responded"),
            func.sum(sent.c.opted_out).label("opted_out"),
            func.sum(sent.c.disputed).label("disputed"),
            func.sum(case((_is_cured(sent.c.case_id, cured), 1), else_=0)).label("cured_contacts"),
        )
        .select_from(sent)
        .group_by(*keys)
    )
    return list(conn.execute(query))


def exposure(by: Sequence[str], cols: StoreColumns, name: str = "exposure") -> CTE:
    """Each (group, case) with a sent reminder: a case is exposed to every group it was reminded in."""
    i = intents
    keys = [cols.intent(column).label(column) for column in by]
    return select(*keys, i.c.case_id).where(i.c.state.in_(SENT_STATES)).distinct().cte(name)


def case_counts(conn: Connection, by: Sequence[str], cured: CTE, cols: StoreColumns) -> list[Row[Any]]:
    """Cases reminded at least once in each group, and how many of them were cured."""
    exposed = exposure(by, cols)
    keys = _keys(exposed, by)
    query = (
        select(
            *keys,
            func.count().label("cases"),
            func.sum(case((_is_cured(exposed.c.case_id, cured), 1), else_=0)).label("cured"),
        )
        .select_from(exposed)
        .group_by(*keys)
    )
    return list(conn.execute(query))


def cure_times(conn: Connection, by: Sequence[str], cured: CTE, cols: StoreColumns) -> list[Row[Any]]:
    """(group..., first_at, paid_at) of every cured case in each group it was reminded in."""
    i = intents
    keys = [cols.intent(name) for name in by]
    labelled = [key.label(name) for key, name in zip(keys, by, strict=True)]
    query = (
        select(*labelled, cured.c.first_at, cured.c.paid_at)
        .select_from(cured.join(i, i.c.case_id == cured.c.case_id))
        .where(i.c.state.in_(SENT_STATES))
        .group_by(*keys, cured.c.case_id, cured.c.first_at, cured.c.paid_at)
    )
    return list(conn.execute(query))


def cost_counts(conn: Connection, by: Sequence[str], sent: CTE) -> list[Row[Any]]:
    """Sent reminders per group, channel and SMS segment count: what the money is computed from."""
    keys = _keys(sent, by)
    parts = func.coalesce(sent.c.segments, literal(1))
    query = (
        select(*keys, sent.c.channel.label("cost_channel"), parts.label("parts"), func.count().label("n"))
        .select_from(sent)
        .group_by(*keys, sent.c.channel, parts)
    )
    return list(conn.execute(query))


def audit_counts(conn: Connection, by: Sequence[str], cols: StoreColumns) -> list[Row[Any]]:
    """Deferrals and suppressions per group and rule, from the audit trail.

    A decision's row carries its segment and ladder in ``detail``; a send-time
    row names its intent, whose columns say the rest.
    """
    a, i = audit, intents
    detail = a.c.detail
    column: dict[str, ColumnElement[Any]] = {
        "strategy": func.coalesce(cols.intent_strategy, detail["strategy"].as_string()),
        "segment": func.coalesce(i.c.segment, detail["segment"].as_string()),
        "ladder": func.coalesce(i.c.ladder, detail["ladder"].as_string()),
        "step": func.coalesce(i.c.step, a.c.step),
        "channel": func.coalesce(i.c.channel, a.c.channel),
        "variant": func.coalesce(i.c.variant, detail["variant"].as_string()),
        "template": func.coalesce(i.c.template, detail["template"].as_string()),
    }
    keys = [column[name].label(name) for name in by]
    query = (
        select(*keys, a.c.action, a.c.rule, func.count().label("n"))
        .select_from(a.outerjoin(i, i.c.intent_id == a.c.intent_id))
        .where(a.c.kind.in_(("decision", "intent")), a.c.action.in_(("defer", "suppress")))
        .group_by(*[column[name] for name in by], a.c.action, a.c.rule)
    )
    return list(conn.execute(query))


def portfolio_counts(conn: Connection) -> tuple[int, int]:
    """(cases in the store, cases paid in full)."""
    row = conn.execute(
        select(func.count(), func.sum(case((cases.c.status == "paid", 1), else_=0))).select_from(cases)
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def paid_times(conn: Connection) -> list[Row[Any]]:
    """(case_id, created_at, paid_at) of every case paid in full, in payment order."""
    paid = paid_cases().cte("paid_cases")
    query = (
        select(cases.c.case_id, cases.c.created_at, paid.c.paid_at)
        .join(paid, paid.c.case_id == cases.c.case_id)
        .order_by(paid.c.paid_at, cases.c.case_id)
    )
    return list(conn.execute(query))


def contacts_per_debtor(conn: Connection) -> list[int]:
    """Reminders sent to each debtor in the store (zero for those never reminded), ascending."""
    sent = (
        select(intents.c.debtor_id, func.count().label("n"))
        .where(intents.c.state.in_(SENT_STATES))
        .group_by(intents.c.debtor_id)
        .subquery()
    )
    n = func.coalesce(sent.c.n, 0)
    query = (
        select(n)
        .select_from(debtors.outerjoin(sent, sent.c.debtor_id == debtors.c.debtor_id))
        .order_by(n, debtors.c.debtor_id)
    )
    return [int(value) for value in conn.scalars(query)]
