"""The policy file as written: pydantic models of its YAML, strict about keys.

These models check shape and types (unknown keys, bad durations, bad times).
:mod:`dunning.core.policy.compile` then checks meaning (unknown channels, ladders,
templates; caps and quiet hours that forbid everything) and compiles the
result into the engine's :class:`~dunning.core.policy.compile.Policy`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from dunning.core.policy.attributes import AttributeType
from dunning.core.policy.ceiling import DEFAULT_DAILY_CONTACTS, MAX_DAILY_CONTACTS
from dunning.core.policy.durations import parse_duration
from dunning.core.policy.spec_windows import Clock, HolidaysSpec, WindowSpec, holidays_spec

__all__ = ["DEFAULT_SLA", "PolicySpec"]

#: How long a held case may wait for a person when the policy names no SLA for its reason.
DEFAULT_SLA = timedelta(days=1)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value != 0:
        raise ValueError(f"{value} has no unit; write e.g. {value}d, {value}h or {value}m")
    return parse_duration(value)


def _listify(value: Any) -> Any:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class QuietSpec(_Strict):
    start: Clock
    end: Clock
    channels: list[str] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> QuietSpec:
        if self.start == self.end:
            raise ValueError("start and end are equal: say which hours are quiet")
        return self


class CapSpec(_Strict):
    channel: str = "any"
    max: int = Field(ge=0)
    per: Duration
    scope: Literal["debtor", "case"] = "debtor"
    count: Literal["attempts", "connected"] = "attempts"

    @model_validator(mode="after")
    def _window(self) -> CapSpec:
        if self.per <= timedelta(0):
            raise ValueError("per must be a positive duration")
        return self


class CooldownSpec(_Strict):
    channel: str = "voice"
    period: Duration = Field(alias="for")
    after: Literal["conversation"] = "conversation"
    scope: Literal["debtor", "case"] = "case"


class VariantSpec(_Strict):
    template: str
    name: str | None = None
    weight: float = Field(default=1.0, gt=0)


class StepSpec(_Strict):
    channel: str
    template: str | None = None
    variants: list[VariantSpec] | None = None
    wait: Duration = timedelta(days=1)
    when: str | None = None
    repeat: int = Field(default=0, ge=0)
    name: str | None = None
    #: when this step may send, inside its channel's window (narrowing it, never widening it)
    window: WindowSpec | None = None

    @model_validator(mode="after")
    def _one_template(self) -> StepSpec:
        if (self.template is None) == (self.variants is None):
            raise ValueError("give either template or variants (exactly one)")
        if self.variants is not None and not self.variants:
            raise ValueError("variants must list at least one template")
        return self


def _signed_duration(value: Any) -> timedelta:
    """A duration that may be negative: ``-3d`` starts a ladder three days before the due date."""
    if isinstance(value, str) and value.strip().startswith("-"):
        return -parse_duration(value.strip()[1:])
    return _duration(value)


#: The earliest a ladder may start before the due date, and the latest after it.
EARLIEST_START = timedelta(days=-60)
LATEST_START = timedelta(days=365)


class LadderSpec(_Strict):
    #: from the due date (local midnight); negative for reminders before it (``-3d``)
    start_after: Annotated[timedelta, BeforeValidator(_signed_duration)] = timedelta(0)
    steps: list[StepSpec] = Field(min_length=1)
    then: Literal["repeat_last", "restart", "stop", "handoff"] = "stop"

    @field_validator("start_after")
    @classmethod
    def _start_bounded(cls, value: timedelta) -> timedelta:
        if not EARLIEST_START <= value <= LATEST_START:
            raise ValueError("start_after must be between -60d and 365d from the due date")
        return value


class SegmentSpec(_Strict):
    name: str
    ladder: str
    when: str | None = None


Keypress = Literal["ack", "promise", "handoff"]


def _default_keys() -> dict[str, Keypress]:
    return {"1": "promise", "2": "handoff"}


#: What a reply of a category does: hold for a person (with the category as the reason), pause as
#: a reply does, or (a claimed payment) hold until the payment arrives or the claim window ends.
CategoryAction = Literal["hold", "reply", "verify"]


def _default_categories() -> dict[str, CategoryAction]:
    return {
        "attorney": "hold",
        "bankruptcy": "hold",
        "complaint": "hold",
        "hardship": "hold",
        "deceased": "hold",
        "dispute": "hold",
        "paid": "verify",
    }


class PromiseReminderSpec(_Strict):
    """A reminder on the promised day itself, with its own template."""

    channel: str = "sms"
    template: str = "promise_due"


class ResponsesSpec(_Strict):
    #: ``debtor``: a reply's promise, acknowledgement or dispute applies to all of the person's live
    #: loans; ``case``: only to the loan it answers
    scope: Literal["debtor", "case"] = "debtor"
    #: what each kind of reply does (see CategoryAction); unnamed kinds keep their defaults
    categories: dict[str, CategoryAction] = Field(default_factory=_default_categories)
    #: how long a claimed payment holds the case before the ladder resumes without it
    claim_window: Duration = timedelta(days=3)
    #: promises a loan may make before the next one is handled by beyond_max_promises
    max_promises: int = Field(default=3, ge=1, le=20)
    beyond_max_promises: Literal["reply", "handoff"] = "handoff"
    #: a reminder on the promised day (null: none)
    promise_reminder: PromiseReminderSpec | None = Field(default_factory=PromiseReminderSpec)
    promise_grace: Duration = timedelta(days=1)
    reply_pause: Duration | None = None
    promise_days: int = Field(default=3, ge=0, le=366)
    #: the furthest promised day that pauses the ladder; a later one is handled by beyond_horizon
    promise_horizon: Duration = timedelta(days=30)
    #: what a promise beyond the horizon does: pause like a plain reply, or hold for a person
    beyond_horizon: Literal["reply", "handoff"] = "reply"
    keypress: dict[str, Keypress] = Field(default_factory=_default_keys)
    opt_out_confirmation: bool = True

    @model_validator(mode="after")
    def _bounded(self) -> ResponsesSpec:
        if not timedelta(days=1) <= self.promise_horizon <= timedelta(days=366):
            raise ValueError("promise_horizon must be between 1d and 366d")
        if self.promise_grace > timedelta(days=31) or self.promise_grace < timedelta(0):
            raise ValueError("promise_grace must be between 0 and 31d")
        if timedelta(days=self.promise_days) > self.promise_horizon:
            raise ValueError("promise_days must not reach past promise_horizon")
        if not timedelta(hours=1) <= self.claim_window <= timedelta(days=31):
            raise ValueError("claim_window must be between 1h and 31d")
        unknown = sorted(set(self.categories) - _CATEGORIES)
        if unknown:
            raise ValueError(f"unknown reply categories {unknown} (known: {sorted(_CATEGORIES)})")
        verify = [k for k, v in self.categories.items() if v == "verify" and k != "paid"]
        if verify:
            raise ValueError(f"only a claimed payment (paid) can be verified, not {verify}")
        return self


#: The reply kinds whose action a policy may choose.
_CATEGORIES = frozenset(
    {"attorney", "bankruptcy", "complaint", "hardship", "deceased", "dispute", "paid", "help"}
)


class ContactSpec(_Strict):
    phone: str | None = None
    #: the lender's name, or names by locale ({zh-CN: 安心消费金融, en: Anxin Finance})
    name: str | dict[str, str] | None = None
    url: str | None = None


class LimitsSpec(_Strict):
    sms_segments: int = Field(default=3, ge=1)
    #: contacts per debtor per rolling day, across all channels (see core.policy.ceiling)
    daily_contacts: int = DEFAULT_DAILY_CONTACTS

    @field_validator("daily_contacts")
    @classmethod
    def _bounded(cls, value: int) -> int:
        if value < 1:
            raise ValueError(
                f"the daily contact ceiling cannot be removed: give 1 to {MAX_DAILY_CONTACTS} "
                f"(default {DEFAULT_DAILY_CONTACTS})"
            )
        if value > MAX_DAILY_CONTACTS:
            raise ValueError(f"at most {MAX_DAILY_CONTACTS} contacts a day per debtor")
        return value


class DeadlineSpec(_Strict):
    """The repayment deadline a reminder names: ``after`` a starting day.

    ``from: today`` moves with each message (the day it is sent); ``due_date``
    is fixed per loan; ``import`` takes the case's own ``deadline`` column,
    falling back to the due date plus ``after`` when a case has none.
    """

    from_: Literal["today", "due_date", "import"] = Field(default="today", alias="from")
    after: Duration = timedelta(days=3)


def _deadline(value: Any) -> Any:
    """``deadline: 3d`` is the older spelling of ``{from: today, after: 3d}``."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return {"from": "today", "after": value}
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration, e.g. 4h or 2d")
    return value


def _e164(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\+[1-9][0-9]{6,14}", value.strip()):
        raise ValueError(f"{value!r} is not a phone number in E.164 form, e.g. +8613800138000")
    return value.strip()


#: How long a reason may wait in the queue: a positive duration.
Sla = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
#: An agent's number to put a debtor's call through to.
AgentNumber = Annotated[str, BeforeValidator(_e164)]


def _default_sla() -> dict[str, timedelta]:
    return {"default": DEFAULT_SLA}


class QueueSpec(_Strict):
    """The work queue: how long each hold reason may wait (``default`` for the others)."""

    sla: dict[str, Sla] = Field(default_factory=_default_sla)


class HandoffSpec(_Strict):
    """Where the agent keypress puts a call through: by segment first, then by locale."""

    numbers: dict[str, AgentNumber] = Field(default_factory=dict)
    segments: dict[str, AgentNumber] = Field(default_factory=dict)
    #: how long the agent's phone rings before the debtor hears the fallback
    timeout: Duration = timedelta(seconds=20)

    @field_validator("timeout")
    @classmethod
    def _ring(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=5) <= value <= timedelta(seconds=600):
            raise ValueError("must be between 5s and 600s (how long an agent's phone may ring)")
        return value


class StrategySpec(_Strict):
    """One whole strategy of a champion/challenger split; what it leaves out is the policy's own."""

    #: its share of debtors (any positive numbers; they need not add up to 100)
    weight: float = Field(gt=0)
    #: ``full``: its ladders; ``courtesy``: only reminders before the due date; ``none``: no contact
    contact: Literal["full", "courtesy", "none"] = "full"
    description: str | None = None
    segments: list[SegmentSpec] | None = Field(default=None, min_length=1)
    ladders: dict[str, LadderSpec] | None = Field(default=None, min_length=1)
    windows: dict[str, WindowSpec] | None = None


class GuardSpec(_Strict):
    """When a challenger stops taking new debtors: its rates past the champion's by a margin."""

    #: share of contacted debtors who opted out, above the champion's
    opt_out_margin: float = Field(default=0.02, ge=0, le=1)
    #: share of contacted debtors who disputed or complained, above the champion's
    complaint_margin: float = Field(default=0.01, ge=0, le=1)
    #: contacted debtors each side needs before the guard judges
    min_contacts: int = Field(default=200, ge=1)


class PolicySpec(_Strict):
    name: str
    description: str | None = None
    preset: Annotated[list[str], BeforeValidator(_listify)] = Field(default_factory=lambda: ["conservative"])
    default_timezone: str | None = None
    deadline: Annotated[DeadlineSpec, BeforeValidator(_deadline)] = Field(default_factory=DeadlineSpec)
    #: several loans of one person due on the same channel at once go in one message
    combine: bool = True
    #: which of a person's loans a scarce contact serves first (a number: larger first)
    priority: str = "amount_due * days_overdue"
    quiet_hours: Annotated[list[QuietSpec], BeforeValidator(_listify)] = Field(default_factory=list)
    caps: list[CapSpec] = Field(default_factory=list)
    cooldowns: list[CooldownSpec] = Field(default_factory=list)
    holidays: Annotated[HolidaysSpec, BeforeValidator(holidays_spec)] = Field(default_factory=HolidaysSpec)
    #: the lender's own columns, by name and type, for conditions, priority and templates
    attributes: dict[str, AttributeType] = Field(default_factory=dict)
    #: per channel, when it may send (local time, inside the quiet hours)
    windows: dict[str, WindowSpec] = Field(default_factory=dict)
    #: whole strategies debtors are split between by weight (the first is the champion)
    strategies: dict[str, StrategySpec] = Field(default_factory=dict)
    #: when a challenger stops taking new debtors (needs strategies)
    guard: GuardSpec | None = None
    segments: list[SegmentSpec] = Field(min_length=1)
    ladders: dict[str, LadderSpec] = Field(min_length=1)
    responses: ResponsesSpec = Field(default_factory=ResponsesSpec)
    contact: ContactSpec = Field(default_factory=ContactSpec)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    queue: QueueSpec = Field(default_factory=QueueSpec)
    handoff: HandoffSpec = Field(default_factory=HandoffSpec)
