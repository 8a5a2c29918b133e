"""Money: each case's balance and payments, and the messages and cost spent per currency.

Amounts leave the store as Decimal and are added up in Python: SQLite keeps
money as text, and a SUM there would turn it into a float. Counts are taken
in SQL as everywhere else in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, literal, select

from dunning.core.domain.model import EventKind
from dunning.core.store.reports.columns import StoreColumns
from dunning.core.store.reports.contacts import SENT_STATES, exposure, paid_cases
from dunning.core.store.schema import cases, events, intents

__all__ = [
    "case_balances",
    "exposed_cases",
    "first_reminders",
    "latest_moment",
    "message_counts",
    "payment_events",
    "sent_parts",
]


def case_balances(conn: Connection) -> list[Row[Any]]:
    """Every case's currency, balance (as of when it was set), zone, arrival and full-payment moment."""
    paid = paid_cases().subquery("paid")
    c = cases.c
    query = select(
        c.case_id,
        c.currency,
        c.amount_due,
        c.amount_as_of,
        c.timezone,
        c.created_at,
        paid.c.paid_at,
    ).select_from(cases.outerjoin(paid, paid.c.case_id == c.case_id))
    return list(conn.execute(query))


def payment_events(conn: Connection) -> list[Row[Any]]:
    """(case_id, at, amount) of every payment, in the order they were made."""
    e = events.c
    query = (
        select(e.case_id, e.at, e.amount).where(e.kind == EventKind.PAYMENT).order_by(e.case_id, e.at, e.id)
    )
    return list(conn.execute(query))


def first_reminders(conn: Connection) -> list[Row[Any]]:
    """(case_id, first_at): when each reminded case got its first reminder."""
    i = intents.c
    query = (
        select(i.case_id, func.min(i.contact_at).label("first_at"))
        .where(i.state.in_(SENT_STATES))
        .group_by(i.case_id)
    )
    return list(conn.execute(query))


def exposed_cases(conn: Connection, by: Sequence[str], cols: StoreColumns) -> list[Row[Any]]:
    """(group..., case_id) for every group a case was reminded in."""
    exposed = exposure(by, cols, "money_exposure")
    return list(conn.execute(select(exposed)))


def message_counts(conn: Connection, by: Sequence[str], cols: StoreColumns) -> list[Row[Any]]:
    """Messages sent per group and the currency of the cases they were about.

    Several loans of one person combined into one message share its
    ``message_id``: the message counts once (once per currency, should one
    message speak of loans in two).
    """
    i = intents.c
    keys = [cols.intent(name) for name in by]
    message = func.coalesce(i.message_id, i.intent_id)
    query = (
        select(
            *[key.label(name) for key, name in zip(keys, by, strict=True)],
            cases.c.currency,
            func.count(message.distinct()).label("messages"),
        )
        .select_from(intents.join(cases, cases.c.case_id == i.case_id))
        .where(i.state.in_(SENT_STATES))
        .group_by(*keys, cases.c.currency)
    )
    return list(conn.execute(query))


def sent_parts(conn: Connection, by: Sequence[str], cols: StoreColumns) -> list[Row[Any]]:
    """Sent reminders per group, currency, channel and SMS segment count: what their cost is made of.

    A reminder joined to another loan's message carries no segments, so the
    message is costed once, on the reminder that carried it.
    """
    i = intents.c
    keys = [cols.intent(name) for name in by]
    parts = func.coalesce(i.segments, literal(1))
    query = (
        select(
            *[key.label(name) for key, name in zip(keys, by, strict=True)],
            cases.c.currency,
            i.channel.label("cost_channel"),
            parts.label("parts"),
            func.count().label("n"),
        )
        .select_from(intents.join(cases, cases.c.case_id == i.case_id))
        .where(i.state.in_(SENT_STATES))
        .group_by(*keys, cases.c.currency, i.channel, parts)
    )
    return list(conn.execute(query))


def latest_moment(conn: Connection) -> datetime | None:
    """The latest moment the store records (an event, a sent reminder, a case's arrival), or None."""
    moments = [
        conn.scalar(select(func.max(events.c.at))),
        conn.scalar(select(func.max(intents.c.contact_at)).where(intents.c.state.in_(SENT_STATES))),
        conn.scalar(select(func.max(cases.c.created_at))),
    ]
    known = [m for m in moments if m is not None]
    return max(known) if known else None
