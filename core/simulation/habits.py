"""A simulated debtor's habit hour: the local hour at which they tend to answer and pay.

People read their messages and pay at their own times — in the lunch break,
after work. Each simulated debtor draws one hour from their segment's
``answer_hours`` weights and keeps to it for a share (``habit``) of their
answers and payments; a reminder that reaches them in that hour is answered
within it, and is likelier to be answered at all (``habit_lift``). This is
what ``send_at: learned`` is meant to find, so a simulation can show whether
finding it pays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dunning.core.domain.zones import local_moment
from dunning.core.simulation.behaviour import Behaviour

__all__ = ["REACTION", "Habit"]

#: The least time between a reminder and an answer to it (an answer must come after it).
REACTION = timedelta(minutes=1)
#: One local hour.
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Habit:
    """A debtor's habit hour in their zone (``hour`` None: they keep no habit)."""

    hour: int | None
    strength: float
    zone: ZoneInfo

    @classmethod
    def draw(cls, rng: random.Random, behaviour: Behaviour, zone: ZoneInfo) -> Habit:
        """The habit of a new debtor: an hour drawn from ``answer_hours`` (none without weights)."""
        if not behaviour.has_habit:
            return cls(None, 0.0, zone)
        hour = rng.choices(range(24), weights=behaviour.answer_hours)[0]
        return cls(hour, behaviour.habit, zone)

    def holds(self, at: datetime) -> bool:
        """Whether ``at`` falls in the habit hour, in the debtor's local time."""
        return self.hour is not None and at.astimezone(self.zone).hour == self.hour

    def keeps(self, rng: random.Random) -> bool:
        """Whether this answer or payment keeps to the habit (one draw when there is a habit)."""
        return self.hour is not None and rng.random() < self.strength

    def next_after(self, at: datetime, rng: random.Random) -> datetime:
        """A moment of the first habit hour that starts, or is still running, after ``at``."""
        earliest = at + REACTION
        begin = self._begin(earliest)
        if begin + _HOUR <= earliest:
            begin = self._begin(earliest + timedelta(days=1))
        start = max(begin, earliest)
        return start + (begin + _HOUR - start) * rng.random()

    def same_day(self, moment: datetime, rng: random.Random) -> datetime:
        """A moment of the habit hour on the local day of ``moment``."""
        return self._begin(moment) + _HOUR * rng.random()

    def _begin(self, moment: datetime) -> datetime:
        assert self.hour is not None, "a debtor without a habit has no habit hour"
        return local_moment(moment.astimezone(self.zone).date(), time(self.hour), self.zone)
