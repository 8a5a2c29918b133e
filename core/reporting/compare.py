"""Groups against their baseline: variants against the step's first, strategies against the champion.

Groups are compared only with the groups they differ from in one dimension:
variants of the same step (and strategy, segment... if grouped by those),
strategies at the same segment, step or variant. Each compared row gets the
Wilson interval of its cure rate, the Newcombe interval of its difference
from the baseline, and — per currency both groups recovered in — the
difference in mean recovery per case with a seeded bootstrap interval.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from dunning.core.reporting.model import Comparison, GroupRow
from dunning.core.reporting.stats import MeanDifference, mean_difference, newcombe_difference, wilson_interval

__all__ = ["CHAMPION", "compare_strategies", "compare_variants"]

#: The strategy the others are compared with when it is there (else the largest).
CHAMPION = "champion"

#: Chooses the baseline among the rows of one comparison (sorted by key).
Chooser = Callable[[list[GroupRow], int], GroupRow]


def compare_variants(rows: Sequence[GroupRow], columns: Sequence[str], seed: int) -> None:
    """Each variant against the step's first variant by name (the store does not know the policy's order)."""
    skip = {"variant", "template"}
    _compare(rows, columns, "variant", skip, lambda members, at: members[0], seed)


def compare_strategies(
    rows: Sequence[GroupRow], columns: Sequence[str], seed: int, champion: str | None
) -> None:
    """Each strategy against the champion: ``champion`` (or the one named), else the largest by cases.

    Of two equally large, the first by name is the champion.
    """

    def choose(members: list[GroupRow], at: int) -> GroupRow:
        named = [row for row in members if row.key[at] == (champion or CHAMPION)]
        if named:
            return named[0]
        return min(members, key=lambda row: (-row.cases, str(row.key[at])))

    _compare(rows, columns, "strategy", {"strategy"}, choose, seed)


def _compare(
    rows: Sequence[GroupRow],
    columns: Sequence[str],
    dimension: str,
    skip: set[str],
    choose: Chooser,
    seed: int,
) -> None:
    at = columns.index(dimension)
    fixed = [i for i, name in enumerate(columns) if name not in skip]
    arms: dict[tuple[Any, ...], list[GroupRow]] = defaultdict(list)
    for row in rows:
        if row.key[at] is not None and row.cases:
            arms[tuple(row.key[i] for i in fixed)].append(row)
    for members in arms.values():
        baseline = choose(members, at)
        if len(members) > 1:  # a group alone is compared with nothing
            baseline.baseline_for.add(dimension)
        for row in members:
            row.cure_interval = wilson_interval(row.cured, row.cases)
            if row is not baseline:
                row.comparisons[dimension] = _comparison(row, baseline, at, seed)


def _comparison(row: GroupRow, baseline: GroupRow, at: int, seed: int) -> Comparison:
    name, base = str(row.key[at]), str(baseline.key[at])
    cure = newcombe_difference((name, row.cured, row.cases), (base, baseline.cured, baseline.cases))
    recovery: dict[str, MeanDifference] = {}
    for currency in sorted(set(row.recovery) & set(baseline.recovery)):
        found = mean_difference(
            (name, row.recovery[currency].amounts),
            (base, baseline.recovery[currency].amounts),
            seed=f"{seed}:{row.key}:{baseline.key}:{currency}",
        )
        if found is not None:
            recovery[currency] = found
    return Comparison(cure, recovery)
