"""A case's situation at a moment: what it owes, what holds it, and which channels can reach it.

Shared by the engine (which plans) and the send-time re-check (which confirms);
pure, like both of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dunning.core.domain.assignment import strategy_of
from dunning.core.domain.model import COUNTED, Case, Event, EventKind, History
from dunning.core.domain.windows import SendWindow, narrowed
from dunning.core.domain.zones import candidate_zones, local_moment
from dunning.core.policy.attributes import typed
from dunning.core.policy.model import Policy, Segment, Step

__all__ = [
    "ALL_CHANNELS",
    "OptOuts",
    "Situation",
    "active_hold",
    "facts_for",
    "hold_reason",
    "opted_out",
    "outstanding",
    "unreachable",
]

#: Channel names an opt-out uses to mean every channel.
ALL_CHANNELS = frozenset({None, "", "all", "any"})


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
    today = now.astimezone(zones[0]).date()
    return {
        **typed(policy.attributes, case.attributes),
        "today": today,
        "amount_due": amount,
        "currency": case.currency,
        "days_overdue": (today - case.due_date).days,
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
    EventKind.OPT_IN: -1,  # a START and a STOP at the same instant: the STOP stands
    EventKind.CONSENT: -1,
    EventKind.RESUME: 0,
    EventKind.REPLY: 1,
    EventKind.ACK: 2,
    EventKind.PROMISE: 3,
    EventKind.CONVERSATION: 4,
    EventKind.PAYMENT_CLAIM: 4,
    EventKind.DISPUTE: 5,
    EventKind.HOLD: 5,
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


class Situation:
    """What the engine and the re-check know of a case at one moment, computed once."""

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
        #: the debtor's strategy (None: the policy splits none), as recorded or newly assigned
        self.strategy = strategy_of(case, policy, history.learned.closed_strategies)

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The segments of the debtor's strategy, or the policy's own."""
        return self.strategy.segments if self.strategy is not None else self.policy.segments

    def window(self, channel: str, step: Step | None = None) -> SendWindow | None:
        """When ``channel`` may send for this debtor: the strategy's channel window, narrowed by the step's."""
        windows = self.strategy.windows if self.strategy is not None else self.policy.windows
        return narrowed(windows.get(channel), step.window if step is not None else None)

    def local_midnight(self, day: Any) -> datetime:
        """The latest midnight of ``day`` across the candidate zones (the careful one)."""
        return _latest_midnight(day, self.zones)


@lru_cache(maxsize=4096)
def _latest_midnight(day: Any, zones: tuple[ZoneInfo, ...]) -> datetime:
    """Cached: a page's cases share a few due dates and zones."""
    return max(local_moment(day, time(0), z) for z in zones)


@dataclass(frozen=True)
class OptOuts:
    """Which channels the debtor has opted out of, after every opt-out and opt-in in order.

    ``everything`` is an opt-out of all contact; ``except_`` are channels the
    debtor took back since (texting START after "stop all contact" lifts the
    texts, nothing else).
    """

    channels: frozenset[str] = frozenset()
    everything: bool = False
    except_: frozenset[str] = frozenset()

    def blocks(self, channel: str) -> bool:
        if channel in self.channels:
            return True
        return self.everything and channel not in self.except_

    @property
    def all_contact(self) -> bool:
        """Every channel is stopped: an opt-out of everything with nothing taken back."""
        return self.everything and not self.except_


#: Events that grant or withdraw the right to contact on a channel.
_RIGHTS = (EventKind.OPT_OUT, EventKind.OPT_IN, EventKind.CONSENT)


def opted_out(events: Sequence[Event], debtor_id: str | None = None, address: str | None = None) -> OptOuts:
    """The opt-outs standing after ``events`` (in their order) for one person at one contact point.

    A right recorded on the person (no ``address``) follows them to every
    number; one recorded on a contact point binds that number or token
    whoever it belongs to — a STOP from a family phone stops it for all of
    them. With ``address`` None only the person's own rights count.
    """
    channels: set[str] = set()
    everything = False
    taken_back: set[str] = set()
    for event in events:
        if event.kind not in _RIGHTS:
            continue
        if event.address is None:
            if debtor_id is not None and event.debtor_id not in (None, debtor_id):
                continue
        elif address is None or event.address != address:
            continue
        if event.kind == EventKind.OPT_OUT:
            if event.channel in ALL_CHANNELS:
                everything, taken_back = True, set()
            else:
                channels.add(event.channel or "")
                taken_back.discard(event.channel or "")
        elif event.channel in ALL_CHANNELS:
            channels, everything, taken_back = set(), False, set()
        else:
            channels.discard(event.channel or "")
            if everything:
                taken_back.add(event.channel or "")
    return OptOuts(frozenset(channels), everything, frozenset(taken_back))


#: Events that hold a case for a person until a human resumes it.
HOLDING = (EventKind.DISPUTE, EventKind.HANDOFF, EventKind.HOLD)


def active_hold(events: Sequence[Event]) -> Event | None:
    """The hold for a person standing after ``events``, if any (a resume releases it)."""
    hold = None
    for event in events:
        if event.kind in HOLDING:
            hold = event
        elif event.kind == EventKind.RESUME:
            hold = None
    return hold


def hold_reason(event: Event) -> str:
    """Why a case is held: the hold's reason (``attorney``, ...) or its kind (``dispute``, ``handoff``)."""
    return event.reason or str(event.kind)


def unreachable(ctx: Situation, channel: str, opted: OptOuts | None = None) -> str | None:
    """Why ``channel`` cannot reach the debtor now: unavailable, opted out, no or bad address.

    ``opted`` is the person's own opt-outs; those recorded on the contact
    point this channel would use (by anyone who shares it) are added here.
    """
    spec = ctx.policy.channels.get(channel)
    if spec is None:
        return f"channel_unavailable:{channel}"
    debtor = ctx.case.debtor_id
    if opted is not None and opted.blocks(channel):
        return f"opt_out:{channel}"
    address = ctx.case.address(spec.contact_kind)
    if not address:
        return f"no_address:{spec.contact_kind}"
    if opted_out(ctx.events, debtor, address).blocks(channel):
        return f"opt_out:{channel}"
    for event in ctx.events:
        if event.address not in (None, address):
            continue
        mine = event.debtor_id in (None, debtor)
        if mine and event.kind == EventKind.WRONG_NUMBER and contact_kind_of(ctx, event) == spec.contact_kind:
            return f"invalid_contact:{spec.contact_kind}"
        if event.kind == EventKind.INVALID_CONTACT and event.channel == channel:
            return f"invalid_contact:{channel}"
    return None


def contact_kind_of(ctx: Situation, event: Event) -> str | None:
    """The contact kind a wrong-number report is about (the phone, unless said)."""
    if event.channel is None:
        return "phone"
    spec = ctx.policy.channels.get(event.channel)
    return spec.contact_kind if spec else event.channel
