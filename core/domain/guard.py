"""The challenger guardrail: a challenger that upsets debtors more than the champion takes no more.

The store counts, per strategy, the debtors it contacted and those of them who
opted out or complained (a dispute, or a reply held as a complaint); this
pure function says which challengers are closed to new debtors. Debtors
already assigned keep their strategy: closing stops the experiment from
growing, it does not move people between treatments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from dunning.core.policy.model import Policy

__all__ = ["StrategyStats", "closed_strategies"]


@dataclass(frozen=True)
class StrategyStats:
    """How one strategy's debtors took it: contacted, and of those, opted out or complained."""

    contacted: int = 0
    opted_out: int = 0
    complained: int = 0

    @property
    def opt_out_rate(self) -> Fraction:
        return Fraction(self.opted_out, self.contacted) if self.contacted else Fraction(0)

    @property
    def complaint_rate(self) -> Fraction:
        return Fraction(self.complained, self.contacted) if self.contacted else Fraction(0)


def closed_strategies(policy: Policy, stats: Mapping[str, StrategyStats]) -> frozenset[str]:
    """The challengers whose opt-out or complaint rate exceeds the champion's by the guard's margin.

    Neither side is judged before it has contacted ``min_contacts`` debtors;
    the champion is never closed (a closed challenger's newcomers go to it).
    """
    guard, champion = policy.guard, policy.champion
    if guard is None or champion is None:
        return frozenset()
    base = stats.get(champion.name, StrategyStats())
    if base.contacted < guard.min_contacts:
        return frozenset()
    closed = set()
    for strategy in policy.strategies[1:]:
        seen = stats.get(strategy.name, StrategyStats())
        if seen.contacted < guard.min_contacts:
            continue
        # Exact fractions: a rate exactly at the margin does not exceed it.
        if seen.opt_out_rate - base.opt_out_rate > Fraction(
            str(guard.opt_out_margin)
        ) or seen.complaint_rate - base.complaint_rate > Fraction(str(guard.complaint_margin)):
            closed.add(strategy.name)
    return frozenset(closed)
