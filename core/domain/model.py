"""The domain model: cases, events, contacts, intents and attempts.

These are plain frozen dataclasses. The engine reads them and never changes
them; the store turns them into rows and back. Money is ``Decimal`` with a
currency; times are aware datetimes in UTC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "Attempt",
    "Case",
    "Contact",
    "ContactStatus",
    "Event",
    "EventKind",
    "History",
    "Intent",
    "IntentState",
    "Learned",
    "Money",
    "intent_id_for",
    "utc",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is refused, never guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Money:
    """An amount in a currency; never a float."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@dataclass(frozen=True)
class Case:
    """One overdue debt of one debtor, as imported.

    ``amount_due`` is the outstanding amount as of ``amount_as_of``; payments
    recorded after that moment reduce it. ``contacts`` holds contact points
    beyond the phone and push token (an e-mail address for a third-party
    channel, say), keyed by contact kind. ``profile`` carries the debtor's
    repayment history (previous cures, broken promises, ...) for segment
    conditions.
    """

    case_id: str
    debtor_id: str
    name: str
    account: str
    amount_due: Decimal
    currency: str
    due_date: date
    locale: str = "en"
    phone: str | None = None
    push_token: str | None = None
    timezone: str | None = None
    payment_url: str | None = None
    contact: str | None = None
    tags: tuple[str, ...] = ()
    contacts: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    profile: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    amount_as_of: datetime | None = None
    #: the repayment deadline the lender set (None: the policy's ``deadline`` decides)
    deadline: date | None = None
    #: the lender's own attributes, as stored (typed by the policy that declares them); from an
    #: import, those its row carries (None: cleared), which replace the stored ones of those names
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    #: the strategy the debtor was assigned to (None: not yet, or the policy splits none)
    strategy: str | None = None

    @property
    def money(self) -> Money:
        return Money(self.amount_due, self.currency)

    def address(self, contact_kind: str) -> str | None:
        """The contact point of the given kind (``phone``, ``push_token``, ...)."""
        if contact_kind == "phone":
            return self.phone or None
        if contact_kind == "push_token":
            return self.push_token or None
        return self.contacts.get(contact_kind) or None


class EventKind(StrEnum):
    """What can happen to a case from outside the engine."""

    PAYMENT = "payment"  #: money received; full when it covers the amount
    PROMISE = "promise"  #: promise to pay by ``date``
    REPLY = "reply"  #: a free-text reply, recorded as engagement
    ACK = "ack"  #: the debtor acknowledged (push opened, keypress 1)
    DISPUTE = "dispute"  #: "not my debt": hold for a human
    OPT_OUT = "opt_out"  #: stop using ``channel`` (or every channel)
    OPT_IN = "opt_in"  #: the debtor took back an opt-out of ``channel`` (e.g. texted START)
    WRONG_NUMBER = "wrong_number"  #: the contact point is not the debtor's (every channel using it)
    INVALID_CONTACT = "invalid_contact"  #: this channel cannot use the contact point
    CONVERSATION = "conversation"  #: a call answered by the debtor (Reg F cool-down)
    HANDOFF = "handoff"  #: the debtor asked for, or the ladder ended with, a human
    RESUME = "resume"  #: a human released a dispute or hand-off hold
    HELP = "help"  #: the debtor asked how to reach the lender (HELP): answered, not a response
    HOLD = "hold"  #: held for a person, with a ``reason`` (attorney, bankruptcy, complaint, ...)
    PAYMENT_CLAIM = "payment_claim"  #: the debtor says they paid: held until it arrives or the window ends
    CONSENT = "consent"  #: the debtor gave consent to ``channel`` (as an opt-in does)
    CLAIM = "claim"  #: a person took the case's work item (``text``: who owns it now)
    ASSIGN = "assign"  #: a person gave the case's work item to someone (``text``: the new owner)
    NOTE = "note"  #: a person's note on the case (``text``)
    RESOLVE = "resolve"  #: a person resolved the case's work item (``text``: the outcome)
    CLOSE = "close"  #: a person closed the case for good (``text``: paid, settled, written_off, ...)


#: Kinds that stop or redirect the ladder because the debtor answered.
RESPONSE_KINDS = frozenset({EventKind.REPLY, EventKind.ACK, EventKind.PROMISE})


@dataclass(frozen=True)
class Event:
    """Something that happened to a case (or to a debtor's contact point)."""

    kind: EventKind
    at: datetime
    case_id: str | None = None
    amount: Decimal | None = None
    full: bool | None = None
    date: date | None = None
    channel: str | None = None
    text: str | None = None
    address: str | None = None
    intent_id: str | None = None
    event_id: str | None = None
    #: the person it concerns; with ``address``, a right recorded on the person *and* the number
    debtor_id: str | None = None
    #: why a case is held for a person (``attorney``, ``bankruptcy``, ...), for a hold
    reason: str | None = None
    #: where it came from (api, reply, provider, cli, ...), as the store recorded it
    source: str | None = field(default=None, compare=False)
    #: a digest of what the sender said, for telling a retry from a conflicting reuse of an id
    fingerprint: str | None = field(default=None, compare=False)
    #: the person who acted (an API token's name, a console user), None for debtors and providers
    actor: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "at", utc(self.at))


class ContactStatus(StrEnum):
    """Where a contact attempt stands, as far as the engine needs to know."""

    PENDING = "pending"  #: planned, queued or being sent
    SENT = "sent"  #: accepted by the provider
    DELIVERED = "delivered"  #: the provider confirmed delivery
    UNKNOWN = "unknown"  #: may have been sent (ambiguous); counted, never resent
    #: may have been sent, and the provider is being asked: the ladder waits for the answer
    IN_DOUBT = "in_doubt"
    FAILED = "failed"  #: did not reach the debtor; fall back to the next step
    CANCELLED = "cancelled"  #: withdrawn before sending (payment, supersession)


#: Statuses that count against caps: anything that may have reached the debtor.
COUNTED = frozenset(
    {
        ContactStatus.PENDING,
        ContactStatus.SENT,
        ContactStatus.DELIVERED,
        ContactStatus.UNKNOWN,
        ContactStatus.IN_DOUBT,
    }
)


@dataclass(frozen=True)
class Contact:
    """A contact attempt of the debtor, as history for the engine.

    ``seq`` is the ordinal of the attempt on its case's ladder; ``connected``
    is true for a call answered by a person (Reg F distinguishes the two).
    """

    intent_id: str
    case_id: str
    channel: str
    ladder: str
    step: int
    cycle: int
    seq: int
    at: datetime
    status: ContactStatus = ContactStatus.SENT
    connected: bool = False
    #: the message it went in: several loans of one person reminded together share it
    message_id: str | None = None

    @property
    def message(self) -> str:
        """What caps count: one message, however many loans it reminded of."""
        return self.message_id or self.intent_id

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ContactStatus(self.status))
        object.__setattr__(self, "at", utc(self.at))


@dataclass(frozen=True)
class Learned:
    """What the store learned across the portfolio, the same for every case of a tick.

    ``segment_hours`` counts, per segment, the local hours at which its
    debtors answered or paid (the fallback of a learned send time);
    ``closed_strategies`` are challengers that take no new debtors, their
    opt-out or complaint rate being too far above the champion's.
    """

    segment_hours: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    closed_strategies: frozenset[str] = frozenset()


@dataclass(frozen=True)
class History:
    """What the engine knows of the past when it decides for one case.

    ``events`` are the case's own events plus opt-outs and wrong-number
    reports from the debtor's other cases (one person, one phone);
    ``contacts`` are every contact attempt of the debtor across all cases,
    because caps protect a person, not a loan. ``response_hours`` counts the
    local hours (0-23) at which the debtor answered or paid, on any of their
    loans; ``learned`` is what the store learned across the portfolio.
    """

    events: tuple[Event, ...] = ()
    contacts: tuple[Contact, ...] = ()
    response_hours: Mapping[int, int] = field(default_factory=dict)
    learned: Learned = field(default_factory=Learned)

    def with_contact(self, contact: Contact) -> History:
        return replace(self, contacts=(*self.contacts, contact))

    def with_event(self, event: Event) -> History:
        return replace(self, events=(*self.events, event))


def intent_id_for(case_id: str, ladder: str, step: int, cycle: int, seq: int) -> str:
    """The deterministic id of an intent: a second plan of it collides, harmlessly."""
    key = "\x1f".join((case_id, ladder, str(step), str(cycle), str(seq)))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class IntentState(StrEnum):
    """The life of an outbox row."""

    PLANNED = "planned"  #: committed, not yet handed to the broker
    ENQUEUED = "enqueued"  #: handed to the broker
    SENDING = "sending"  #: a worker holds its lease and is calling the provider
    SENT = "sent"  #: the provider accepted it
    DELIVERED = "delivered"  #: the provider confirmed delivery
    FAILED = "failed"  #: permanent failure (or retries exhausted)
    UNKNOWN = "unknown"  #: ambiguous outcome; never resent
    CANCELLED = "cancelled"  #: withdrawn (payment, opt-out, superseded)
    SUPPRESSED = "suppressed"  #: blocked at send time by a guardrail


#: States an intent never leaves.
TERMINAL_STATES = frozenset(
    {
        IntentState.SENT,
        IntentState.DELIVERED,
        IntentState.FAILED,
        IntentState.UNKNOWN,
        IntentState.CANCELLED,
        IntentState.SUPPRESSED,
    }
)


@dataclass(frozen=True)
class Intent:
    """A planned reminder: one row of the outbox."""

    intent_id: str
    case_id: str
    debtor_id: str
    channel: str
    ladder: str
    segment: str
    step: int
    cycle: int
    seq: int
    template: str
    variant: str | None
    planned_at: datetime
    state: IntentState = IntentState.PLANNED
    message_id: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One call to a channel for an intent, and what came of it."""

    intent_id: str
    channel: str
    at: datetime
    outcome: str
    provider_id: str | None = None
    error_code: str | None = None
    detail: str | None = None
