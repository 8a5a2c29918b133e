"""The scheduler's periodic learning: which challengers are closed, and when each segment answers.

Counting a portfolio's opt-outs, complaints and answer hours costs a few
aggregate queries, so it is done every :data:`REFRESH`, not every tick, and
kept on the runtime in between. What it finds reaches the pure engine on each
case's history (:class:`~dunning.core.domain.model.Learned`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dunning.core.domain.guard import closed_strategies
from dunning.core.domain.model import Learned
from dunning.core.policy.model import Policy

if TYPE_CHECKING:
    from dunning.core.runtime.runtime import Runtime

__all__ = ["LOOKBACK", "REFRESH", "PortfolioLearning", "learn", "uses_learned_hours"]

log = logging.getLogger(__name__)

#: How often the learning is refreshed.
REFRESH = timedelta(minutes=15)
#: How far back the segments' answers are counted.
LOOKBACK = timedelta(days=90)


@dataclass
class PortfolioLearning:
    """The latest learning and when it was made; refreshed when older than :data:`REFRESH`."""

    learned: Learned = field(default_factory=Learned)
    at: datetime | None = None

    def current(self, rt: Runtime, now: datetime) -> Learned:
        """What is learned as of ``now``, asking the store again when it is due."""
        if self.at is not None and self.at <= now < self.at + REFRESH:
            return self.learned
        fresh = learn(rt, now)
        for name in sorted(fresh.closed_strategies - self.learned.closed_strategies):
            log.warning(
                "strategy %s takes no new debtors: its opt-out or complaint rate exceeds the champion's "
                "by more than the guard allows (its debtors keep it)",
                name,
            )
        self.learned, self.at = fresh, now
        return fresh


def learn(rt: Runtime, now: datetime) -> Learned:
    """Ask the store what the policy needs to know: strategies' rates, segments' answer hours."""
    policy = rt.policy
    guarded = policy.guard is not None and len(policy.strategies) > 1
    hours = uses_learned_hours(policy)
    if not (guarded or hours):
        return Learned()
    with rt.store.read() as conn:
        stats = rt.store.strategy_stats(conn) if guarded else {}
        segment_hours = rt.store.segment_hours(conn, now - LOOKBACK, policy.default_timezone) if hours else {}
    return Learned(segment_hours, closed_strategies(policy, stats))


def uses_learned_hours(policy: Policy) -> bool:
    """Whether any window of the policy, its strategies or its steps sends at a learned hour."""
    windows = [*policy.windows.values(), *(w for s in policy.strategies for w in s.windows.values())]
    steps = [step.window for ladder in policy.ladders.values() for step in ladder.steps if step.window]
    return any(window.learned for window in (*windows, *steps))
