"""Turning what a debtor said into the events that steer the escalation.

A reply is always recorded (it is engagement, and the timeline shows it),
except HELP and START, which ask for information or lift an opt-out and
answer nothing about the debt. What a classifier understood adds the event
that changes course: an opt-out of the channel the reply names (or came on),
on the person and on the number; a promise with its date; a hold for a
person with its reason (a dispute, a lawyer, bankruptcy, a complaint to a
regulator, hardship, a death); a wrong number. "I have paid" is a *claim*:
the case waits for the lender's payment feed to confirm it, for a while.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dunning.core.domain.model import Event, EventKind
from dunning.core.domain.replies import Classification
from dunning.core.errors import DeliveryError

__all__ = ["event_for_delivery_error", "events_for_reply"]


#: Reply kinds a policy may send to a person (``hold``) instead of pausing the ladder.
_HOLDABLE = ("attorney", "bankruptcy", "complaint", "hardship", "deceased", "dispute", "paid", "help")


def events_for_reply(
    classification: Classification | None,
    *,
    text: str,
    case_id: str,
    channel: str,
    at: datetime,
    address: str | None = None,
    event_id: str | None = None,
    category: Callable[[str], str] | None = None,
) -> list[Event]:
    """The events one inbound reply stands for, the first carrying its id.

    ``category`` says what a kind of reply does under the policy (``hold``,
    ``reply``, ``verify``); by default disputes hold and the rest pause. An
    opt-out binds the person *and* the contact point it came from (two
    events), on the channel the reply names, or the one it came on.
    """
    kind = classification.kind if classification is not None else None
    action = (category or _default_category)(kind) if kind else "reply"
    named = (classification.channel if classification is not None else None) or channel

    def event(event_kind: EventKind, **extra: Any) -> Event:
        return Event(event_kind, at, case_id=case_id, text=text, **extra)

    if kind == "info":  # HELP: answered with the lender's contact; not a response that pauses
        return [event(EventKind.HELP, channel=channel, event_id=event_id)]
    if kind == "opt_in":  # START: contact on this channel is welcome again
        return _rights(event, EventKind.OPT_IN, named, address, event_id)
    reply = event(EventKind.REPLY, channel=channel, event_id=event_id)
    if kind == "opt_out":
        return [reply, *_rights(event, EventKind.OPT_OUT, named, address, None)]
    if kind == "wrong_number":
        return [reply, event(EventKind.WRONG_NUMBER, channel=channel, address=address)]
    if kind == "promise" and classification is not None:
        return [reply, event(EventKind.PROMISE, date=classification.date)]
    if kind in _HOLDABLE and action == "hold":
        if kind == "dispute":
            return [reply, event(EventKind.DISPUTE, channel=channel, reason="dispute")]
        return [reply, event(EventKind.HOLD, channel=channel, reason=kind)]
    if kind == "paid" and action == "verify":
        return [reply, event(EventKind.PAYMENT_CLAIM, channel=channel)]
    return [reply]


def _rights(
    event: Callable[..., Event], kind: EventKind, channel: str, address: str | None, event_id: str | None
) -> list[Event]:
    """A right recorded on the person, and on the contact point it came from."""
    person = event(kind, channel=channel, event_id=event_id)
    if not address:
        return [person]
    return [person, event(kind, channel=channel, address=address)]


def _default_category(kind: str | None) -> str:
    return (
        "hold"
        if kind in ("attorney", "bankruptcy", "complaint", "hardship", "deceased", "dispute")
        else ("verify" if kind == "paid" else "reply")
    )


def event_for_delivery_error(
    error: DeliveryError, *, case_id: str, channel: str, address: str | None, at: datetime
) -> Event | None:
    """What a provider's refusal proves about the debtor's contact point, as an event.

    An opt-out reported by the provider, a number that is no one's (every
    channel using it), or a contact point this channel cannot use; None when
    the error says nothing about the contact point.
    """
    text = f"provider:{error.code}" if error.code else "provider"
    if error.opt_out:  # the number refuses this sender: a right recorded on the contact point
        return Event(EventKind.OPT_OUT, at, case_id=case_id, channel=channel, address=address, text=text)
    if error.invalidates == "address":
        return Event(EventKind.WRONG_NUMBER, at, case_id=case_id, channel=channel, address=address, text=text)
    if error.invalidates == "channel":
        return Event(
            EventKind.INVALID_CONTACT, at, case_id=case_id, channel=channel, address=address, text=text
        )
    return None
