"""Simulating a policy over a portfolio: the real engine, in memory, on a simulated clock.

Each debtor is simulated on their own (caps and opt-outs are per person):
``decide`` is called whenever a case is due — at the decision's own
``next_check``, or when an answer arrives — exactly as the scheduler tick
calls it, and each ``send`` becomes a contact in the debtor's growing
history, as the outbox channel would record it (nothing is sent). The
response model then draws what the debtor does and when. The rows written
are the rows the scheduler and the delivery worker write, so the report's
SQL reads a simulated store like a real one.

A run is reproducible: each debtor draws from a ``random.Random`` seeded by
the run's seed and the debtor's id, and debtors are simulated in id order.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from dunning.core.domain.engine import Action, Decision, decide
from dunning.core.domain.guardrails import local_moment
from dunning.core.domain.model import Case, Contact, ContactStatus, Event, EventKind, History, IntentState
from dunning.core.domain.zones import candidate_zones
from dunning.core.policy.model import Policy

# The scheduler's own row builders: simulated decisions and intents are the rows a tick writes.
from dunning.core.runtime.rows import audit_rows, intent_rows
from dunning.core.simulation.behaviour import OUTCOMES, Behaviour, ResponseModel
from dunning.core.simulation.rows import Rows, audit_row, case_row, event_row

__all__ = ["Rows", "SegmentCounter", "simulate"]

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

#: Counts the SMS segments of a reminder: (case, channel, template, moment) -> segments.
SegmentCounter = Callable[[Case, str, str, datetime], int | None]


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


class _Debtor:
    """One debtor's cases, answers and contacts, simulated from ``start`` to ``end``."""

    def __init__(self, sim: _Run, cases: Sequence[Case]) -> None:
        self.sim = sim
        self.rng = random.Random(f"{sim.seed}:{cases[0].debtor_id}")
        self.states = {c.case_id: _CaseState(c) for c in sorted(cases, key=lambda c: c.case_id)}
        self.profile: dict[str, Any] = {
            "previous_cures": 0,
            "broken_promises": 0,
            "kept_promises": 0,
            "days_to_pay_last": None,
        }
        for case in cases:
            self.profile.update(case.profile)
        self.wide: list[Event] = []
        self.contacts: list[Contact] = []
        self.queue: list[tuple[datetime, int, int, str, Event | None]] = []
        self.order = itertools.count()
        self.last = sim.start

    def push(self, at: datetime, case_id: str, event: Event | None = None) -> None:
        heapq.heappush(self.queue, (at, _EVENT if event else _CHECK, next(self.order), case_id, event))

    def run(self) -> None:
        for state in self.states.values():
            state.next_check = self.sim.start
            self.push(self.sim.start, state.case.case_id)
        calls = 0
        while self.queue:
            at, _, _, case_id, event = heapq.heappop(self.queue)
            if at > self.sim.end:
                break
            state = self.states[case_id]
            self.last = at
            if event is not None:
                self.apply(state, event)
            elif state.status != "paid" and state.next_check == at:
                calls += 1
                if calls > MAX_CALLS:
                    raise RuntimeError(f"debtor {state.case.debtor_id}: over {MAX_CALLS} engine calls")
                self.decide(state, at)
        self.finish()

    # ------------------------------------------------------------ the engine's side

    def decide(self, state: _CaseState, at: datetime) -> None:
        case = state.case
        others = tuple(e for e in self.wide if e.case_id != case.case_id)
        history = History((*state.events, *others), tuple(self.contacts))
        decision = decide(case, history, self.sim.policy, at)
        self.sim.rows.audit.extend(audit_rows(decision))
        self.track_promise(state, decision, at)
        state.status, state.segment, state.ladder = decision.status, decision.segment, decision.ladder
        if not state.decided:
            state.decided = True
            self.self_cure(state, at)
        intents = intent_rows(case, decision, at)
        for action, row in zip(decision.sends, intents, strict=True):
            self.send(state, action, row, at)
        state.next_check = None if decision.next_check is None else max(decision.next_check, at + TICK)
        if state.next_check is not None:
            self.push(state.next_check, case.case_id)

    def track_promise(self, state: _CaseState, decision: Decision, at: datetime) -> None:
        """Count a promise that ran out unpaid as broken, once, as the scheduler tick does."""
        until = next((a.until for a in decision.actions if a.kind == "hold" and a.rule == "promise"), None)
        if state.promise_until is not None and state.promise_until <= at:
            self.profile["broken_promises"] += 1
            self.sim.rows.audit.append(
                audit_row(at, state.case.case_id, "case", "broken_promise", rule="promise")
            )
            self.update_profile()
            state.promise_until = until
        elif until is not None:
            state.promise_until = until

    def send(self, state: _CaseState, action: Action, row: dict[str, Any], at: datetime) -> None:
        """Record the reminder as delivered (or not), then draw the debtor's answer."""
        case, channel = state.case, action.channel or ""
        behaviour = self.sim.model.behaviour(action.segment, channel)
        delivered = self.rng.random() < behaviour.delivered
        spec = self.sim.policy.channels.get(channel)
        connected = delivered and channel == "voice"
        self.contacts.append(
            Contact(
                intent_id=action.intent_id or "",
                case_id=case.case_id,
                channel=channel,
                ladder=action.ladder or "",
                step=action.step or 0,
                cycle=action.cycle or 0,
                seq=action.seq or 0,
                at=at,
                status=ContactStatus.DELIVERED if delivered else ContactStatus.SENT,
                connected=connected,
            )
        )
        row.update(
            state=IntentState.DELIVERED if delivered else IntentState.SENT,
            attempts=1,
            connected=connected,
            completed_at=at,
            address=case.address(spec.contact_kind) if spec else None,
            segments=self.sim.segments(case, channel, action.template or "", at)
            if spec is not None and spec.kind == "text"
            else None,
        )
        self.sim.rows.intents.append(row)
        self.sim.rows.audit.append(
            audit_row(at, case.case_id, "intent", "sent", channel, action.step, action.intent_id)
        )
        earlier, state.reminded = state.reminded, state.reminded + 1
        if connected:
            self.push(at + CALL, case.case_id, _event(EventKind.CONVERSATION, at + CALL, case, channel))
        if delivered:
            self.answer(state, channel, behaviour, earlier, at)

    # ------------------------------------------------------------ the debtor's side

    def answer(
        self, state: _CaseState, channel: str, behaviour: Behaviour, earlier: int, at: datetime
    ) -> None:
        """Draw one outcome of :data:`OUTCOMES` (or none) and when it happens."""
        roll = self.rng.random()
        median = behaviour.delay.total_seconds()
        when = at + timedelta(seconds=self.rng.lognormvariate(math.log(median), behaviour.spread))
        outcome = None
        for name, chance in zip(OUTCOMES, behaviour.chances(earlier), strict=True):
            if roll < chance:
                outcome = name
                break
            roll -= chance
        if outcome is None:
            return
        case = state.case
        texted = channel == "sms"
        events: list[Event] = []
        if outcome == "pay":
            events.append(_event(EventKind.PAYMENT, when, case, None, full=True))
        elif outcome == "promise":
            zone = candidate_zones(case.timezone, case.phone, self.sim.policy.default_timezone)[0]
            day = when.astimezone(zone).date() + timedelta(days=self.rng.randint(1, behaviour.promise_within))
            events.append(_event(EventKind.PROMISE, when, case, channel, date=day))
            if self.rng.random() < behaviour.keep_promise:
                latest = local_moment(day + timedelta(days=1), time(0), zone)
                paid = when + (latest - when) * self.rng.random()
                events.append(_event(EventKind.PAYMENT, paid, case, None, full=True))
        elif outcome == "reply":
            events.append(_event(EventKind.REPLY if texted else EventKind.ACK, when, case, channel))
        elif outcome == "opt_out":
            events.append(_event(EventKind.OPT_OUT, when, case, channel))
        else:
            events.append(_event(EventKind.DISPUTE, when, case, channel))
        if texted and outcome != "pay" and events[0].kind != EventKind.REPLY:
            events.insert(0, _event(EventKind.REPLY, when, case, channel))
        for event in events:
            self.push(event.at, case.case_id, event)

    def self_cure(self, state: _CaseState, at: datetime) -> None:
        """Some debtors pay whatever the reminders: one draw per case, when it is first decided."""
        rate = self.sim.model.behaviour(state.segment, None).self_cure
        if rate > 0:
            when = at + timedelta(days=self.rng.expovariate(rate))
            if when <= self.sim.end:
                self.push(
                    when, state.case.case_id, _event(EventKind.PAYMENT, when, state.case, None, full=True)
                )

    # ------------------------------------------------------------ what the store does with an event

    def apply(self, state: _CaseState, event: Event) -> None:
        if state.status == "paid":
            return  # a paid case takes no more answers in the simulation
        case = state.case
        state.events.append(event)
        if event.kind in _DEBTOR_WIDE:
            self.wide.append(event)
        self.sim.rows.events.append(event_row(event, case.debtor_id))
        self.sim.rows.audit.append(audit_row(event.at, case.case_id, "event", str(event.kind), event.channel))
        if event.kind == EventKind.PAYMENT:
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
        rows = self.sim.rows
        start = self.sim.start
        for state in self.states.values():
            rows.cases.append(
                case_row(
                    state.case,
                    start,
                    self.last,
                    status=state.status,
                    segment=state.segment,
                    ladder=state.ladder,
                    next_check_at=state.next_check,
                    closed_at=state.closed_at,
                    promise_until=state.promise_until,
                )
            )
        rows.debtors.append(
            {
                "debtor_id": next(iter(self.states.values())).case.debtor_id,
                **self.profile,
                "updated_at": self.last,
            }
        )


@dataclass
class _Run:
    policy: Policy
    model: ResponseModel
    start: datetime
    end: datetime
    seed: int
    segments: SegmentCounter
    rows: Rows = field(default_factory=Rows)


def simulate(
    policy: Policy,
    model: ResponseModel,
    cases: Iterable[Case],
    *,
    start: datetime,
    days: int,
    seed: int,
    segments: SegmentCounter | None = None,
    progress: Callable[[int], None] | None = None,
) -> Rows:
    """Simulate ``days`` of ``policy`` over ``cases``; return the rows a real run would have written."""
    by_debtor: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_debtor[case.debtor_id].append(case)
    run = _Run(policy, model, start, start + timedelta(days=days), seed, segments or _one_segment)
    for debtor_id in sorted(by_debtor):
        _Debtor(run, by_debtor[debtor_id]).run()
        if progress is not None:
            progress(len(by_debtor[debtor_id]))
    return run.rows


def _one_segment(case: Case, channel: str, template: str, at: datetime) -> int | None:
    return 1


def _event(kind: EventKind, at: datetime, case: Case, channel: str | None, **fields: Any) -> Event:
    return Event(kind, at, case_id=case.case_id, channel=channel, **fields)
