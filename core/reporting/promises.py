"""The promise-kept rate: of the promises a reminded debtor made, how many were kept.

A promise is *kept* when its case was paid in full by the end of the promised
day, in the case's time zone (UTC when unknown), plus the policy's grace —
the moment the engine stops waiting for it. A promise without a day is for
``promise_days`` after the day it was made, as the engine reads it. Only
promises made on or after the case's first reminder count (the reminders
asked for them), and only once their deadline has passed by the report's
moment: a promise still running is *pending*, in neither count, so that the
rate is not flattered by the early payers alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dunning.core.reporting.ledger import CaseMoney
from dunning.core.reporting.model import GroupRow, ReportOptions, key_of
from dunning.core.store import reports as q

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["add_promises", "promise_deadline"]


def promise_deadline(
    made: datetime, day: date | None, timezone: str | None, *, grace: timedelta, promise_days: int
) -> datetime:
    """When a promise runs out: the end of the promised day in the case's zone, plus the grace."""
    zone = _zone(timezone)
    promised = day if day is not None else made.astimezone(zone).date() + timedelta(days=promise_days)
    end_of_day = datetime.combine(promised + timedelta(days=1), time(0), tzinfo=zone)
    return (end_of_day + grace).astimezone(UTC)


def _zone(name: str | None) -> Any:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _outcomes(
    promises: Iterable[Any], ledger: Mapping[str, CaseMoney], options: ReportOptions, as_of: datetime
) -> dict[str, list[bool | None]]:
    """Per case, each counted promise: True kept, False broken, None pending."""
    found: dict[str, list[bool | None]] = {}
    for promise in promises:
        case = ledger.get(promise.case_id)
        if case is None or case.first_at is None or promise.at < case.first_at:
            continue
        deadline = promise_deadline(
            promise.at,
            promise.date,
            case.timezone,
            grace=options.promise_grace,
            promise_days=options.promise_days,
        )
        outcome = None if deadline > as_of else case.paid_in_full_by(deadline)
        found.setdefault(promise.case_id, []).append(outcome)
    return found


def add_promises(
    conn: Connection,
    rows: dict[tuple[Any, ...], GroupRow],
    columns: Sequence[str],
    exposed: Sequence[Any],
    ledger: Mapping[str, CaseMoney],
    options: ReportOptions,
    as_of: datetime,
) -> None:
    """Count each group's promises (a case's promises count in every group it was reminded in)."""
    outcomes = _outcomes(q.promise_events(conn), ledger, options, as_of)
    for r in exposed:
        key = key_of(r, columns)
        row = rows.setdefault(key, GroupRow(key))
        for outcome in outcomes.get(r.case_id, ()):
            if outcome is None:
                row.promises_pending += 1
            else:
                row.promises += 1
                row.promises_kept += int(outcome)
