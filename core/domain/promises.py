"""Promises to pay: which count, when they run out, and the reminder on the promised day.

A promise pauses the ladder until its day plus a grace — within limits a
lender sets: a promise dated past ``promise_horizon`` or beyond the
``max_promises`` a loan may make is not a pause for months (the policy says
what it is instead). On the promised day itself one reminder goes out, on
its own template, as lawful as any other. Pure, like the engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dunning.core.domain.guardrails import earliest_lawful
from dunning.core.domain.model import ContactStatus, Event, EventKind, intent_id_for
from dunning.core.domain.situation import OptOuts, Situation, unreachable
from dunning.core.domain.zones import phone_region

__all__ = ["PROMISE_LADDER", "bounded", "deadline", "limit_reached", "number", "promise_day", "promised"]

#: The ladder name of reminders sent on a promised day (outside every ladder of the policy).
PROMISE_LADDER = "(promise)"


def promised(ctx: Situation, promise: Event) -> datetime:
    """The start of the promised day (the latest midnight across the debtor's zones)."""
    day = promise.date
    if day is None:
        day = promise.at.astimezone(ctx.zones[0]).date() + timedelta(days=ctx.policy.responses.promise_days)
    return ctx.local_midnight(day)


def deadline(ctx: Situation, promise: Event) -> datetime:
    """When a promise runs out: the end of the promised day, plus the grace."""
    return promised(ctx, promise) + timedelta(days=1) + ctx.policy.responses.promise_grace


def bounded(ctx: Situation, promise: Event) -> bool:
    """Whether a promise's day lies between the day it was made and the policy's horizon."""
    if promise.date is None:
        return True
    made = promise.at.astimezone(ctx.zones[0]).date()
    return 0 <= (promise.date - made).days <= ctx.policy.responses.promise_horizon.days


def number(ctx: Situation, promise: Event) -> int:
    """Which promise of this loan it is: 1 for the first."""
    return sum(
        1
        for e in ctx.events
        if e.kind == EventKind.PROMISE
        and e.case_id in (None, ctx.case.case_id)
        and (e.at, e.event_id or "") <= (promise.at, promise.event_id or "")
    )


def limit_reached(ctx: Situation, promise: Event) -> bool:
    """Whether this promise is one more than the loan may make."""
    return number(ctx, promise) > ctx.policy.responses.max_promises


def promise_day(ctx: Situation, promise: Event, *, opted: OptOuts) -> tuple[datetime, dict[str, Any]] | None:
    """When the promised day's reminder may go, and its intent's fields; None when none will.

    None when the policy sends none, it went already (or failed), or its
    channel cannot reach the debtor, or not lawfully (inside its channel's
    window) before the promise runs out.
    """
    wanted = ctx.policy.responses.promise_reminder
    if wanted is None:
        return None
    channel, template = wanted
    index = number(ctx, promise)
    done = [
        c
        for c in ctx.case_contacts
        if c.ladder == PROMISE_LADDER and c.cycle == index and c.status != ContactStatus.CANCELLED
    ]
    if done or unreachable(ctx, channel, opted) is not None:
        return None
    lawful = earliest_lawful(
        max(ctx.now, promised(ctx, promise)),
        channel,
        rails=ctx.policy.rails,
        zones=ctx.zones,
        case_id=ctx.case.case_id,
        contacts=ctx.contacts,
        events=ctx.events,
        phone_country=lambda: phone_region(ctx.case.phone),
        window=ctx.window(channel),
    )
    if lawful.at is None or lawful.at >= deadline(ctx, promise):
        return None
    seq = len(ctx.case_contacts)
    fields: dict[str, Any] = {
        "channel": channel,
        "template": template,
        "ladder": PROMISE_LADDER,
        "step": 0,
        "cycle": index,
        "seq": seq,
        "intent_id": intent_id_for(ctx.case.case_id, PROMISE_LADDER, 0, index, seq),
        "rule": lawful.rule,
    }
    return lawful.at, fields
