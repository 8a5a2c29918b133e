"""What the scheduler learns across the portfolio, learned across the debtors simulated together.

The scheduler counts, every :data:`~dunning.core.runtime.learning.REFRESH`,
the local hours at which each segment's debtors answered or paid over the
last :data:`~dunning.core.runtime.learning.LOOKBACK` (by each case's current
segment), and hands the counts to the engine on every history: a debtor who
never answered is contacted at their segment's hour under ``send_at:
learned``. The simulation does the same over the debtors it simulates on one
clock — a chunk of the portfolio, the same chunks whatever the number of
worker processes — so that the figures stay reproducible. The challenger
guard is not simulated: a chunk is too small to judge a strategy by, and a
strategist wants to see the challenger's rates, not have them cut short.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from dunning.core.domain.model import Case, Learned
from dunning.core.domain.zones import candidate_zones
from dunning.core.policy.model import Policy
from dunning.core.runtime.learning import LOOKBACK, REFRESH, uses_learned_hours

__all__ = ["SegmentHours"]


class SegmentHours:
    """Answer hours per segment, refreshed like the scheduler's, for a policy with learned send times."""

    def __init__(self, policy: Policy) -> None:
        self.enabled = uses_learned_hours(policy)
        self.default_timezone = policy.default_timezone
        #: per case, (moment, local hour) of each answer or payment
        self.answers: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
        #: each case's segment as its latest decision gave it
        self.segments: dict[str, str | None] = {}
        self.learned = Learned()
        self.at: datetime | None = None
        self.dirty = False
        self.oldest: datetime | None = None

    def answered(self, case: Case, at: datetime) -> None:
        """The debtor answered or paid on ``case`` at ``at``."""
        if self.enabled:
            zone = candidate_zones(case.timezone, case.phone, self.default_timezone)[0]
            self.answers[case.case_id].append((at, at.astimezone(zone).hour))
            self.dirty = True

    def decided(self, case_id: str, segment: str | None) -> None:
        """The case's segment, as the decision just written gave it."""
        if self.enabled and self.segments.get(case_id) != segment:
            self.segments[case_id] = segment
            self.dirty = self.dirty or case_id in self.answers

    def current(self, now: datetime) -> Learned:
        """What is learned as of ``now``: counted again once the last count is :data:`REFRESH` old."""
        if not self.enabled or (self.at is not None and self.at <= now < self.at + REFRESH):
            return self.learned
        since = now - LOOKBACK
        if self.dirty or (self.oldest is not None and self.oldest < since):
            self.learned = self._count(since)
            self.dirty = False
        self.at = now
        return self.learned

    def _count(self, since: datetime) -> Learned:
        counts: dict[str, Counter[int]] = defaultdict(Counter)
        self.oldest = None
        for case_id, answers in self.answers.items():
            segment = self.segments.get(case_id)
            if segment is None:
                continue
            for at, hour in answers:
                if at >= since:
                    counts[segment][hour] += 1
                    self.oldest = at if self.oldest is None else min(self.oldest, at)
        return Learned(segment_hours={segment: dict(hours) for segment, hours in counts.items()})
