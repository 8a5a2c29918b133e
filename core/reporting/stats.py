"""Statistics for comparing template variants: Wilson intervals and their difference.

The Wilson score interval behaves where the textbook (Wald) interval fails:
small groups and rates near 0 or 1, which A/B tests of reminders often have.
The difference of two rates uses Newcombe's hybrid score interval, built from
the two Wilson intervals. Floats are fine here: these are rates, not money.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Z95", "Difference", "median_duration", "newcombe_difference", "wilson_interval"]

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
