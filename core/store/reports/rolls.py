"""Roll rates: the cases in each overdue bucket at the start of a period, and where they ended it.

Days overdue on a day are that day (UTC) less the due date, so a bucket is a
range of due dates and the query needs no date arithmetic: a case is in the
bucket ``[low, high]`` on day ``d`` when its due date lies in ``[d - high, d - low]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, case, func, literal, or_, select

from dunning.core.store.reports.columns import STRATEGY, StoreColumns
from dunning.core.store.reports.contacts import paid_cases
from dunning.core.store.schema import cases, debtors, intents

__all__ = ["PAID", "roll_counts"]

#: The end bucket of a case paid in full by the end of the period.
PAID = -1


def _bucket(day: date, bounds: Sequence[int]) -> ColumnElement[int]:
    """The index of the bucket a case is in on ``day`` (``len(bounds)`` for the last, open one)."""
    due = cases.c.due_date
    whens = [(due >= day - timedelta(days=high), index) for index, high in enumerate(bounds)]
    return case(*whens, else_=literal(len(bounds)))


def _with_strategy(source: Any, cols: StoreColumns) -> tuple[Any, ColumnElement[Any]]:
    """Join what names a case's strategy: its person's, else the one its reminders were sent under."""
    sent_under = (
        select(intents.c.case_id, func.max(cols.intent_strategy).label(STRATEGY))
        .group_by(intents.c.case_id)
        .subquery("sent_under")
    )
    joined = source.outerjoin(sent_under, sent_under.c.case_id == cases.c.case_id)
    if not cols.debtors_assigned:
        return joined, sent_under.c[STRATEGY]
    joined = joined.outerjoin(debtors, debtors.c.debtor_id == cases.c.debtor_id)
    return joined, func.coalesce(cols.debtor_strategy, sent_under.c[STRATEGY])


def roll_counts(
    conn: Connection,
    by: Sequence[str],
    cols: StoreColumns,
    start: datetime,
    end: datetime,
    bounds: Sequence[int],
) -> list[Row[Any]]:
    """(group..., start_bucket, end_bucket, n): cases overdue and unpaid at ``start``, by where they ended.

    ``by`` may name ``segment`` (the case's) and ``strategy``; ``end_bucket`` is
    :data:`PAID` for a case paid in full by ``end``.
    """
    paid = paid_cases().subquery("paid")
    source, strategy = _with_strategy(cases.outerjoin(paid, paid.c.case_id == cases.c.case_id), cols)
    column = {"segment": cases.c.segment, STRATEGY: strategy}
    keys = [column[name] for name in by]
    start_bucket = _bucket(start.date(), bounds)
    end_bucket = case((paid.c.paid_at <= end, literal(PAID)), else_=_bucket(end.date(), bounds))
    query = (
        select(
            *[key.label(name) for key, name in zip(keys, by, strict=True)],
            start_bucket.label("start_bucket"),
            end_bucket.label("end_bucket"),
            func.count().label("n"),
        )
        .select_from(source)
        .where(
            cases.c.created_at <= start,
            cases.c.due_date <= start.date() - timedelta(days=1),
            or_(paid.c.paid_at.is_(None), paid.c.paid_at > start),
        )
        .group_by(*keys, start_bucket, end_bucket)
    )
    return list(conn.execute(query))
