"""Stable weighted choices per debtor: their strategy, and the variant of an A/B step.

A debtor's hash picks a point in the weights, so the same debtor always lands
in the same strategy and sees the same variant — across ticks, schedulers and
restarts — and many debtors split between them as the weights say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from dunning.core.domain.model import Case
from dunning.core.policy.model import Policy, Step, Strategy, Variant

__all__ = ["assign_strategy", "assign_variant", "stable_point", "strategy_of"]


def stable_point(*parts: str) -> float:
    """A number in [0, 1) that depends on ``parts`` alone."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(debtor_id: str, ladder: str, step: Step) -> Variant:
    """A stable, weighted choice: the same debtor always gets the same variant."""
    point = stable_point(debtor_id, ladder, str(step.index)) * sum(v.weight for v in step.variants)
    for variant in step.variants:
        point -= variant.weight
        if point < 0:
            return variant
    return step.variants[-1]


def assign_strategy(
    debtor_id: str, strategies: Sequence[Strategy], closed: frozenset[str] = frozenset()
) -> Strategy | None:
    """The strategy a new debtor joins: by weight, or the champion's if theirs is closed to newcomers."""
    if not strategies:
        return None
    point = stable_point("strategy", debtor_id) * sum(s.weight for s in strategies)
    chosen = strategies[-1]
    for strategy in strategies:
        point -= strategy.weight
        if point < 0:
            chosen = strategy
            break
    if chosen.name in closed and chosen is not strategies[0]:
        return strategies[0]
    return chosen


def strategy_of(case: Case, policy: Policy, closed: frozenset[str] = frozenset()) -> Strategy | None:
    """The debtor's strategy: the one recorded for them if the policy still has it, else a new one.

    An assigned debtor keeps their strategy even once it is closed to new debtors.
    """
    recorded = policy.strategy(case.strategy)
    if recorded is not None:
        return recorded
    return assign_strategy(case.debtor_id, policy.strategies, closed)
