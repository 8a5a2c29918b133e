"""A compiled policy: segments, ladders, steps, responses and guardrails, as the engine reads them.

:mod:`dunning.core.policy.compile` builds these from a policy file; the
engine and the send-time re-check only read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from dunning.core.channel import ChannelSpec
from dunning.core.domain.guardrails import Guardrails
from dunning.core.domain.windows import SendWindow
from dunning.core.policy.attributes import AttributeType
from dunning.core.policy.conditions import Condition

__all__ = [
    "DEFAULT_CATEGORIES",
    "Deadline",
    "Handoff",
    "Ladder",
    "Policy",
    "Responses",
    "Segment",
    "Step",
    "Strategy",
    "StrategyGuard",
    "TemplateLookup",
    "Variant",
]

#: Answers ``(channel, template) -> exists?`` so a check can flag unknown templates.
TemplateLookup = Callable[[str, str], bool]


@dataclass(frozen=True)
class Variant:
    """One template of an A/B step, with its share of debtors."""

    name: str
    template: str
    weight: float = 1.0


@dataclass(frozen=True)
class Step:
    """One rung of a ladder."""

    index: int
    channel: str
    variants: tuple[Variant, ...]
    wait: timedelta
    when: Condition | None = None
    repeat: int = 0
    name: str | None = None
    #: the step's own send window, which narrows its channel's (None: the channel's alone)
    window: SendWindow | None = None

    @property
    def template(self) -> str:
        """The template when there is one; the first variant's for an A/B step."""
        return self.variants[0].template

    @property
    def is_ab(self) -> bool:
        return len(self.variants) > 1


@dataclass(frozen=True)
class Ladder:
    name: str
    start_after: timedelta
    steps: tuple[Step, ...]
    then: str = "stop"


@dataclass(frozen=True)
class Segment:
    name: str
    ladder: str
    when: Condition | None = None


@dataclass(frozen=True)
class Responses:
    promise_grace: timedelta = timedelta(days=1)
    reply_pause: timedelta | None = None
    promise_days: int = 3
    #: the furthest promised day that pauses the ladder (from the day the promise was made)
    promise_horizon: timedelta = timedelta(days=30)
    #: ``reply``: a promise beyond the horizon pauses like a plain reply; ``handoff``: held for a person
    beyond_horizon: str = "reply"
    keypress: Mapping[str, str] = field(default_factory=lambda: {"1": "promise", "2": "handoff"})
    opt_out_confirmation: bool = True
    #: ``debtor``: a reply's promise, acknowledgement or dispute reaches all of the person's live loans
    scope: str = "debtor"
    #: what each kind of reply does: ``hold``, ``reply`` or ``verify`` (a claimed payment)
    categories: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CATEGORIES))
    #: how long a claimed payment holds the case before the ladder resumes without it
    claim_window: timedelta = timedelta(days=3)
    #: promises a loan may make; the next one is handled by ``beyond_max_promises``
    max_promises: int = 3
    beyond_max_promises: str = "handoff"
    #: (channel, template) of the reminder sent on the promised day, or None
    promise_reminder: tuple[str, str] | None = ("sms", "promise_due")

    def category(self, kind: str) -> str:
        """What a reply of this kind does under this policy."""
        return self.categories.get(kind, DEFAULT_CATEGORIES.get(kind, "reply"))


#: What replies of each category do unless the policy says otherwise.
DEFAULT_CATEGORIES: Mapping[str, str] = {
    "attorney": "hold",
    "bankruptcy": "hold",
    "complaint": "hold",
    "hardship": "hold",
    "deceased": "hold",
    "dispute": "hold",
    "paid": "verify",
}


@dataclass(frozen=True)
class Strategy:
    """One whole strategy of a champion/challenger split, with what it took from the policy.

    ``contact`` is ``full`` (its ladders), ``courtesy`` (only what goes before
    the due date) or ``none`` (a holdout: no contact at all).
    """

    name: str
    weight: float
    contact: str = "full"
    segments: tuple[Segment, ...] = ()
    windows: Mapping[str, SendWindow] = field(default_factory=dict)


@dataclass(frozen=True)
class StrategyGuard:
    """When a challenger stops taking new debtors: rates above the champion's by these margins."""

    opt_out_margin: float = 0.02
    complaint_margin: float = 0.01
    #: contacted debtors each side needs before the guard judges
    min_contacts: int = 200


@dataclass(frozen=True)
class Deadline:
    """The repayment deadline a reminder names: ``after`` a starting day (today, due date, import)."""

    start: str = "today"
    after: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class Handoff:
    """Agents' numbers a debtor's call is put through to (the agent keypress)."""

    #: by locale (``zh-CN``) or language (``zh``)
    numbers: Mapping[str, str] = field(default_factory=dict)
    #: by segment, before the locale
    segments: Mapping[str, str] = field(default_factory=dict)
    timeout: timedelta = timedelta(seconds=20)

    def number_for(self, locale: str, segment: str | None = None) -> str | None:
        """The number for the case's segment, else its locale, else its language; None if none."""
        if segment and segment in self.segments:
            return self.segments[segment]
        table = {key.replace("_", "-").lower(): number for key, number in self.numbers.items()}
        wanted = locale.replace("_", "-").lower()
        return table.get(wanted) or table.get(wanted.split("-")[0])


@dataclass(frozen=True)
class Policy:
    """A checked policy, ready for :func:`dunning.core.domain.engine.decide`.

    ``channels`` are the channels that may be used: every registered one for
    a dry run, only the configured ones in production (:meth:`with_channels`).
    """

    name: str
    segments: tuple[Segment, ...]
    ladders: Mapping[str, Ladder]
    rails: Guardrails
    channels: Mapping[str, ChannelSpec]
    responses: Responses = field(default_factory=Responses)
    presets: tuple[str, ...] = ()
    default_timezone: str | None = None
    contact: Mapping[str, Any] = field(default_factory=dict)
    sms_segment_limit: int = 3
    deadline: Deadline = field(default_factory=Deadline)
    #: several loans of one person due on the same channel at once go in one message
    combine: bool = True
    #: which of a person's loans a scarce contact serves first (larger first); None: by due date
    priority: Condition | None = None
    source: str = "<policy>"
    chooser: Callable[[Any, Step, tuple[Variant, ...]], str | None] | None = None
    #: how long a case held for a person may wait in the queue, by hold reason (``default``: the rest)
    queue_sla: Mapping[str, timedelta] = field(default_factory=lambda: {"default": timedelta(days=1)})
    handoff: Handoff = field(default_factory=Handoff)
    #: the policy file as written (the console shows it)
    text: str = ""
    #: the lender's own attributes a case may carry, by name
    attributes: Mapping[str, AttributeType] = field(default_factory=dict)
    #: per channel, when it may send (a step's window narrows its channel's)
    windows: Mapping[str, SendWindow] = field(default_factory=dict)
    #: whole strategies debtors are split between; the first is the champion (none: no split)
    strategies: tuple[Strategy, ...] = ()
    guard: StrategyGuard | None = None

    def with_channels(self, available: Mapping[str, ChannelSpec]) -> Policy:
        """The same policy, limited to the channels that are configured."""
        return _replace(self, channels=dict(available))

    def with_chooser(self, chooser: Callable[[Any, Step, tuple[Variant, ...]], str | None]) -> Policy:
        """The same policy, with variant choice delegated (the plugin hook)."""
        return _replace(self, chooser=chooser)

    def sla_for(self, reason: str) -> timedelta:
        """How long a case held for ``reason`` may wait for a person."""
        return self.queue_sla.get(reason) or self.queue_sla.get("default") or timedelta(days=1)

    @property
    def champion(self) -> Strategy | None:
        return self.strategies[0] if self.strategies else None

    def strategy(self, name: str | None) -> Strategy | None:
        """The strategy of that name, if the policy still has it."""
        return next((s for s in self.strategies if s.name == name), None)

    def step(self, ladder: str, index: int) -> Step | None:
        found = self.ladders.get(ladder)
        if found is None or not 0 <= index < len(found.steps):
            return None
        return found.steps[index]

    def templates(self) -> set[tuple[str, str]]:
        """Every (channel, template) the policy may render, the promised day's reminder included."""
        found = {
            (step.channel, variant.template)
            for ladder in self.ladders.values()
            for step in ladder.steps
            for variant in step.variants
        }
        if self.responses.promise_reminder is not None:
            found.add(self.responses.promise_reminder)
        return found


def _replace(policy: Policy, **changes: Any) -> Policy:
    return replace(policy, **changes)
