"""Statistics for comparing variants and strategies: rates, their difference, and means of money.

The Wilson score interval behaves where the textbook (Wald) interval fails:
small groups and rates near 0 or 1, which A/B tests of reminders often have.
The difference of two rates uses Newcombe's hybrid score interval, built from
the two Wilson intervals. Floats are fine for rates; a difference in money per
case is resampled in exact integer units and returned as Decimal.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

__all__ = [
    "BOOTSTRAP_LIMIT",
    "MIN_CASES",
    "RESAMPLES",
    "Z95",
    "Difference",
    "MeanDifference",
    "mean_difference",
    "median_duration",
    "newcombe_difference",
    "wilson_interval",
]

#: The standard normal quantile for a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / trials``; (0, 1) when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Difference:
    """``rate(variant) - rate(baseline)`` with its confidence interval."""

    variant: str
    baseline: str
    difference: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero (the variants differ at this confidence)."""
        return self.low > 0 or self.high < 0


def newcombe_difference(
    variant: tuple[str, int, int], baseline: tuple[str, int, int], z: float = Z95
) -> Difference:
    """Newcombe's hybrid score interval for the difference of two proportions.

    ``variant`` and ``baseline`` are (name, successes, trials).
    """
    name1, k1, n1 = variant
    name2, k2, n2 = baseline
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(name1, name2, d, max(-1.0, low), min(1.0, high))


def median_duration(values: Sequence[timedelta]) -> timedelta | None:
    """The median of durations, exactly (the mean of the middle two for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


#: Up to this many cases in the two groups together, a difference in means is bootstrapped;
#: beyond, the normal approximation is as good (the central limit theorem) and far quicker.
BOOTSTRAP_LIMIT = 4000
#: Bootstrap resamples: enough for the 2.5th and 97.5th percentiles to settle.
RESAMPLES = 2000
#: Fewer cases than this on either side give no interval: one case has no spread to resample.
MIN_CASES = 2
#: Amounts are resampled as whole ten-thousandths, so that sums are exact integers.
_UNITS = Decimal(10000)
_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class MeanDifference:
    """``mean(group) - mean(baseline)`` of an amount per case, with its 95% interval."""

    group: str
    baseline: str
    mean: Decimal
    baseline_mean: Decimal
    difference: Decimal
    low: Decimal
    high: Decimal
    #: ``bootstrap`` (percentile, seeded) or ``normal`` (Welch's standard error)
    method: str

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero."""
        return self.low > 0 or self.high < 0


def mean_difference(
    group: tuple[str, Sequence[Decimal]],
    baseline: tuple[str, Sequence[Decimal]],
    *,
    seed: str,
    resamples: int = RESAMPLES,
    z: float = Z95,
) -> MeanDifference | None:
    """The difference in mean amount per case between two groups, with a 95% interval.

    Recoveries are skewed (most cases pay nothing, a few pay a lot), so small
    groups get a percentile bootstrap, seeded by ``seed`` so that a report is
    reproducible; large ones the normal interval. None when either group has
    fewer than :data:`MIN_CASES` cases.
    """
    name, values = group
    base_name, base_values = baseline
    if len(values) < MIN_CASES or len(base_values) < MIN_CASES:
        return None
    a, b = _units(values), _units(base_values)
    mean, base_mean = Decimal(sum(a)) / len(a), Decimal(sum(b)) / len(b)
    diff = float(mean - base_mean)
    if len(a) + len(b) <= BOOTSTRAP_LIMIT:
        low, high = _bootstrap(a, b, random.Random(seed), resamples)
        method = "bootstrap"
    else:
        half = z * math.sqrt(_variance(a) / len(a) + _variance(b) / len(b))
        low, high, method = diff - half, diff + half, "normal"
    return MeanDifference(
        name,
        base_name,
        _amount(mean),
        _amount(base_mean),
        _amount(mean - base_mean),
        _amount(Decimal(repr(low))),
        _amount(Decimal(repr(high))),
        method,
    )


def _units(values: Sequence[Decimal]) -> list[int]:
    return [int((v * _UNITS).to_integral_value()) for v in values]


def _amount(units: Decimal) -> Decimal:
    return (units / _UNITS).quantize(_PLACES)


def _bootstrap(a: list[int], b: list[int], rng: random.Random, resamples: int) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the resampled difference in means."""
    na, nb = len(a), len(b)
    diffs = sorted(sum(rng.choices(a, k=na)) / na - sum(rng.choices(b, k=nb)) / nb for _ in range(resamples))
    return diffs[int(0.025 * resamples)], diffs[math.ceil(0.975 * resamples) - 1]


def _variance(values: list[int]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)
