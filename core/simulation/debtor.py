"""One simulated debtor: their loans decided by the real engine, their answers, their rows.

``decide`` is called whenever a case is due — at the decision's own
``next_check``, or when an answer arrives or a send fails — exactly as the
scheduler tick calls it, with the history the store would give it: the
case's events, the person's contacts, the local hours at which the person
answered or paid, and what is learned across the portfolio. Each ``send``
goes to a simulated provider (:mod:`.provider`) and, once sent, becomes a
contact in the debtor's history, as the delivery worker would record it; the
debtor's answer is then drawn (:mod:`.answers`). Events are applied as the
store applies them: a payment in full closes the case, a partial one lowers
what is owed and wakes the case, an opt-out reaches all of the person's loans.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from dunning.core.domain.engine import Action, Decision, decide, facts_for, outstanding
from dunning.core.domain.learning import RESPONDED, response_hours
from dunning.core.domain.model import Case, Contact, ContactStatus, Event, EventKind, History, IntentState
from dunning.core.domain.zones import candidate_zones
from dunning.core.runtime.rows import audit_rows, intent_rows
from dunning.core.simulation.answers import Act, Answers, Partial, partial_payment
from dunning.core.simulation.provider import ProviderOutcome, attempt
from dunning.core.simulation.rows import attempt_row, audit_row, case_row, event_row
from dunning.core.simulation.world import World

__all__ = ["Debtor"]

#: Events about a person's contact points apply to all of their cases.
_DEBTOR_WIDE = frozenset({EventKind.OPT_OUT, EventKind.WRONG_NUMBER, EventKind.INVALID_CONTACT})
#: A case due again at once is decided at the next tick, as the scheduler would.
TICK = timedelta(seconds=30)
#: How long an answered reminder call lasts (its conversation event comes after it).
CALL = timedelta(minutes=2)
#: A debtor whose simulation takes more engine calls than this is a bug, not a debtor.
MAX_CALLS = 100_000
#: Queue order at one instant: answers first, so that a decision at that instant sees them.
_EVENT, _CHECK = 0, 1


@dataclass
class _CaseState:
    case: Case
    events: list[Event] = field(default_factory=list)
    status: str = "open"
    segment: str | None = None
    ladder: str | None = None
    next_check: datetime | None = None
    closed_at: datetime | None = None
    promise_until: datetime | None = None
    promised: date | None = None
    reminded: int = 0
    decided: bool = False


class Debtor:
    """One debtor's cases, answers and contacts, simulated step by step from the world's start to its end."""

    def __init__(self, world: World, cases: Sequence[Case]) -> None:
        self.world = world
        person = cases[0].debtor_id
        self.rng = random.Random(f"{world.seed}:{person}")
        self.answers = Answers(
            self.rng, random.Random(f"{world.seed}:{person}:habit"), world.policy.default_timezone
        )
        self.provider = random.Random(f"{world.seed}:{person}:provider")
        self.states = {c.case_id: _CaseState(c) for c in sorted(cases, key=lambda c: c.case_id)}
        self.profile: dict[str, Any] = {
            "previous_cures": 0,
            "broken_promises": 0,
            "kept_promises": 0,
            "days_to_pay_last": None,
        }
        for case in cases:
            self.profile.update(case.profile)
        self.strategy = next((c.strategy for c in cases if c.strategy), None)
        self.wide: list[Event] = []
        self.responded: list[Event] = []
        self.contacts: list[Contact] = []
        self.queue: list[tuple[datetime, int, int, str, Act | None]] = []
        self.order = itertools.count()
        self.last = world.start
        self.calls = 0
        for state in self.states.values():
            state.next_check = world.start
            self.push(world.start, state.case.case_id)

    def push(self, at: datetime, case_id: str, act: Act | None = None) -> None:
        heapq.heappush(self.queue, (at, _CHECK if act is None else _EVENT, next(self.order), case_id, act))

    @property
    def next_at(self) -> datetime | None:
        """When this debtor's next step happens (None: nothing more before the end)."""
        if not self.queue or self.queue[0][0] > self.world.end:
            return None
        return self.queue[0][0]

    def step(self) -> None:
        """Take the next answer or due decision off the debtor's queue."""
        at, _, _, case_id, act = heapq.heappop(self.queue)
        state = self.states[case_id]
        self.last = at
        if act is not None:
            self.apply(state, act)
        elif state.status != "paid" and state.next_check == at:
            self.calls += 1
            if self.calls > MAX_CALLS:
                raise RuntimeError(f"debtor {state.case.debtor_id}: over {MAX_CALLS} engine calls")
            self.decide(state, at)

    # ------------------------------------------------------------ the engine's side

    def history(self, state: _CaseState, at: datetime) -> History:
        """What the store would give the engine: as the scheduler reads it, with what it learned."""
        case = state.case
        others = tuple(e for e in self.wide if e.case_id != case.case_id)
        zone = candidate_zones(case.timezone, case.phone, self.world.policy.default_timezone)[0]
        return History(
            (*state.events, *others),
            tuple(self.contacts),
            response_hours(self.responded, zone),
            self.world.learning.current(at),
        )

    def decide(self, state: _CaseState, at: datetime) -> None:
        case = state.case
        history = self.history(state, at)
        decision = decide(case, history, self.world.policy, at)
        self.world.rows.audit.extend(audit_rows(decision))
        self.track_promise(state, decision, at)
        state.status, state.segment, state.ladder = decision.status, decision.segment, decision.ladder
        self.world.learning.decided(case.case_id, decision.segment)
        self.assign(decision.strategy)
        if not state.decided:
            state.decided = True
            self.first_decided(state, history, at)
        failed = False
        for action, row in zip(decision.sends, intent_rows(case, decision, at), strict=True):
            failed = self.send(state, action, row, at) or failed
        due = decision.next_check
        if failed:  # the worker wakes the case: the engine falls through to the next step
            due = at if due is None else min(due, at)
        state.next_check = None if due is None else max(due, at + TICK)
        if state.next_check is not None:
            self.push(state.next_check, case.case_id)

    def assign(self, strategy: str | None) -> None:
        """Record the strategy the engine assigned the person to, on every loan, as the store does."""
        if strategy is not None and strategy != self.strategy:
            self.strategy = strategy
            for state in self.states.values():
                state.case = replace(state.case, strategy=strategy)

    def first_decided(self, state: _CaseState, history: History, at: datetime) -> None:
        """The debtor's own ways, by the segment the policy's own segments give them (not a strategy's).

        Their habit hour (drawn once per person) and whether they pay unprompted
        do not depend on the strategy they are in: the holdout is a fair baseline.
        """
        policy = self.world.policy
        facts = facts_for(state.case, history, policy, at)
        segment = next((s.name for s in policy.segments if s.when is None or s.when(facts)), None)
        behaviour = self.world.model.behaviour(segment, None)
        self.answers.form_habit(behaviour, state.case)
        cure = self.answers.self_cure(state.case, behaviour, at)
        if cure is not None and cure.at <= self.world.end:
            self.push(cure.at, state.case.case_id, cure)

    def track_promise(self, state: _CaseState, decision: Decision, at: datetime) -> None:
        """Count a promise that ran out unpaid as broken, once, as the scheduler tick does."""
        until = next((a.until for a in decision.actions if a.kind == "hold" and a.rule == "promise"), None)
        if state.promise_until is not None and state.promise_until <= at:
            self.profile["broken_promises"] += 1
            self.world.rows.audit.append(
                audit_row(at, state.case.case_id, "case", "broken_promise", rule="promise")
            )
            self.update_profile()
            state.promise_until = until
        elif until is not None:
            state.promise_until = until

    # ------------------------------------------------------------ the delivery worker's side

    def send(self, state: _CaseState, action: Action, row: dict[str, Any], at: datetime) -> bool:
        """Hand the reminder to the provider and record what came of it; True when it failed."""
        case, channel = state.case, action.channel or ""
        behaviour = self.world.model.behaviour(action.segment, channel)
        outcome = attempt(self.provider, behaviour, self.world.retries, at)
        self.world.rows.attempts += [attempt_row(row, moment, what) for moment, what in outcome.tries]
        spec = self.world.policy.channels.get(channel)
        # A bulk insert takes the first row's columns: every row names them all.
        row.update(address=case.address(spec.contact_kind) if spec else None, reason=None, segments=None)
        if not outcome.sent:
            self.failed(state, action, row, at, outcome)
            return True
        if spec is not None and spec.kind == "text":
            row["segments"] = self.world.segments(case, channel, action.template or "", at)
        self.sent(state, action, row, at, outcome.at, outcome.attempts)
        return False

    def sent(
        self, state: _CaseState, action: Action, row: dict[str, Any], at: datetime, sent: datetime, tries: int
    ) -> None:
        """The provider took the reminder: it reaches the debtor (or not), who may answer."""
        case, channel = state.case, action.channel or ""
        behaviour = self.world.model.behaviour(action.segment, channel)
        delivered = self.rng.random() < behaviour.delivered
        connected = delivered and channel == "voice"
        status = ContactStatus.DELIVERED if delivered else ContactStatus.SENT
        # The history counts it from the tick that planned it, as the scheduler's pending contact
        # does, so that the person's other loans decided at that tick see it; the row says when it left.
        self.contacts.append(_contact(action, case, at, status, connected))
        row.update(
            state=IntentState.DELIVERED if delivered else IntentState.SENT,
            attempts=tries,
            connected=connected,
            contact_at=sent,
            completed_at=sent,
        )
        self.world.rows.intents.append(row)
        self.world.rows.audit.append(
            audit_row(sent, case.case_id, "intent", "sent", channel, action.step, action.intent_id)
        )
        earlier, state.reminded = state.reminded, state.reminded + 1
        if connected:
            call = Event(EventKind.CONVERSATION, sent + CALL, case_id=case.case_id, channel=channel)
            self.push(call.at, case.case_id, call)
        if delivered:
            for act in self.answers.to_reminder(case, channel, behaviour, earlier, sent):
                self.push(act.at, case.case_id, act)

    def failed(
        self, state: _CaseState, action: Action, row: dict[str, Any], at: datetime, outcome: ProviderOutcome
    ) -> None:
        """A send the provider refused: the intent fails, as the worker records it, and reaches no one."""
        case = state.case
        self.contacts.append(_contact(action, case, at, ContactStatus.FAILED, False))
        row.update(
            state=IntentState.FAILED,
            attempts=outcome.attempts,
            reason=outcome.reason,
            completed_at=outcome.at,
        )
        self.world.rows.intents.append(row)
        self.world.rows.audit.append(
            audit_row(
                outcome.at,
                case.case_id,
                "intent",
                "failed",
                action.channel,
                action.step,
                action.intent_id,
                rule=outcome.reason,
            )
        )

    # ------------------------------------------------------------ what the store does with an event

    def apply(self, state: _CaseState, act: Act) -> None:
        if state.status == "paid":
            return  # a paid case takes no more answers in the simulation
        case = state.case
        event = partial_payment(case, state.events, act) if isinstance(act, Partial) else act
        state.events.append(event)
        if event.kind in _DEBTOR_WIDE:
            self.wide.append(event)
        if event.kind in RESPONDED:
            self.responded.append(event)
            self.world.learning.answered(case, event.at)
        self.world.rows.events.append(event_row(event, case.debtor_id))
        self.world.rows.audit.append(
            audit_row(event.at, case.case_id, "event", str(event.kind), event.channel)
        )
        if event.kind == EventKind.PAYMENT and outstanding(case, state.events)[1]:
            self.cure(state, event)
            return
        woken = self.states.values() if event.kind in _DEBTOR_WIDE else (state,)
        for other in woken:
            if other.status != "paid":
                other.next_check = event.at
                self.push(event.at, other.case.case_id)
        if event.kind == EventKind.PROMISE:
            state.promised = event.date

    def cure(self, state: _CaseState, event: Event) -> None:
        """A payment in full closes the case and enters the debtor's history, as the store does."""
        state.status, state.closed_at, state.next_check = "paid", event.at, None
        self.profile["previous_cures"] += 1
        self.profile["days_to_pay_last"] = max(0, (event.at.date() - state.case.due_date).days)
        if state.promised is not None and event.at.date() <= state.promised:
            self.profile["kept_promises"] += 1
        if state.promise_until is not None and event.at > state.promise_until:
            self.profile["broken_promises"] += 1
        state.promise_until = None
        self.update_profile()

    def update_profile(self) -> None:
        profile = {k: v for k, v in self.profile.items() if v is not None}
        for state in self.states.values():
            state.case = replace(state.case, profile=profile)

    def finish(self) -> None:
        """Write the cases and the person as the store would hold them at the end."""
        rows = self.world.rows
        for state in self.states.values():
            rows.cases.append(
                case_row(
                    state.case,
                    self.world.start,
                    self.last,
                    status=state.status,
                    segment=state.segment,
                    ladder=state.ladder,
                    next_check_at=state.next_check,
                    closed_at=state.closed_at,
                    promise_until=state.promise_until,
                )
            )
        person = next(iter(self.states.values())).case.debtor_id
        rows.debtors.append(
            {"debtor_id": person, **self.profile, "updated_at": self.last, "strategy": self.strategy}
        )


def _contact(action: Action, case: Case, at: datetime, status: ContactStatus, connected: bool) -> Contact:
    """The reminder as the debtor's history holds it."""
    return Contact(
        intent_id=action.intent_id or "",
        case_id=case.case_id,
        channel=action.channel or "",
        ladder=action.ladder or "",
        step=action.step or 0,
        cycle=action.cycle or 0,
        seq=action.seq or 0,
        at=at,
        status=status,
        connected=connected,
    )
