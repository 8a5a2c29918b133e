"""``dunning report``: what the reminders did, per strategy, segment, ladder step, channel or variant.

Counts come from the store in SQL (:mod:`dunning.core.store.reports`); money is
Decimal, from each channel's own price (:meth:`Channel.price`, read from its
plugin's settings: a text priced per segment costs its price times its
segments) and from the payments recorded, per currency. Definitions, as the
report's footnote repeats:

- *sent*: reminders the provider accepted (or may have: ``unknown``);
- *responded*: a reply, acknowledgement or promise after the reminder, before
  the case's next reminder and within ``response_days``; opt-outs and
  disputes (complaints) are attributed to reminders the same way;
- *cured*: a case paid in full within ``cure_days`` of its first reminder; a
  case counts in every group it was reminded in (the total counts it once);
- *cost per cure*: everything the group's reminders cost, over its cures;
- *recovered*: paid on the group's cases from their first reminder to the
  report's moment (:mod:`.recovery`), per currency; *promise kept*: see
  :mod:`.promises`; roll rates: :mod:`.rolls`; the holdout: :mod:`.holdout`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dunning.core.reporting.compare import compare_strategies, compare_variants
from dunning.core.reporting.costs import reminder_cost
from dunning.core.reporting.holdout import Holdout, holdout_comparison
from dunning.core.reporting.ledger import load_ledger
from dunning.core.reporting.model import (
    DEFAULT_BY,
    MONEY_PLACES,
    GroupRow,
    ReportOptions,
    common_currency,
    key_of,
)
from dunning.core.reporting.promises import add_promises
from dunning.core.reporting.recovery import add_recovery
from dunning.core.reporting.rolls import RollRates, roll_rates
from dunning.core.reporting.stats import median_duration
from dunning.core.store import reports as q

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = [
    "DEFAULT_BY",
    "DIMENSIONS",
    "MONEY_PLACES",
    "GroupRow",
    "Report",
    "ReportOptions",
    "build_report",
    "common_currency",
    "group_columns",
]

#: What each ``--by`` dimension groups on (a step has one channel; a variant one template).
DIMENSIONS: Mapping[str, tuple[str, ...]] = {
    "strategy": ("strategy",),
    "segment": ("segment",),
    "step": ("ladder", "step", "channel"),
    "channel": ("channel",),
    "variant": ("ladder", "step", "variant", "template"),
}


def group_columns(by: Iterable[str]) -> tuple[str, ...]:
    """The group columns of the chosen dimensions, in display order."""
    wanted: set[str] = set()
    for name in by:
        if name not in DIMENSIONS:
            raise ValueError(f"unknown dimension {name!r} (known: {', '.join(DIMENSIONS)})")
        wanted.update(DIMENSIONS[name])
    return tuple(c for c in q.GROUP_COLUMNS if c in wanted)


@dataclass
class Report:
    """Figures per group and for the whole store, with the options that made them."""

    options: ReportOptions
    columns: tuple[str, ...]
    rows: list[GroupRow]
    total: GroupRow
    portfolio: int = 0
    paid: int = 0
    #: the moment money, promises and roll rates were read at
    as_of: datetime | None = None
    rolls: RollRates | None = None
    #: contacted against holdout cases (None when no person is in the holdout)
    holdout: Holdout | None = None

    @property
    def currencies(self) -> list[str]:
        """The currencies money was recovered in, as the total shows them."""
        return sorted(self.total.recovery)

    def row(self, **key: Any) -> GroupRow:
        """The row whose group columns have these values (tests and callers look rows up by name)."""
        wanted = tuple(key.get(c) for c in self.columns)
        for row in self.rows:
            if row.key == wanted:
                return row
        raise KeyError(key)


def build_report(conn: Connection, options: ReportOptions) -> Report:
    """Compute the report over the store ``conn`` reads from."""
    columns = group_columns(options.by)
    cols = q.store_columns(conn)
    sent = q.contacts(options.response_days, cols)
    cured = q.cured_cases(sent, options.cure_days)
    rows = _collect(conn, columns, sent, cured, options, cols)
    total = _collect(conn, (), sent, cured, options, cols).get((), GroupRow(()))
    as_of = options.as_of or q.latest_moment(conn)
    ledger = load_ledger(conn)
    if as_of is not None:  # an empty store has no moment, and nothing to count money in
        for grouped, by in ((rows, columns), ({(): total}, ())):
            exposed = q.exposed_cases(conn, by, cols)
            add_recovery(conn, grouped, by, exposed, ledger, options, as_of, cols)
            add_promises(conn, grouped, by, exposed, ledger, options, as_of)
    ordered = sorted(rows.values(), key=lambda r: _sort_key(r.key))
    if "variant" in columns:
        compare_variants(ordered, columns, options.seed)
    if "strategy" in columns:
        compare_strategies(ordered, columns, options.seed, options.champion)
    portfolio, paid = q.portfolio_counts(conn)
    report = Report(options, columns, ordered, total, portfolio, paid, as_of)
    if as_of is not None:
        report.rolls = roll_rates(conn, columns, cols, as_of, options.period_days, options.buckets)
        assigned = q.case_strategies(conn, cols)
        report.holdout = holdout_comparison(assigned, ledger, options.holdout, as_of, options.seed)
    return report


def _collect(
    conn: Connection,
    columns: Sequence[str],
    sent: Any,
    cured: Any,
    options: ReportOptions,
    cols: q.StoreColumns,
) -> dict[tuple[Any, ...], GroupRow]:
    rows: dict[tuple[Any, ...], GroupRow] = {}

    def row_for(record: Any) -> GroupRow:
        key = key_of(record, columns)
        return rows.setdefault(key, GroupRow(key))

    for r in q.intent_counts(conn, columns, cols):
        row_for(r).intents = int(r.intents)
    for r in q.contact_counts(conn, columns, sent, cured):
        row = row_for(r)
        row.sent, row.delivered, row.responded = int(r.sent), int(r.delivered or 0), int(r.responded or 0)
        row.opted_out, row.disputed = int(r.opted_out or 0), int(r.disputed or 0)
        row.cured_contacts = int(r.cured_contacts or 0)
    for r in q.case_counts(conn, columns, cured, cols):
        row = row_for(r)
        row.cases, row.cured = int(r.cases), int(r.cured or 0)
    for r in q.cost_counts(conn, columns, sent):
        row_for(r).cost += reminder_cost(options, r.cost_channel, int(r.parts), int(r.n))
    # The median is taken here, from each case's two moments: SQLite has no percentile
    # function, and PostgreSQL's percentile_cont would be a second code path to keep equal.
    durations: dict[tuple[Any, ...], list[timedelta]] = defaultdict(list)
    for r in q.cure_times(conn, columns, cured, cols):
        durations[row_for(r).key].append(r.paid_at - r.first_at)
    for key, values in durations.items():
        rows[key].median_time_to_pay = median_duration(values)
    for r in q.audit_counts(conn, columns, cols):
        row = row_for(r)
        target = row.deferred if r.action == "defer" else row.suppressed
        rule = r.rule or "unspecified"
        target[rule] = target.get(rule, 0) + int(r.n)
    return rows


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Groups in order, the ones without a value (no segment, no variant) last."""
    return tuple((value is None, value if value is not None else 0) for value in key)
