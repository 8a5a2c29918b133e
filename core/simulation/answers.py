"""What a simulated debtor does: answer a reminder, keep a promise, pay on their own — and when.

After a reminder reaches them, one outcome of the response model is drawn
(or none), and its moment: a log-normal delay, or — as often as the debtor
keeps to their habit — within their next habit hour. A payment is in full,
or (``partial``) a triangular share of what is owed when it is made, so the
ladder goes on for the rest. A kept promise is paid by the end of the
promised day; a debtor may pay unprompted (``self_cure``), contacted or not.
Every draw comes from the debtor's own generators, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from dunning.core.domain.engine import outstanding
from dunning.core.domain.model import Case, Event, EventKind
from dunning.core.domain.zones import candidate_zones, local_moment
from dunning.core.simulation.behaviour import OUTCOMES, Behaviour
from dunning.core.simulation.habits import Habit

__all__ = ["Answers", "Partial", "partial_payment"]

#: Partial payments are made to the cent.
CENT = Decimal("0.01")
#: Outcomes a debtor says in words: by text, they come with a reply.
_SAID = frozenset({"promise", "opt_out", "dispute"})


@dataclass(frozen=True)
class Partial:
    """A payment of part of what is owed, sized when it is made: ``share`` of the balance then."""

    at: datetime
    case_id: str
    share: float


#: What a debtor's action puts on their queue: an event, or a partial payment still to size.
Act = Event | Partial


def partial_payment(case: Case, events: Sequence[Event], part: Partial) -> Event:
    """The payment ``part`` stands for, given what is owed at its moment (all of it when that is little)."""
    owed, _settled = outstanding(case, events)
    amount = max(CENT, (owed * Decimal(str(round(part.share, 4)))).quantize(CENT, ROUND_HALF_UP))
    if amount >= owed:
        return Event(EventKind.PAYMENT, part.at, case_id=case.case_id, full=True)
    return Event(EventKind.PAYMENT, part.at, case_id=case.case_id, amount=amount, full=False)


class Answers:
    """One debtor's answers, drawn from ``rng``; their habit from ``habits``."""

    def __init__(self, rng: random.Random, habits: random.Random, default_timezone: str | None) -> None:
        self.rng = rng
        self.habits = habits
        self.default_timezone = default_timezone
        #: set when the debtor is first decided, from their segment's weights
        self.habit: Habit | None = None

    def form_habit(self, behaviour: Behaviour, case: Case) -> None:
        """Draw the debtor's habit hour, once, in the first zone of their first case."""
        if self.habit is None:
            self.habit = Habit.draw(self.habits, behaviour, self._zone(case))

    def in_habit(self, at: datetime) -> bool:
        return self.habit is not None and self.habit.holds(at)

    def to_reminder(
        self, case: Case, channel: str, behaviour: Behaviour, earlier: int, at: datetime
    ) -> list[Act]:
        """Draw one outcome of :data:`OUTCOMES` (or none) for a reminder delivered at ``at``."""
        roll = self.rng.random()
        median = behaviour.delay.total_seconds()
        when = at + timedelta(seconds=self.rng.lognormvariate(math.log(median), behaviour.spread))
        outcome = None
        for name, chance in zip(OUTCOMES, behaviour.chances(earlier, self.in_habit(at)), strict=True):
            if roll < chance:
                outcome = name
                break
            roll -= chance
        if outcome is None:
            return []
        if self.habit is not None and self.habit.keeps(self.habits):
            when = self.habit.next_after(at, self.habits)
        acts = self._acts(outcome, case, channel, behaviour, when)
        if channel == "sms" and outcome in _SAID:  # a text answer is a reply too
            acts.insert(0, Event(EventKind.REPLY, when, case_id=case.case_id, channel=channel))
        return acts

    def _acts(
        self, outcome: str, case: Case, channel: str, behaviour: Behaviour, when: datetime
    ) -> list[Act]:
        def event(kind: EventKind) -> Event:
            return Event(kind, when, case_id=case.case_id, channel=channel)

        if outcome == "pay":
            return [self._payment(case, behaviour, when)]
        if outcome == "promise":
            return self._promise(case, channel, behaviour, when)
        if outcome == "reply":
            return [event(EventKind.REPLY if channel == "sms" else EventKind.ACK)]
        if outcome == "opt_out":
            return [event(EventKind.OPT_OUT)]
        return [event(EventKind.DISPUTE)]

    def _payment(self, case: Case, behaviour: Behaviour, when: datetime) -> Act:
        if behaviour.partial > 0 and self.rng.random() < behaviour.partial:
            size = behaviour.partial_size
            return Partial(when, case.case_id, self.rng.triangular(size.min, size.max, size.mode))
        return Event(EventKind.PAYMENT, when, case_id=case.case_id, full=True)

    def _promise(self, case: Case, channel: str, behaviour: Behaviour, when: datetime) -> list[Act]:
        """A promise for a day ahead, and — if it is kept — a payment in full by the end of that day."""
        zone = self._zone(case)
        day = when.astimezone(zone).date() + timedelta(days=self.rng.randint(1, behaviour.promise_within))
        acts: list[Act] = [Event(EventKind.PROMISE, when, case_id=case.case_id, channel=channel, date=day)]
        if self.rng.random() < behaviour.keep_promise:
            latest = local_moment(day + timedelta(days=1), time(0), zone)
            paid = when + (latest - when) * self.rng.random()
            if self.habit is not None and self.habit.keeps(self.habits):
                habitual = self.habit.same_day(paid, self.habits)
                paid = habitual if when < habitual < latest else paid
            acts.append(Event(EventKind.PAYMENT, paid, case_id=case.case_id, full=True))
        return acts

    def self_cure(self, case: Case, behaviour: Behaviour, at: datetime) -> Event | None:
        """Whether and when the debtor pays unprompted: one draw per case, when it is first decided."""
        if behaviour.self_cure <= 0:
            return None
        when = at + timedelta(days=self.rng.expovariate(behaviour.self_cure))
        if self.habit is not None and self.habit.keeps(self.habits):
            habitual = self.habit.same_day(when, self.habits)
            when = habitual if habitual > at else when
        return Event(EventKind.PAYMENT, when, case_id=case.case_id, full=True)

    def _zone(self, case: Case) -> ZoneInfo:
        return candidate_zones(case.timezone, case.phone, self.default_timezone)[0]
