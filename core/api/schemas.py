"""Request and response bodies of the HTTP API (they make its OpenAPI description)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
)

from dunning.core.policy.attributes import MAX_ATTRIBUTES

__all__ = [
    "AssignIn",
    "CaseIn",
    "CaseOut",
    "CasePage",
    "CaseSummary",
    "CasesIn",
    "EventIn",
    "EventResult",
    "EventsIn",
    "NoteIn",
    "Problem",
    "PushAckIn",
    "QueuePage",
    "ResolveIn",
    "WorkItemOut",
]

EventKindIn = Literal["payment", "promise", "dispute", "opt_out", "ack", "reply", "resume", "wrong_number"]


#: Times and dates the API takes: far enough from ``datetime``'s limits that the date arithmetic
#: done with them (time zones, promised date plus grace) cannot overflow.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2999, 12, 31)
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _storable(text: str) -> str:
    """Text every store keeps as sent: PostgreSQL refuses NUL, UTF-8 refuses unpaired surrogates."""
    if "\x00" in text:
        raise ValueError("cannot contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return text


def _iso_moment(value: Any) -> Any:
    """Only ISO 8601 text (pydantic would also take a number as a Unix time, silently)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _MOMENT.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("must be an ISO 8601 time with a UTC offset, e.g. 2026-12-03T10:00:00+08:00")


def _iso_day(value: Any) -> Any:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("must be a date, YYYY-MM-DD")


def _in_range(value: Any) -> Any:
    day = value.date() if isinstance(value, dt.datetime) else value
    if day is not None and not EARLIEST <= day <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


def _with_offset(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-12-03T10:00:00+08:00")
    return value


#: Text that can be stored (the string fields of every request body).
Text = Annotated[str, AfterValidator(_storable)]
#: A time as ISO 8601 text; the offset is checked where the event is parsed (its message names the field).
Moment = Annotated[dt.datetime, BeforeValidator(_iso_moment), AfterValidator(_in_range)]
#: A time as ISO 8601 text with its UTC offset.
AwareMoment = Annotated[Moment, AfterValidator(_with_offset)]
#: A date as ISO 8601 text, YYYY-MM-DD.
Day = Annotated[dt.date, BeforeValidator(_iso_day), AfterValidator(_in_range)]


#: An attribute's value as JSON carries it; the policy's declared type is checked when the case is parsed.
AttributeValue = StrictBool | StrictInt | StrictFloat | Text | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(_Strict):
    """One event from the lender's systems. ``event_id`` makes a retry harmless."""

    event_id: Text = Field(min_length=1, max_length=128, description="Client-chosen idempotency key")
    case_id: Text = Field(min_length=1, max_length=128)
    kind: EventKindIn
    at: Moment | None = Field(default=None, description="When it happened (default: now); with a UTC offset")
    amount: Decimal | None = Field(
        default=None, gt=0, max_digits=20, decimal_places=4, description="Payment amount"
    )
    full: StrictBool | None = Field(
        default=None, description="The payment settles the case whatever its amount"
    )
    date: Day | None = Field(default=None, description="Promised date of a promise")
    channel: Text | None = Field(
        default=None, max_length=64, description="Channel of an opt-out (default all)"
    )
    text: Text | None = Field(default=None, max_length=2000, description="Text of a reply")


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

    case_id: Text = Field(min_length=1, max_length=128)
    debtor_id: Text = Field(min_length=1, max_length=128)
    name: Text = Field(min_length=1, max_length=256)
    account: Text = Field(min_length=1, max_length=64)
    amount_due: Decimal = Field(ge=0, max_digits=20, decimal_places=4)
    currency: Text = Field(min_length=3, max_length=3)
    due_date: Day
    phone: Text | None = Field(default=None, max_length=32)
    push_token: Text | None = Field(default=None, max_length=512)
    email: Text | None = Field(default=None, max_length=256)
    locale: Text = Field(default="en", max_length=16)
    timezone: Text | None = Field(default=None, max_length=64)
    payment_url: Text | None = Field(default=None, max_length=1024)
    contact: Text | None = Field(default=None, max_length=256)
    tags: list[Text] = Field(default_factory=list, max_length=50)
    deadline: Day | None = Field(default=None, description="The repayment deadline the lender set")
    attributes: dict[Text, AttributeValue] | None = Field(
        default=None,
        max_length=MAX_ATTRIBUTES,
        description="The lender's own attributes the policy declares, by name "
        "(numbers, text, dates as YYYY-MM-DD, booleans; null for none)",
    )


class CasesIn(_Strict):
    cases: list[CaseIn] = Field(min_length=1, max_length=1000)


class FieldProblem(BaseModel):
    """One field at fault in a 422."""

    loc: list[str | int]
    field: str = Field(description="The field as a dotted name, e.g. events[2].at")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details: every error answer (``application/problem+json``)."""

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = Field(default=None, description="422 only: each field at fault")


class WorkItemOut(BaseModel):
    """A case's place in the work queue."""

    id: int
    case_id: str
    reason: str = Field(description="Why the case waits for a person (the engine's hold rule)")
    state: Literal["open", "claimed", "resolved"]
    opened_at: dt.datetime
    sla_due: dt.datetime
    overdue: bool = Field(description="The SLA deadline has passed and the item is not resolved")
    owner: str | None
    outcome: str | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
    call_status: str | None = Field(
        description="The debtor's call to an agent: how it ended, as the provider said"
    )
    call_seconds: int | None
    debtor_id: str
    phone: str = Field(description="Masked: country code and last four digits")
    amount_due: str
    currency: str
    case_status: str


class QueuePage(BaseModel):
    items: list[WorkItemOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last")


class CaseSummary(BaseModel):
    case_id: str
    debtor_id: str
    phone: str = Field(description="Masked: country code and last four digits")
    status: str
    hold_reason: str | None
    held_since: dt.datetime | None
    outcome: str | None
    amount_due: str
    currency: str
    due_date: dt.date
    segment: str | None


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last")


class AssignIn(_Strict):
    owner: Text = Field(min_length=1, max_length=128, description="Who owns the case's work item from now")


class NoteIn(_Strict):
    text: Text = Field(min_length=1, max_length=4000)


OutcomeIn = Literal[
    "resumed",
    "promise",
    "arrangement",
    "opted_out",
    "paid",
    "settled",
    "written_off",
    "fraud",
    "dispute_upheld",
]


class ResolveIn(_Strict):
    """How a person resolved the case: the ladder resumes, waits for a promise, or the case closes for good."""

    outcome: OutcomeIn
    date: Day | None = Field(
        default=None, description="The promised day, or an arrangement's first instalment"
    )
    channel: Text | None = Field(
        default=None, max_length=64, description="opted_out: the channel (default all)"
    )
    note: Text | None = Field(default=None, max_length=4000)


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
    hold_reason: str | None = Field(default=None, description="Why the case waits for a person, if it does")
    held_since: dt.datetime | None = None
    outcome: str | None = Field(default=None, description="How a person closed the case (status closed)")
    work_item: WorkItemOut | None = Field(default=None, description="Its open item in the work queue")
    case: dict[str, Any]


class PushAckIn(_Strict):
    """The lender's app backend reports that the debtor opened a reminder push."""

    intent_id: Text = Field(min_length=1, max_length=64)
    event_id: Text | None = Field(default=None, min_length=1, max_length=128)
    at: AwareMoment | None = None
