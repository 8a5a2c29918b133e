"""The arms a simulation compares: each policy, and each strategy of a policy that splits debtors.

A policy's arm holds the figures of its whole portfolio; a strategy's holds
those of its own debtors, from the same store read by strategy, compared
with the champion. A holdout's debtors are sent nothing, so its arm has no
reminders, cures or money from a first reminder — what it has is its roll
rates and, in the holdout comparison, what its debtors paid on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dunning.core.reporting.model import GroupRow
from dunning.core.reporting.reports import Report
from dunning.core.reporting.rolls import RollRow
from dunning.core.simulation.run import PolicyResult

__all__ = ["Arm", "arms_of"]


@dataclass(frozen=True)
class Arm:
    """One column of the side-by-side figures."""

    label: str
    policy: str
    #: the strategy (None: the policy as a whole)
    strategy: str | None
    #: the report the figures come from (the policy's, or its report by strategy)
    report: Report
    #: the figures of the arm's reminders (None: nothing was sent under it)
    row: GroupRow | None
    #: roll rates of the arm's cases, per starting bucket
    rolls: list[RollRow] = field(default_factory=list)

    @property
    def currencies(self) -> list[str]:
        return sorted(self.row.recovery) if self.row is not None else []


def arms_of(results: Sequence[PolicyResult]) -> list[Arm]:
    """Each policy, followed by its strategies (the champion first)."""
    arms = []
    for result in results:
        total = result.report.rolls.total if result.report.rolls is not None else []
        arms.append(Arm(result.name, result.name, None, result.report, result.report.total, list(total)))
        report = result.strategies
        if report is None:
            continue
        for name in result.strategy_names:
            row = next((r for r in report.rows if r.key == (name,)), None)
            rolls = [r for r in report.rolls.rows if r.key == (name,)] if report.rolls is not None else []
            arms.append(Arm(f"{result.name}: {name}", result.name, name, report, row, rolls))
    return arms
