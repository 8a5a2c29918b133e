"""The escalation engine: ``decide(case, history, policy, now) -> Decision``.

A pure function. It reads no clock, no database and no network: everything it
knows comes in as arguments, so the same inputs always give the same
decision, and its promises can be proven by property-based tests:

- nothing is sent after a payment, inside a dispute or hand-off hold, or on a
  channel the debtor opted out of;
- nothing is sent inside quiet hours in any zone the debtor may be in, or
  over any cap;
- a blocked send is deferred to the next lawful moment; one that can never be
  lawful is suppressed with the rule that forbids it.

The ladder's position is derived from the contacts in the history, so there
is no state to drift: the scheduler calls ``decide`` whenever a case is due
and turns a ``send`` action into an outbox row whose id is deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dunning.core.guardrails import earliest_lawful, local_moment
from dunning.core.model import (
    COUNTED,
    Case,
    Contact,
    ContactStatus,
    Event,
    EventKind,
    History,
    intent_id_for,
    utc,
)
from dunning.core.policy import Ladder, Policy, Step, Variant
from dunning.core.zones import candidate_zones, phone_region

__all__ = ["Action", "Decision", "assign_variant", "decide", "facts_for", "outstanding", "recheck"]

#: Channel names an opt-out uses to mean every channel.
ALL_CHANNELS = frozenset({None, "", "all", "any"})

#: How soon a case that matches no segment is looked at again.
RESEGMENT_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Action:
    """One thing the engine decided: ``send``, ``defer``, ``suppress``, ``stop`` or ``hold``.

    ``rule`` names what caused a defer, suppress, stop or hold; ``until`` is
    when a defer or hold ends (None for a hold that waits for a human).
    """

    kind: str
    at: datetime
    channel: str | None = None
    step: int | None = None
    cycle: int | None = None
    seq: int | None = None
    ladder: str | None = None
    segment: str | None = None
    template: str | None = None
    variant: str | None = None
    rule: str | None = None
    until: datetime | None = None
    intent_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """What to do for one case now, and when to look at it again.

    ``status`` is ``open`` (the ladder runs), ``held`` (a human must act or a
    promise runs), ``stopped`` (ladder ended, opted out, unreachable) or
    ``paid``. ``next_check`` is None when nothing will happen by itself.
    """

    case_id: str
    status: str
    actions: tuple[Action, ...]
    next_check: datetime | None
    segment: str | None = None
    ladder: str | None = None
    outstanding: Decimal | None = None

    @property
    def sends(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind == "send")


def outstanding(case: Case, events: Sequence[Event]) -> tuple[Decimal, bool]:
    """The amount still owed after payments, and whether a payment settled it in full."""
    amount = case.amount_due
    settled = False
    for event in events:
        if event.kind != EventKind.PAYMENT:
            continue
        if case.amount_as_of is not None and event.at <= case.amount_as_of:
            continue
        if event.amount is None or event.full:
            settled = True
        else:
            amount -= event.amount
    return amount, settled or amount <= 0


def facts_for(
    case: Case, history: History, policy: Policy, now: datetime, amount: Decimal | None = None
) -> dict[str, Any]:
    """The names a segment or step condition may use, for this case at ``now``."""
    zones = candidate_zones(case.timezone, case.phone, policy.default_timezone)
    if amount is None:
        amount = outstanding(case, [e for e in history.events if e.at <= now])[0]
    profile = case.profile
    return {
        "amount_due": amount,
        "currency": case.currency,
        "days_overdue": (now.astimezone(zones[0]).date() - case.due_date).days,
        "locale": case.locale,
        "tags": list(case.tags),
        "has_phone": bool(case.phone),
        "has_push": bool(case.push_token),
        "contacts_sent": sum(
            1 for c in history.contacts if c.case_id == case.case_id and c.status in COUNTED
        ),
        "previous_cures": int(profile.get("previous_cures", 0) or 0),
        "broken_promises": int(profile.get("broken_promises", 0) or 0),
        "kept_promises": int(profile.get("kept_promises", 0) or 0),
        "days_to_pay_last": profile.get("days_to_pay_last"),
    }


#: Same-instant events apply in this order, so the outcome never depends on the order they
#: were listed in: a resume before a hold (the hold stands), a reply before a promise.
_RANK = {
    EventKind.RESUME: 0,
    EventKind.REPLY: 1,
    EventKind.ACK: 2,
    EventKind.PROMISE: 3,
    EventKind.CONVERSATION: 4,
    EventKind.DISPUTE: 5,
    EventKind.HANDOFF: 6,
    EventKind.WRONG_NUMBER: 7,
    EventKind.INVALID_CONTACT: 8,
    EventKind.OPT_OUT: 9,
    EventKind.PAYMENT: 10,
}


def _event_order(event: Event) -> tuple[Any, ...]:
    """A total order of events: by time, then kind, then content."""
    return (
        event.at,
        _RANK.get(event.kind, 99),
        str(event.date or ""),
        str(event.amount or ""),
        event.channel or "",
        event.text or "",
        event.event_id or "",
    )


class _Ctx:
    """What one call of ``decide`` works from, computed once."""

    def __init__(self, case: Case, history: History, policy: Policy, now: datetime) -> None:
        self.case = case
        self.policy = policy
        self.now = now
        self.events = sorted((e for e in history.events if e.at <= now), key=_event_order)
        self.contacts = tuple(c for c in history.contacts if c.at <= now)
        self.case_contacts = sorted(
            (c for c in self.contacts if c.case_id == case.case_id), key=lambda c: (c.seq, c.at)
        )
        self.zones: tuple[ZoneInfo, ...] = candidate_zones(case.timezone, case.phone, policy.default_timezone)
        self.history = history

    def local_midnight(self, day: Any) -> datetime:
        """The latest midnight of ``day`` across the candidate zones (the careful one)."""
        return max(local_moment(day, time(0), z) for z in self.zones)


def decide(case: Case, history: History, policy: Policy, now: datetime) -> Decision:
    """Decide what to do for ``case`` at ``now``; see the module docstring."""
    ctx = _Ctx(case, history, policy, utc(now))
    amount, settled = outstanding(case, ctx.events)
    if settled:
        return _final(ctx, "paid", "stop", "paid", amount)
    opted = _opted_out(ctx.events)
    if opted & ALL_CHANNELS:
        return _final(ctx, "stopped", "stop", "opt_out", amount)
    hold = _active_hold(ctx.events)
    if hold is not None:
        return _final(ctx, "held", "hold", str(hold.kind), amount)

    facts = facts_for(case, history, policy, ctx.now, amount)
    segment = next((s for s in policy.segments if s.when is None or s.when(facts)), None)
    if segment is None:
        action = Action("suppress", ctx.now, rule="no_segment")
        return Decision(case.case_id, "open", (action,), ctx.now + RESEGMENT_AFTER, None, None, amount)
    ladder = policy.ladders[segment.ladder]
    done = _Positioned(ctx, ladder, segment.name, amount, facts, opted)
    return done.decide()


def _final(ctx: _Ctx, status: str, kind: str, rule: str, amount: Decimal) -> Decision:
    return Decision(ctx.case.case_id, status, (Action(kind, ctx.now, rule=rule),), None, outstanding=amount)


def _opted_out(events: Sequence[Event]) -> set[str | None]:
    return {e.channel for e in events if e.kind == EventKind.OPT_OUT}


def _active_hold(events: Sequence[Event]) -> Event | None:
    hold = None
    for event in events:
        if event.kind in (EventKind.DISPUTE, EventKind.HANDOFF):
            hold = event
        elif event.kind == EventKind.RESUME:
            hold = None
    return hold


class _Positioned:
    """The ladder walk for one case whose segment and ladder are known."""

    def __init__(
        self,
        ctx: _Ctx,
        ladder: Ladder,
        segment: str,
        amount: Decimal,
        facts: dict[str, Any],
        opted: set[str | None],
    ) -> None:
        self.ctx = ctx
        self.ladder = ladder
        self.segment = segment
        self.amount = amount
        self.facts = facts
        self.opted = opted

    def decision(
        self, actions: Sequence[Action], next_check: datetime | None, status: str = "open"
    ) -> Decision:
        return Decision(
            self.ctx.case.case_id,
            status,
            tuple(actions),
            next_check,
            self.segment,
            self.ladder.name,
            self.amount,
        )

    def action(self, kind: str, step: Step | None = None, cycle: int | None = None, **kw: Any) -> Action:
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
            **kw,
        )

    def decide(self) -> Decision:
        ctx = self.ctx
        pending = [c for c in ctx.case_contacts if c.status == ContactStatus.PENDING]
        if pending:
            # A reminder is on its way; the next one waits for its outcome.
            latest = pending[-1]
            step = ctx.policy.step(latest.ladder, latest.step)
            wait = step.wait if step else timedelta(0)
            return self.decision((), max(ctx.now, latest.at + wait))
        position = self.position()
        if isinstance(position, Decision):
            return position
        step_index, cycle, due = position
        if due > ctx.now:
            return self.decision((), due)
        return self.walk(step_index, cycle)

    def position(self) -> tuple[int, int, datetime] | Decision:
        """Where the ladder stands: the next step, its cycle and when it is due."""
        ctx = self.ctx
        ladder = self.ladder
        live = [c for c in ctx.case_contacts if c.status != ContactStatus.CANCELLED]
        mine = [c for c in live if c.ladder == ladder.name]
        last = mine[-1] if mine else None
        since = last.at if last else None
        response = next(
            (
                e
                for e in reversed(ctx.events)
                if e.kind in (EventKind.REPLY, EventKind.ACK, EventKind.PROMISE)
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
        if response is not None:
            if response.kind == EventKind.PROMISE:
                deadline = self.promise_deadline(response)
                if ctx.now < deadline:
                    hold = self.action("hold", rule="promise", until=deadline)
                    return self.decision((hold,), deadline, "held")
                due = max(due, deadline)
            else:
                pause = ctx.policy.responses.reply_pause
                level = last.step if last else 0
                if pause is None:
                    pause = ladder.steps[min(level, len(ladder.steps) - 1)].wait
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
            return self.decision((self.action("hold", rule="handoff"),), None, "held")
        return self.decision((self.action("stop", rule="ladder_end"),), None, "stopped")

    def promise_deadline(self, promise: Event) -> datetime:
        ctx = self.ctx
        day = promise.date
        if day is None:
            day = promise.at.astimezone(ctx.zones[0]).date() + timedelta(
                days=ctx.policy.responses.promise_days
            )
        return ctx.local_midnight(day + timedelta(days=1)) + ctx.policy.responses.promise_grace

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
                lawful = earliest_lawful(
                    ctx.now,
                    step.channel,
                    rails=ctx.policy.rails,
                    zones=ctx.zones,
                    case_id=ctx.case.case_id,
                    contacts=ctx.contacts,
                    events=ctx.events,
                    phone_country=phone_region(ctx.case.phone),
                )
                if lawful.at is not None and lawful.at > ctx.now:
                    actions.append(self.action("defer", step, cycle, rule=lawful.rule, until=lawful.at))
                    return self.decision(actions, lawful.at)
                if lawful.at is not None:
                    actions.append(self.send(step, cycle))
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
        return _unreachable(self.ctx, step.channel, self.opted)

    def send(self, step: Step, cycle: int) -> Action:
        ctx = self.ctx
        seq = len(ctx.case_contacts)
        variant = self.variant(step)
        return self.action(
            "send",
            step,
            cycle,
            seq=seq,
            template=variant.template,
            variant=variant.name if step.is_ab else None,
            intent_id=intent_id_for(ctx.case.case_id, self.ladder.name, step.index, cycle, seq),
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


def _unreachable(ctx: _Ctx, channel: str, opted: set[str | None]) -> str | None:
    """Why ``channel`` cannot reach the debtor now: unavailable, opted out, no or bad address."""
    spec = ctx.policy.channels.get(channel)
    if spec is None:
        return f"channel_unavailable:{channel}"
    if channel in opted:
        return f"opt_out:{channel}"
    address = ctx.case.address(spec.contact_kind)
    if not address:
        return f"no_address:{spec.contact_kind}"
    for event in ctx.events:
        if event.address not in (None, address):
            continue
        if event.kind == EventKind.WRONG_NUMBER and _contact_kind_of(ctx, event) == spec.contact_kind:
            return f"invalid_contact:{spec.contact_kind}"
        if event.kind == EventKind.INVALID_CONTACT and event.channel == channel:
            return f"invalid_contact:{channel}"
    return None


def _contact_kind_of(ctx: _Ctx, event: Event) -> str | None:
    """The contact kind a wrong-number report is about (the phone, unless said)."""
    if event.channel is None:
        return "phone"
    spec = ctx.policy.channels.get(event.channel)
    return spec.contact_kind if spec else event.channel


def recheck(
    case: Case, history: History, policy: Policy, *, channel: str, intent_id: str, now: datetime
) -> Action | None:
    """Is a planned reminder still right to send at ``now``? None means yes.

    The delivery worker asks this against the freshest history, just before
    calling the channel: ``stop`` (paid, opted out of everything), ``hold``
    (dispute, hand-off), ``suppress`` (this channel can no longer reach the
    debtor, or never lawfully) or ``defer`` with ``until`` (not lawful yet).
    """
    ctx = _Ctx(case, history, policy, utc(now))
    _, settled = outstanding(case, ctx.events)
    if settled:
        return Action("stop", ctx.now, channel=channel, rule="paid", intent_id=intent_id)
    opted = _opted_out(ctx.events)
    if opted & ALL_CHANNELS:
        return Action("stop", ctx.now, channel=channel, rule="opt_out", intent_id=intent_id)
    hold = _active_hold(ctx.events)
    if hold is not None:
        return Action("hold", ctx.now, channel=channel, rule=str(hold.kind), intent_id=intent_id)
    reason = _unreachable(ctx, channel, opted)
    if reason is not None:
        return Action("suppress", ctx.now, channel=channel, rule=reason, intent_id=intent_id)
    lawful = earliest_lawful(
        ctx.now,
        channel,
        rails=policy.rails,
        zones=ctx.zones,
        case_id=case.case_id,
        contacts=ctx.contacts,
        events=ctx.events,
        phone_country=phone_region(case.phone),
        exclude_intent=intent_id,
    )
    if lawful.at is None:
        return Action(
            "suppress", ctx.now, channel=channel, rule=lawful.rule or "never_lawful", intent_id=intent_id
        )
    if lawful.at > ctx.now:
        return Action(
            "defer", ctx.now, channel=channel, rule=lawful.rule, until=lawful.at, intent_id=intent_id
        )
    return None


def assign_variant(debtor_id: str, ladder: str, step: Step) -> Variant:
    """A stable, weighted choice: the same debtor always gets the same variant."""
    digest = hashlib.sha256(f"{debtor_id}\x1f{ladder}\x1f{step.index}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in step.variants)
    for variant in step.variants:
        point -= variant.weight
        if point < 0:
            return variant
    return step.variants[-1]
