"""Roll rates: of the cases in an overdue bucket as a period starts, how many end it unpaid a bucket on.

Buckets are ranges of days overdue (``--buckets 30,60,90``: 1–30, 31–60,
61–90 and 91+). A case enters the table when it was in the store, unpaid and
overdue at the period's start; at its end it was *paid* (in full), *stayed*
(unpaid, same bucket) or *rolled* (unpaid, in a later bucket — the next one
unless the period is longer than a bucket). The roll rate is rolled over
cases, with a Wilson interval; the last bucket has nowhere to roll.
Roll rates are a property of cases, not of reminders: they are grouped by
the case's segment and its strategy (its person's, else its reminders') only,
whatever else ``--by`` names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dunning.core.reporting.model import rate
from dunning.core.reporting.stats import wilson_interval
from dunning.core.store import reports as q

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["ROLL_DIMENSIONS", "RollRates", "RollRow", "bucket_labels", "roll_rates"]

#: The group columns roll rates can be split by.
ROLL_DIMENSIONS = ("strategy", "segment")


def bucket_labels(bounds: Sequence[int]) -> list[str]:
    """``[30, 60, 90]`` → ``["1-30", "31-60", "61-90", "91+"]``."""
    lows = [1, *[high + 1 for high in bounds]]
    return [f"{low}-{high}" for low, high in zip(lows, bounds, strict=False)] + [f"{lows[-1]}+"]


@dataclass
class RollRow:
    """Where the cases of one group and bucket went during the period."""

    key: tuple[Any, ...]
    bucket: int
    label: str
    last: bool
    cases: int = 0
    paid: int = 0
    stayed: int = 0
    rolled: int = 0

    @property
    def roll_rate(self) -> float | None:
        return None if self.last else rate(self.rolled, self.cases)

    @property
    def roll_interval(self) -> tuple[float, float] | None:
        """Wilson 95% interval of the roll rate."""
        return None if self.last or not self.cases else wilson_interval(self.rolled, self.cases)

    @property
    def paid_rate(self) -> float | None:
        return rate(self.paid, self.cases)


@dataclass
class RollRates:
    """Roll rates over one period, per group and in total."""

    start: datetime
    end: datetime
    bounds: tuple[int, ...]
    columns: tuple[str, ...]
    rows: list[RollRow] = field(default_factory=list)
    total: list[RollRow] = field(default_factory=list)


def roll_rates(
    conn: Connection,
    by: Sequence[str],
    cols: q.StoreColumns,
    end: datetime,
    period_days: int,
    bounds: Sequence[int],
) -> RollRates:
    """Roll rates over the ``period_days`` ending at ``end``, grouped by the roll dimensions in ``by``."""
    columns = tuple(name for name in ROLL_DIMENSIONS if name in by)
    start = end - timedelta(days=period_days)
    result = RollRates(start, end, tuple(bounds), columns)
    result.rows = _rows(q.roll_counts(conn, columns, cols, start, end, bounds), columns, bounds)
    result.total = _rows(q.roll_counts(conn, (), cols, start, end, bounds), (), bounds)
    return result


def _rows(counts: Sequence[Any], columns: Sequence[str], bounds: Sequence[int]) -> list[RollRow]:
    labels = bucket_labels(bounds)
    rows: dict[tuple[Any, ...], RollRow] = {}
    for r in counts:
        key = tuple(r._mapping[c] for c in columns)
        start, end, n = int(r.start_bucket), int(r.end_bucket), int(r.n)
        row = rows.setdefault((*key, start), RollRow(key, start, labels[start], start == len(bounds)))
        row.cases += n
        if end == q.PAID:
            row.paid += n
        elif end == start:
            row.stayed += n
        else:
            row.rolled += n
    return sorted(rows.values(), key=lambda row: (*[(v is None, v or "") for v in row.key], row.bucket))
