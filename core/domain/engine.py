"""The escalation engine: ``decide(case, history, policy, now) -> Decision``.

A pure function. It reads no clock, no database and no network: everything it
knows comes in as arguments, so the same inputs always give the same
decision, and its promises can be proven by property-based tests:

- nothing is sent after a payment, after a person closed the case, inside a
  dispute or hand-off hold, or on a channel the debtor opted out of;
- nothing is sent inside quiet hours in any zone the debtor may be in, or
  over any cap;
- a blocked send is deferred to the next lawful moment; one that can never be
  lawful is suppressed with the rule that forbids it.

The ladder's position is derived from the contacts in the history, so there
is no state to drift: the scheduler calls ``decide`` whenever a case is due
and turns a ``send`` action into an outbox row whose id is deterministic.
The next step waits while a reminder is on its way, and while one that may
or may not have left is being settled with its provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dunning.core.domain import promises
from dunning.core.domain.actions import Action, ActionKind, CaseStatus, Decision
from dunning.core.domain.assignment import assign_variant
from dunning.core.domain.model import (
    Case,
    Contact,
    ContactStatus,
    Event,
    EventKind,
    History,
    intent_id_for,
    utc,
)
from dunning.core.domain.promises import PROMISE_LADDER
from dunning.core.domain.recheck import recheck
from dunning.core.domain.situation import (
    OptOuts,
    Situation,
    active_hold,
    facts_for,
    hold_reason,
    opted_out,
    outstanding,
    unreachable,
)
from dunning.core.domain.timing import send_time
from dunning.core.policy.model import Ladder, Policy, Step, Variant

__all__ = ["Action", "Decision", "assign_variant", "decide", "facts_for", "outstanding", "recheck"]

#: Events that answer the ladder: it pauses (or holds) for them.
RESPONSES = (EventKind.REPLY, EventKind.ACK, EventKind.PROMISE, EventKind.PAYMENT_CLAIM)
#: How soon a case that matches no segment is looked at again.
RESEGMENT_AFTER = timedelta(days=1)
#: How long past its step's wait a reminder in doubt holds the ladder while its
#: provider is asked whether it left; after that the ladder moves on, counting it.
SETTLE_GRACE = timedelta(days=1)
#: How often a case held by a reminder in doubt is looked at again, in case no
#: settlement woke it.
SETTLE_RECHECK = timedelta(minutes=15)


def decide(case: Case, history: History, policy: Policy, now: datetime) -> Decision:
    """Decide what to do for ``case`` at ``now``; see the module docstring."""
    ctx = Situation(case, history, policy, utc(now))
    amount, settled = outstanding(case, ctx.events)
    closed = next((e for e in reversed(ctx.events) if e.kind == EventKind.CLOSE), None)
    if closed is not None:
        return _final(ctx, "closed", "stop", f"closed:{closed.text or 'closed'}", amount)
    if settled:
        return _final(ctx, "paid", "stop", "paid", amount)
    opted = opted_out(ctx.events, case.debtor_id)
    if opted.all_contact:
        return _final(ctx, "stopped", "stop", "opt_out", amount)
    hold = active_hold(ctx.events)
    if hold is not None:
        return _final(ctx, "held", "hold", hold_reason(hold), amount)
    if ctx.strategy is not None and ctx.strategy.contact == "none":
        return _final(ctx, "stopped", "stop", "holdout", amount)

    facts = facts_for(case, history, policy, ctx.now, amount)
    if ctx.strategy is not None and ctx.strategy.contact == "courtesy" and facts["days_overdue"] >= 0:
        return _final(ctx, "stopped", "stop", "holdout:courtesy", amount)
    segment = next((s for s in ctx.segments if s.when is None or s.when(facts)), None)
    if segment is None:
        action = Action("suppress", ctx.now, rule="no_segment", strategy=_name(ctx))
        decision = Decision(case.case_id, "open", (action,), ctx.now + RESEGMENT_AFTER, None, None, amount)
        return replace(decision, strategy=_name(ctx))
    ladder = policy.ladders[segment.ladder]
    done = _Positioned(ctx, ladder, segment.name, amount, facts, opted)
    return done.decide()


def _final(ctx: Situation, status: CaseStatus, kind: ActionKind, rule: str, amount: Decimal) -> Decision:
    action = Action(kind, ctx.now, rule=rule, strategy=_name(ctx))
    return Decision(ctx.case.case_id, status, (action,), None, outstanding=amount, strategy=_name(ctx))


def _name(ctx: Situation) -> str | None:
    """The name of the debtor's strategy, to record (None: the policy splits none)."""
    return ctx.strategy.name if ctx.strategy is not None else None


class _Positioned:
    """The ladder walk for one case whose segment and ladder are known."""

    def __init__(
        self,
        ctx: Situation,
        ladder: Ladder,
        segment: str,
        amount: Decimal,
        facts: dict[str, Any],
        opted: OptOuts,
    ) -> None:
        self.ctx = ctx
        self.ladder = ladder
        self.segment = segment
        self.amount = amount
        self.facts = facts
        self.opted = opted

    def decision(
        self, actions: Sequence[Action], next_check: datetime | None, status: CaseStatus = "open"
    ) -> Decision:
        return Decision(
            self.ctx.case.case_id,
            status,
            tuple(actions),
            next_check,
            self.segment,
            self.ladder.name,
            self.amount,
            _name(self.ctx),
        )

    def action(
        self, kind: ActionKind, step: Step | None = None, cycle: int | None = None, **kw: Any
    ) -> Action:
        if step is not None:
            kw.setdefault("channel", step.channel)
            kw.setdefault("template", step.template)
        return Action(
            kind,
            self.ctx.now,
            step=None if step is None else step.index,
            cycle=cycle,
            ladder=self.ladder.name,
            segment=self.segment,
            strategy=_name(self.ctx),
            **kw,
        )

    def decide(self) -> Decision:
        ctx = self.ctx
        pending = [
            c for c in ctx.case_contacts if c.status == ContactStatus.PENDING and c.ladder != PROMISE_LADDER
        ]
        if pending:
            # A reminder is on its way; the next one waits for its outcome.
            latest = pending[-1]
            return self.decision((), max(ctx.now, latest.at + self.wait_after(latest)))
        position = self.position()
        if isinstance(position, Decision):
            return position
        step_index, cycle, due = position
        if due > ctx.now:
            return self.decision((), due)
        settling = self.settling_until()
        if settling is not None:
            return self.decision((), settling)
        return self.walk(step_index, cycle)

    def settling_until(self) -> datetime | None:
        """When to look again at a case whose next step waits for a reminder in doubt.

        The reminder may or may not have left and its provider is being asked;
        settling it wakes the case. After a day past its step's wait the ladder
        moves on (None), counting it as contact.
        """
        doubt = [c for c in self.ctx.case_contacts if c.status == ContactStatus.IN_DOUBT]
        if not doubt:
            return None
        latest = doubt[-1]
        give_up = latest.at + self.wait_after(latest) + SETTLE_GRACE
        if self.ctx.now >= give_up:
            return None
        return min(give_up, self.ctx.now + SETTLE_RECHECK)

    def wait_after(self, contact: Contact) -> timedelta:
        step = self.ctx.policy.step(contact.ladder, contact.step)
        return step.wait if step else timedelta(0)

    def position(self) -> tuple[int, int, datetime] | Decision:
        """Where the ladder stands: the next step, its cycle and when it is due."""
        ctx = self.ctx
        ladder = self.ladder
        live = [
            c for c in ctx.case_contacts if c.status != ContactStatus.CANCELLED and c.ladder != PROMISE_LADDER
        ]
        mine = [c for c in live if c.ladder == ladder.name]
        last = mine[-1] if mine else None
        since = last.at if last else None
        response = next(
            (
                e
                for e in reversed(ctx.events)
                if e.kind in RESPONSES
                and e.case_id in (None, ctx.case.case_id)
                and (since is None or e.at > since)
            ),
            None,
        )
        if last is None:
            step_index, cycle = 0, 0
            due = ctx.local_midnight(ctx.case.due_date) + ladder.start_after
            others = [c for c in live if c.ladder != ladder.name]
            if others:
                other = others[-1]
                step = ctx.policy.step(other.ladder, other.step)
                due = max(due, other.at + (step.wait if step else timedelta(0)))
        else:
            moved = self.after(last, mine)
            if isinstance(moved, Decision):
                if response is None:
                    return moved
                # An answer after the last rung reopens it: once more at that level.
                moved = (last.step, last.cycle + 1)
            step_index, cycle = moved
            step = ladder.steps[min(last.step, len(ladder.steps) - 1)]
            due = last.at if last.status == ContactStatus.FAILED else last.at + step.wait
        if response is not None and response.kind == EventKind.PROMISE:
            counted = self.promise_within_rules(response)
            if isinstance(counted, Decision):
                return counted
            response = counted
        if response is not None:
            if response.kind == EventKind.PROMISE:
                deadline = promises.deadline(ctx, response)
                if ctx.now < deadline:
                    return self.promise_hold(response, deadline)
                due = max(due, deadline)
            elif (
                response.kind == EventKind.PAYMENT_CLAIM
                and ctx.now < response.at + ctx.policy.responses.claim_window
            ):
                until = response.at + ctx.policy.responses.claim_window
                hold = self.action("hold", rule="payment_claimed", until=until)
                return self.decision((hold,), until, "held")
            else:
                pause = ctx.policy.responses.reply_pause
                level = last.step if last else 0
                if pause is None:
                    pause = ladder.steps[min(level, len(ladder.steps) - 1)].wait
                if response.kind == EventKind.PAYMENT_CLAIM:
                    pause = ctx.policy.responses.claim_window
                step_index, cycle = (min(level, len(ladder.steps) - 1), last.cycle if last else 0)
                due = response.at + pause
        return step_index, cycle, due

    def after(self, last: Contact, mine: Sequence[Contact]) -> tuple[int, int] | Decision:
        """The position after ``last``: a repeat of its step, the next step, or the ladder's end."""
        steps = self.ladder.steps
        if last.step < len(steps) and last.status != ContactStatus.FAILED:
            step = steps[last.step]
            if step.repeat:
                done = sum(
                    1
                    for c in mine
                    if c.step == last.step and c.cycle == last.cycle and c.status != ContactStatus.FAILED
                )
                if done <= step.repeat:
                    return last.step, last.cycle
        return self.advance(last.step, last.cycle)

    def advance(self, step: int, cycle: int) -> tuple[int, int] | Decision:
        steps = self.ladder.steps
        if step + 1 < len(steps):
            return step + 1, cycle
        then = self.ladder.then
        if then == "repeat_last":
            return len(steps) - 1, cycle + 1
        if then == "restart":
            return 0, cycle + 1
        if then == "handoff":
            if self.resumed_after_last_contact():
                return 0, cycle + 1  # a person sent the case back: the ladder runs again
            return self.decision((self.action("hold", rule="handoff"),), None, "held")
        return self.decision((self.action("stop", rule="ladder_end"),), None, "stopped")

    def resumed_after_last_contact(self) -> bool:
        """Whether a person released the case since its last contact (the end of the ladder)."""
        contacts = self.ctx.case_contacts
        since = contacts[-1].at if contacts else None
        return any(e.kind == EventKind.RESUME and (since is None or e.at > since) for e in self.ctx.events)

    def promise_within_rules(self, promise: Event) -> Event | Decision:
        """A promise as it counts: itself, a plain reply, or a hold for a person.

        Beyond the horizon (a date months away) or beyond the number of promises
        a loan may make, the policy decides: heard as a reply, or held for a
        person — until a person resumes the case.
        """
        ctx = self.ctx
        responses = ctx.policy.responses
        if not promises.bounded(ctx, promise):
            rule, action = "promise_beyond_horizon", responses.beyond_horizon
        elif promises.limit_reached(ctx, promise):
            rule, action = "promise_limit", responses.beyond_max_promises
        else:
            return promise
        resumed = any(e.kind == EventKind.RESUME and e.at > promise.at for e in ctx.events)
        if action == "handoff" and not resumed:
            return self.decision((self.action("hold", rule=rule),), None, "held")
        return replace(promise, kind=EventKind.REPLY)  # heard, but no pause for months

    def promise_hold(self, promise: Event, deadline: datetime) -> Decision:
        """Held until the promise runs out, with one reminder on the promised day."""
        ctx = self.ctx
        hold = self.action("hold", rule="promise", until=deadline)
        reminder = promises.promise_day(ctx, promise, opted=self.opted)
        if reminder is None:
            return self.decision((hold,), deadline, "held")
        at, fields = reminder
        rule = fields.pop("rule")
        fields.update(segment=self.segment, strategy=_name(ctx))
        if at <= ctx.now:
            send = Action("send", ctx.now, **fields)
            return self.decision((send, hold), deadline, "held")
        if ctx.now >= promises.promised(ctx, promise):
            defer = Action("defer", ctx.now, rule=rule, until=at, **fields)
            return self.decision((defer, hold), at, "held")
        return self.decision((hold,), at, "held")

    def walk(self, step_index: int, cycle: int) -> Decision:
        """From a due step, fall through unusable steps to a send, a deferral or an end."""
        ctx = self.ctx
        actions: list[Action] = []
        seen: set[int] = set()
        while True:
            if step_index in seen:
                actions.append(self.action("hold", rule="unreachable"))
                return self.decision(actions, None, "held")
            seen.add(step_index)
            step = self.ladder.steps[step_index]
            reason = self.unusable(step)
            if reason is None:
                joins = self.joinable(step.channel)
                lawful = send_time(ctx, step, self.segment, joins)
                if lawful.at is not None and lawful.at > ctx.now:
                    actions.append(self.action("defer", step, cycle, rule=lawful.rule, until=lawful.at))
                    return self.decision(actions, lawful.at)
                if lawful.at is not None:
                    actions.append(self.send(step, cycle, joins))
                    return self.decision(actions, ctx.now + max(step.wait, timedelta(minutes=1)))
                reason = lawful.rule or "never_lawful"
            actions.append(self.action("suppress", step, cycle, rule=reason))
            moved = self.advance(step_index, cycle)
            if isinstance(moved, Decision):
                return replace(moved, actions=(*actions, *moved.actions))
            step_index, cycle = moved

    def unusable(self, step: Step) -> str | None:
        """Why this step cannot reach the debtor now (its condition included), or None."""
        if step.channel in self.ctx.policy.channels and step.when is not None and not step.when(self.facts):
            return "condition"
        return unreachable(self.ctx, step.channel, self.opted)

    def joinable(self, channel: str) -> str | None:
        """A message of another of the person's loans, going on ``channel`` now, that this one may join."""
        ctx = self.ctx
        if not ctx.policy.combine:
            return None
        for contact in ctx.contacts:
            if (
                contact.status == ContactStatus.PENDING
                and contact.channel == channel
                and contact.at == ctx.now
                and contact.case_id != ctx.case.case_id
                and contact.ladder != PROMISE_LADDER
            ):
                return contact.message
        return None

    def send(self, step: Step, cycle: int, joins: str | None = None) -> Action:
        ctx = self.ctx
        seq = len(ctx.case_contacts)
        variant = self.variant(step)
        intent_id = intent_id_for(ctx.case.case_id, self.ladder.name, step.index, cycle, seq)
        return self.action(
            "send",
            step,
            cycle,
            seq=seq,
            template=variant.template,
            variant=variant.name if step.is_ab else None,
            intent_id=intent_id,
            message_id=joins or intent_id,
        )

    def variant(self, step: Step) -> Variant:
        if not step.is_ab:
            return step.variants[0]
        chooser = self.ctx.policy.chooser
        if chooser is not None:
            chosen = chooser(self.ctx.case, step, step.variants)
            for variant in step.variants:
                if variant.name == chosen:
                    return variant
        return assign_variant(self.ctx.case.debtor_id, self.ladder.name, step)
