"""``dunning report``: what the reminders did, per segment, ladder step, channel or variant.

Counts come from the store in SQL (:mod:`dunning.core.reporting.queries`); money is
Decimal, from each channel's own price (:meth:`Channel.price`, read from its
plugin's settings: a text priced per segment costs its price times its
segments). Definitions, as the report's footnote repeats:

- *sent*: reminders the provider accepted (or may have: ``unknown``);
- *responded*: a reply, acknowledgement or promise after the reminder, before
  the case's next reminder and within ``response_days``; opt-outs and
  disputes (complaints) are attributed to reminders the same way;
- *cured*: a case paid in full within ``cure_days`` of its first reminder; a
  case counts in every group it was reminded in (the total counts it once);
- *cost per cure*: everything the group's reminders cost, over its cures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection

from dunning.core.channel import Channel
from dunning.core.errors import ConfigError
from dunning.core.price import Price
from dunning.core.reporting import queries as q
from dunning.core.reporting.stats import Difference, median_duration, newcombe_difference, wilson_interval

__all__ = [
    "DEFAULT_BY",
    "DIMENSIONS",
    "GroupRow",
    "Report",
    "ReportOptions",
    "build_report",
    "common_currency",
    "group_columns",
]

#: What each ``--by`` dimension groups on (a step has one channel; a variant one template).
DIMENSIONS: Mapping[str, tuple[str, ...]] = {
    "segment": ("segment",),
    "step": ("ladder", "step", "channel"),
    "channel": ("channel",),
    "variant": ("ladder", "step", "variant", "template"),
}
#: The default grouping: each segment's ladder, step by step.
DEFAULT_BY = ("segment", "step")
#: The currency of a report when no channel names one.
DEFAULT_CURRENCY = "USD"
#: Money in reports: to the ten-thousandth (SMS prices are fractions of a cent).
MONEY_PLACES = Decimal("0.0001")


def group_columns(by: Iterable[str]) -> tuple[str, ...]:
    """The group columns of the chosen dimensions, in display order."""
    wanted: set[str] = set()
    for name in by:
        if name not in DIMENSIONS:
            raise ValueError(f"unknown dimension {name!r} (known: {', '.join(DIMENSIONS)})")
        wanted.update(DIMENSIONS[name])
    return tuple(c for c in q.GROUP_COLUMNS if c in wanted)


@dataclass(frozen=True)
class ReportOptions:
    """How to group, what the windows are, and what each channel's messages cost."""

    by: tuple[str, ...] = DEFAULT_BY
    cure_days: int = 7
    response_days: int = 3
    prices: Mapping[str, Price] = field(default_factory=dict)
    currency: str = DEFAULT_CURRENCY

    @classmethod
    def from_channels(
        cls, channels: Mapping[str, type[Channel]], settings: Any, **options: Any
    ) -> ReportOptions:
        """Options with each channel's price as its plugin's settings give it, all in one currency."""
        prices = {name: price for name, ch in channels.items() if (price := ch.price(settings)) is not None}
        return cls(prices=prices, currency=common_currency(prices), **options)

    def cost(self, channel: str, segments: int) -> Decimal:
        """What one message of ``channel`` of ``segments`` SMS segments cost (0 when unpriced)."""
        price = self.prices.get(channel)
        return price.of(segments) if price is not None else Decimal(0)


def common_currency(prices: Mapping[str, Price]) -> str:
    """The currency every priced channel charges in; a ``ConfigError`` naming them when they differ.

    A free channel's currency does not matter; with nothing priced, any given one (or USD).
    """
    charged: dict[str, list[str]] = defaultdict(list)
    for name, price in sorted(prices.items()):
        if price.amount:
            charged[price.currency].append(name)
    if len(charged) > 1:
        which = "; ".join(f"{currency}: {', '.join(names)}" for currency, names in sorted(charged.items()))
        raise ConfigError(f"channel prices are in several currencies ({which}); set them in one")
    if charged:
        return next(iter(charged))
    return next((price.currency for price in prices.values()), DEFAULT_CURRENCY)


@dataclass
class GroupRow:
    """The figures of one group (or of everything, for the total)."""

    key: tuple[Any, ...]
    intents: int = 0
    sent: int = 0
    delivered: int = 0
    responded: int = 0
    opted_out: int = 0
    disputed: int = 0
    cases: int = 0
    cured: int = 0
    cured_contacts: int = 0
    cost: Decimal = Decimal(0)
    median_time_to_pay: timedelta | None = None
    deferred: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)
    #: Wilson 95% interval of the cure rate (variant reports)
    cure_interval: tuple[float, float] | None = None
    #: the cure rate's difference from the step's first variant by name, with its 95% interval
    versus: Difference | None = None

    @property
    def response_rate(self) -> float | None:
        return _rate(self.responded, self.sent)

    @property
    def cure_rate(self) -> float | None:
        return _rate(self.cured, self.cases)

    @property
    def opt_out_rate(self) -> float | None:
        return _rate(self.opted_out, self.sent)

    @property
    def complaint_rate(self) -> float | None:
        return _rate(self.disputed, self.sent)

    @property
    def contacts_per_cure(self) -> float | None:
        return _rate(self.cured_contacts, self.cured)

    @property
    def cost_per_cure(self) -> Decimal | None:
        if not self.cured:
            return None
        return (self.cost / self.cured).quantize(MONEY_PLACES, ROUND_HALF_UP)

    @property
    def deferrals(self) -> int:
        return sum(self.deferred.values())

    @property
    def suppressions(self) -> int:
        return sum(self.suppressed.values())


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Report:
    """Figures per group and for the whole store, with the options that made them."""

    options: ReportOptions
    columns: tuple[str, ...]
    rows: list[GroupRow]
    total: GroupRow
    portfolio: int = 0
    paid: int = 0

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
    sent = q.contacts(options.response_days)
    cured = q.cured_cases(sent, options.cure_days)
    rows = _collect(conn, columns, sent, cured, options)
    total = _collect(conn, (), sent, cured, options).get((), GroupRow(()))
    ordered = sorted(rows.values(), key=lambda r: _sort_key(r.key))
    if "variant" in columns:
        _compare_variants(ordered, columns)
    portfolio, paid = q.portfolio_counts(conn)
    return Report(options, columns, ordered, total, portfolio, paid)


def _collect(
    conn: Connection, columns: Sequence[str], sent: Any, cured: Any, options: ReportOptions
) -> dict[tuple[Any, ...], GroupRow]:
    rows: dict[tuple[Any, ...], GroupRow] = {}

    def row_for(record: Any) -> GroupRow:
        key = tuple(record._mapping[c] for c in columns)
        return rows.setdefault(key, GroupRow(key))

    for r in q.intent_counts(conn, columns):
        row_for(r).intents = int(r.intents)
    for r in q.contact_counts(conn, columns, sent, cured):
        row = row_for(r)
        row.sent, row.delivered, row.responded = int(r.sent), int(r.delivered or 0), int(r.responded or 0)
        row.opted_out, row.disputed = int(r.opted_out or 0), int(r.disputed or 0)
        row.cured_contacts = int(r.cured_contacts or 0)
    for r in q.case_counts(conn, columns, cured):
        row = row_for(r)
        row.cases, row.cured = int(r.cases), int(r.cured or 0)
    for r in q.cost_counts(conn, columns, sent):
        row_for(r).cost += options.cost(r.cost_channel, int(r.parts)) * int(r.n)
    # The median is taken here, from each case's two moments: SQLite has no percentile
    # function, and PostgreSQL's percentile_cont would be a second code path to keep equal.
    durations: dict[tuple[Any, ...], list[timedelta]] = defaultdict(list)
    for r in q.cure_times(conn, columns, cured):
        durations[row_for(r).key].append(r.paid_at - r.first_at)
    for key, values in durations.items():
        rows[key].median_time_to_pay = median_duration(values)
    for r in q.audit_counts(conn, columns):
        row = row_for(r)
        target = row.deferred if r.action == "defer" else row.suppressed
        rule = r.rule or "unspecified"
        target[rule] = target.get(rule, 0) + int(r.n)
    return rows


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Groups in order, the ones without a value (no segment, no variant) last."""
    return tuple((value is None, value if value is not None else 0) for value in key)


def _compare_variants(rows: list[GroupRow], columns: Sequence[str]) -> None:
    """Give each variant row its cure interval and its difference from the step's first variant.

    The store does not know the order a policy lists variants in, so the baseline is the first by name.
    """
    at = columns.index("variant")
    skip = {at, columns.index("template")} if "template" in columns else {at}
    arms: dict[tuple[Any, ...], list[GroupRow]] = defaultdict(list)
    for row in rows:
        if row.key[at] is not None and row.cases:
            arms[tuple(v for i, v in enumerate(row.key) if i not in skip)].append(row)
    for members in arms.values():
        baseline = members[0]
        for row in members:
            row.cure_interval = wilson_interval(row.cured, row.cases)
            if row is not baseline and len(members) > 1:
                row.versus = newcombe_difference(
                    (str(row.key[at]), row.cured, row.cases),
                    (str(baseline.key[at]), baseline.cured, baseline.cases),
                )
