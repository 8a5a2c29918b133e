"""Request and response bodies of the HTTP API (they make its OpenAPI description)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CaseIn",
    "CaseOut",
    "CasesIn",
    "EventIn",
    "EventResult",
    "EventsIn",
    "PushAckIn",
]

EventKindIn = Literal["payment", "promise", "dispute", "opt_out", "ack", "reply", "resume", "wrong_number"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(_Strict):
    """One event from the lender's systems. ``event_id`` makes a retry harmless."""

    event_id: str = Field(min_length=1, max_length=128, description="Client-chosen idempotency key")
    case_id: str = Field(min_length=1, max_length=128)
    kind: EventKindIn
    at: dt.datetime | None = Field(
        default=None, description="When it happened (default: now); with a UTC offset"
    )
    amount: Decimal | None = Field(
        default=None, gt=0, max_digits=20, decimal_places=4, description="Payment amount"
    )
    full: bool | None = Field(default=None, description="The payment settles the case whatever its amount")
    date: dt.date | None = Field(default=None, description="Promised date of a promise")
    channel: str | None = Field(
        default=None, max_length=64, description="Channel of an opt-out (default all)"
    )
    text: str | None = Field(default=None, max_length=2000, description="Text of a reply")


class EventsIn(_Strict):
    """A batch of events: all are recorded, or none (a bad one names its index and field)."""

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventResult(BaseModel):
    event_id: str
    case_id: str
    kind: str
    status: Literal["recorded", "duplicate"]
    cancelled: int = Field(description="Pending reminders withdrawn by this event")
    case_status: str | None = None


class CaseIn(_Strict):
    """A case as the import file has it."""

    case_id: str = Field(min_length=1, max_length=128)
    debtor_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=256)
    account: str = Field(min_length=1, max_length=64)
    amount_due: Decimal = Field(ge=0, max_digits=20, decimal_places=4)
    currency: str = Field(min_length=3, max_length=3)
    due_date: dt.date
    phone: str | None = Field(default=None, max_length=32)
    push_token: str | None = Field(default=None, max_length=512)
    email: str | None = Field(default=None, max_length=256)
    locale: str = Field(default="en", max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    payment_url: str | None = Field(default=None, max_length=1024)
    contact: str | None = Field(default=None, max_length=256)
    tags: list[str] = Field(default_factory=list, max_length=50)


class CasesIn(_Strict):
    cases: list[CaseIn] = Field(min_length=1, max_length=1000)


class CaseOut(BaseModel):
    case_id: str
    debtor_id: str
    status: str
    segment: str | None
    ladder: str | None
    amount_due: str
    outstanding: str
    currency: str
    due_date: dt.date
    next_check_at: dt.datetime | None
    case: dict[str, Any]


class PushAckIn(_Strict):
    """The lender's app backend reports that the debtor opened a reminder push."""

    intent_id: str = Field(min_length=1, max_length=64)
    event_id: str | None = Field(default=None, max_length=128)
    at: dt.datetime | None = None
