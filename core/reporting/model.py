"""The figures a report holds: per group of reminders, in money per currency, for comparisons.

Plain data, filled by :func:`dunning.core.reporting.reports.build_report` and
read by the formats and plots. Money is Decimal in the currency it was owed
in; a group's recovery is kept per currency, never summed across them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dunning.core.channel import Channel
from dunning.core.errors import ConfigError
from dunning.core.price import Price
from dunning.core.reporting.stats import Difference, MeanDifference, wilson_interval

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_BY",
    "DEFAULT_CURRENCY",
    "DEFAULT_CURVE_DAYS",
    "MONEY_PLACES",
    "Comparison",
    "GroupRow",
    "Recovery",
    "ReportOptions",
    "common_currency",
    "key_of",
    "money",
    "rate",
    "share",
]

#: The default grouping: each segment's ladder, step by step.
DEFAULT_BY = ("segment", "step")
#: The currency of a report when no channel names one.
DEFAULT_CURRENCY = "USD"
#: Money in reports: to the ten-thousandth (SMS prices are fractions of a cent).
MONEY_PLACES = Decimal("0.0001")
#: Days after a case's first reminder at which the recovery curve is read.
DEFAULT_CURVE_DAYS = (1, 3, 7, 14, 30)
#: Upper bounds of the overdue buckets of roll rates: 1–30, 31–60, 61–90 and 91+ days.
DEFAULT_BUCKETS = (30, 60, 90)


def money(value: Decimal) -> Decimal:
    """An amount rounded as reports show it."""
    return value.quantize(MONEY_PLACES, ROUND_HALF_UP)


def share(part: Decimal, whole: Decimal | int) -> Decimal | None:
    """``part / whole`` rounded as money; None when there is nothing to divide by."""
    return money(part / whole) if whole else None


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class ReportOptions:
    """How to group, the windows, the unit costs, and how money and strategies are read."""

    by: tuple[str, ...] = DEFAULT_BY
    cure_days: int = 7
    response_days: int = 3
    #: each channel's price, as its plugin's settings give it
    prices: Mapping[str, Price] = field(default_factory=dict)
    #: the currency the prices are in
    currency: str = DEFAULT_CURRENCY
    #: days after the first reminder at which the recovery curve is read
    curve_days: tuple[int, ...] = DEFAULT_CURVE_DAYS
    #: how long after the end of the promised day a full payment still keeps a promise
    promise_grace: timedelta = timedelta(days=1)
    #: the day a promise without a date is for: this many days after it was made
    promise_days: int = 3
    #: the moment the report is taken at; None: the latest moment the store records
    as_of: datetime | None = None
    #: upper bounds of the overdue buckets (the last bucket is open)
    buckets: tuple[int, ...] = DEFAULT_BUCKETS
    #: the roll-rate period, ending at ``as_of``
    period_days: int = 30
    #: the strategy the others are compared with; None: ``champion``, else the largest
    champion: str | None = None
    #: the strategy that contacts nobody
    holdout: str = "holdout"
    #: the seed of the bootstrap: the same store and seed give the same intervals
    seed: int = 0

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
class Recovery:
    """One group's money in one currency: what came back, how fast, and at what cost."""

    currency: str
    #: cases (in this currency) the figures cover
    cases: int = 0
    recovered: Decimal = Decimal(0)
    #: cumulative amount recovered by each day after a case's first reminder
    curve: dict[int, Decimal] = field(default_factory=dict)
    #: cases whose first reminder was at least that many days before the report's moment
    observed: dict[int, int] = field(default_factory=dict)
    #: messages sent about these cases (a message about several loans counts once)
    messages: int = 0
    #: what those messages cost, in the report's cost currency
    cost: Decimal = Decimal(0)
    #: each case's recovery, for comparing groups
    amounts: list[Decimal] = field(default_factory=list, repr=False)

    def add(self, amount: Decimal) -> None:
        self.cases += 1
        self.recovered += amount
        self.amounts.append(amount)

    @property
    def per_case(self) -> Decimal | None:
        return share(self.recovered, self.cases)

    @property
    def per_contact(self) -> Decimal | None:
        """Recovered per message sent."""
        return share(self.recovered, self.messages)

    @property
    def per_cost(self) -> Decimal | None:
        """Recovered per unit of cost: this currency per one of the cost currency."""
        return share(self.recovered, self.cost)


@dataclass(frozen=True)
class Comparison:
    """A group against its baseline: the difference in cure rate, and in recovery per case per currency."""

    cure: Difference
    recovery: Mapping[str, MeanDifference] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.cure.baseline


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
    #: Wilson 95% interval of the cure rate (variant and strategy reports)
    cure_interval: tuple[float, float] | None = None
    #: money recovered on the group's cases, per currency
    recovery: dict[str, Recovery] = field(default_factory=dict)
    #: promises made after a reminder whose deadline has passed, and those kept
    promises: int = 0
    promises_kept: int = 0
    #: promises whose deadline is still to come (in neither count above)
    promises_pending: int = 0
    #: against the baseline, per dimension compared (``variant``, ``strategy``)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    #: the dimensions this row is the baseline of
    baseline_for: set[str] = field(default_factory=set)

    @property
    def versus(self) -> Difference | None:
        """The cure rate's difference from the step's first variant by name, with its 95% interval."""
        compared = self.comparisons.get("variant")
        return None if compared is None else compared.cure

    @property
    def response_rate(self) -> float | None:
        return rate(self.responded, self.sent)

    @property
    def cure_rate(self) -> float | None:
        return rate(self.cured, self.cases)

    @property
    def opt_out_rate(self) -> float | None:
        return rate(self.opted_out, self.sent)

    @property
    def complaint_rate(self) -> float | None:
        return rate(self.disputed, self.sent)

    @property
    def contacts_per_cure(self) -> float | None:
        return rate(self.cured_contacts, self.cured)

    @property
    def cost_per_cure(self) -> Decimal | None:
        return share(self.cost, self.cured)

    @property
    def promise_kept_rate(self) -> float | None:
        return rate(self.promises_kept, self.promises)

    @property
    def promise_interval(self) -> tuple[float, float] | None:
        """Wilson 95% interval of the promise-kept rate."""
        return wilson_interval(self.promises_kept, self.promises) if self.promises else None

    @property
    def deferrals(self) -> int:
        return sum(self.deferred.values())

    @property
    def suppressions(self) -> int:
        return sum(self.suppressed.values())

    def recovery_in(self, currency: str) -> Recovery:
        """This group's recovery in ``currency`` (created empty on first use)."""
        return self.recovery.setdefault(currency, Recovery(currency))


def key_of(record: Any, columns: Sequence[str]) -> tuple[Any, ...]:
    """The group key of a query row."""
    return tuple(record._mapping[c] for c in columns)
