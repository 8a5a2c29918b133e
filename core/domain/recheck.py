"""The send-time re-check: is a planned reminder still right to send now?"""

from __future__ import annotations

from datetime import datetime

from dunning.core.domain.actions import Action
from dunning.core.domain.guardrails import earliest_lawful
from dunning.core.domain.model import Case, History, utc
from dunning.core.domain.situation import (
    Situation,
    active_hold,
    hold_reason,
    opted_out,
    outstanding,
    unreachable,
)
from dunning.core.domain.zones import phone_region
from dunning.core.policy.model import Policy

__all__ = ["recheck"]


def recheck(
    case: Case,
    history: History,
    policy: Policy,
    *,
    channel: str,
    intent_id: str,
    now: datetime,
    ladder: str | None = None,
    step: int | None = None,
) -> Action | None:
    """Is a planned reminder still right to send at ``now``? None means yes.

    The delivery worker asks this against the freshest history, just before
    calling the channel: ``stop`` (paid, opted out of everything), ``hold``
    (dispute, hand-off), ``suppress`` (this channel can no longer reach the
    debtor, or never lawfully) or ``defer`` with ``until`` (not lawful yet,
    or outside its send window: its ladder's step, when named, narrows its
    channel's).
    """
    ctx = Situation(case, history, policy, utc(now))
    _, settled = outstanding(case, ctx.events)
    if settled:
        return Action("stop", ctx.now, channel=channel, rule="paid", intent_id=intent_id)
    opted = opted_out(ctx.events, case.debtor_id)
    if opted.all_contact:
        return Action("stop", ctx.now, channel=channel, rule="opt_out", intent_id=intent_id)
    hold = active_hold(ctx.events)
    if hold is not None:
        return Action("hold", ctx.now, channel=channel, rule=hold_reason(hold), intent_id=intent_id)
    reason = unreachable(ctx, channel, opted)
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
        phone_country=lambda: phone_region(case.phone),
        exclude_intent=intent_id,
        window=ctx.window(channel, policy.step(ladder, step) if ladder and step is not None else None),
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
