"""What the reminders themselves recovered: contacted cases against a holdout that was sent nothing.

Cases are compared by the strategy their person was assigned to, reminded or
not (intention to treat: a contacted person who could not be reached still
counts as contacted). Holdout cases have no first reminder, so both sides
are measured the same way: everything paid on the case by the report's
moment, and whether it was paid in full. Money is compared per currency.
People assigned to no strategy are in neither side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dunning.core.reporting.ledger import CaseMoney
from dunning.core.reporting.model import Comparison, Recovery, rate
from dunning.core.reporting.stats import MeanDifference, mean_difference, newcombe_difference, wilson_interval

__all__ = ["CONTACTED", "Holdout", "HoldoutArm", "holdout_comparison"]

#: The name of the arm that gathers every contacted strategy.
CONTACTED = "(contacted)"
#: Before any payment: the start of "everything paid on the case".
_EVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class HoldoutArm:
    """The cases of one side: how many, how many paid in full, and what they paid per currency."""

    name: str
    cases: int = 0
    paid: int = 0
    recovery: dict[str, Recovery] = field(default_factory=dict)
    #: against the holdout (None for the holdout itself)
    versus: Comparison | None = None

    @property
    def paid_rate(self) -> float | None:
        return rate(self.paid, self.cases)

    @property
    def paid_interval(self) -> tuple[float, float] | None:
        """Wilson 95% interval of the share paid in full."""
        return wilson_interval(self.paid, self.cases) if self.cases else None

    def add(self, case: CaseMoney, as_of: datetime) -> None:
        self.cases += 1
        self.paid += int(case.paid_in_full_by(as_of))
        money = self.recovery.setdefault(case.currency, Recovery(case.currency))
        money.add(case.paid_between(_EVER, as_of))


@dataclass
class Holdout:
    """The holdout, and each contacted arm (all together first, then each strategy) against it."""

    name: str
    holdout: HoldoutArm
    arms: list[HoldoutArm]


def holdout_comparison(
    assigned: Sequence[Any], ledger: Mapping[str, CaseMoney], holdout: str, as_of: datetime, seed: int
) -> Holdout | None:
    """Compare contacted and holdout cases; None when no case is in the holdout.

    ``assigned`` is (case_id, strategy) of every case whose person has a strategy.
    """
    base = HoldoutArm(holdout)
    together = HoldoutArm(CONTACTED)
    strategies: dict[str, HoldoutArm] = {}
    for row in assigned:
        case = ledger[row.case_id]
        if row.strategy == holdout:
            base.add(case, as_of)
            continue
        together.add(case, as_of)
        strategies.setdefault(row.strategy, HoldoutArm(row.strategy)).add(case, as_of)
    if not base.cases:
        return None
    arms = (
        [together, *(strategies[name] for name in sorted(strategies))] if len(strategies) > 1 else [together]
    )
    for arm in arms:
        arm.versus = _versus(arm, base, seed)
    return Holdout(holdout, base, arms)


def _versus(arm: HoldoutArm, base: HoldoutArm, seed: int) -> Comparison:
    cure = newcombe_difference((arm.name, arm.paid, arm.cases), (base.name, base.paid, base.cases))
    recovery: dict[str, MeanDifference] = {}
    for currency in sorted(set(arm.recovery) & set(base.recovery)):
        found = mean_difference(
            (arm.name, arm.recovery[currency].amounts),
            (base.name, base.recovery[currency].amounts),
            seed=f"{seed}:holdout:{arm.name}:{currency}",
        )
        if found is not None:
            recovery[currency] = found
    return Comparison(cure, recovery)
