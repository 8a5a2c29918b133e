"""Turning what a debtor said into the events that steer the escalation.

A reply is always recorded (it is engagement, and the timeline shows it),
except HELP and START, which ask for information or lift an opt-out and
answer nothing about the debt;
what a classifier understood adds the event that changes course: an opt-out
of the channel it came on, a promise with its date, a dispute, a wrong
number. "I have paid" pauses the ladder like an acknowledgement — only the
lender's core system can confirm a payment.
"""

from __future__ import annotations

from datetime import datetime

from dunning.core.domain.model import Event, EventKind
from dunning.core.domain.replies import Classification
from dunning.core.errors import DeliveryError

__all__ = ["event_for_delivery_error", "events_for_reply"]


def events_for_reply(
    classification: Classification | None,
    *,
    text: str,
    case_id: str,
    channel: str,
    at: datetime,
    address: str | None = None,
    event_id: str | None = None,
) -> list[Event]:
    """The events one inbound reply stands for, the reply itself first."""
    kind = classification.kind if classification is not None else None
    if kind == "info":  # HELP: answered with the lender's contact; not a response that pauses
        return [Event(EventKind.HELP, at, case_id=case_id, channel=channel, text=text, event_id=event_id)]
    if kind == "opt_in":  # START: contact on this channel is welcome again
        return [Event(EventKind.OPT_IN, at, case_id=case_id, channel=channel, text=text, event_id=event_id)]
    reply = Event(EventKind.REPLY, at, case_id=case_id, channel=channel, text=text, event_id=event_id)
    if classification is None or kind == "help":
        return [reply]
    follow: Event
    if kind == "opt_out":
        follow = Event(EventKind.OPT_OUT, at, case_id=case_id, channel=channel, text=text)
    elif kind == "promise":
        follow = Event(EventKind.PROMISE, at, case_id=case_id, date=classification.date, text=text)
    elif kind == "dispute":
        follow = Event(EventKind.DISPUTE, at, case_id=case_id, channel=channel, text=text)
    elif kind == "wrong_number":
        follow = Event(
            EventKind.WRONG_NUMBER, at, case_id=case_id, channel=channel, address=address, text=text
        )
    else:  # "paid": a claim, confirmed only by the lender's payment feed
        follow = Event(EventKind.ACK, at, case_id=case_id, channel=channel, text=text)
    return [reply, follow]


def event_for_delivery_error(
    error: DeliveryError, *, case_id: str, channel: str, address: str | None, at: datetime
) -> Event | None:
    """What a provider's refusal proves about the debtor's contact point, as an event.

    An opt-out reported by the provider, a number that is no one's (every
    channel using it), or a contact point this channel cannot use; None when
    the error says nothing about the contact point.
    """
    text = f"provider:{error.code}" if error.code else "provider"
    if error.opt_out:
        return Event(EventKind.OPT_OUT, at, case_id=case_id, channel=channel, text=text)
    if error.invalidates == "address":
        return Event(EventKind.WRONG_NUMBER, at, case_id=case_id, channel=channel, address=address, text=text)
    if error.invalidates == "channel":
        return Event(
            EventKind.INVALID_CONTACT, at, case_id=case_id, channel=channel, address=address, text=text
        )
    return None
