"""How simulated debtors answer reminders: the response model of ``dunning simulate``.

After each reminder that reaches them, a debtor pays (in full or in part),
promises, replies, opts out of the channel, disputes the debt, or does
nothing, with probabilities per segment and channel; how long they take is
log-normal around a median, unless they keep to their habit hour. Earlier
reminders wear off (``fatigue``), and some debtors pay unprompted
(``self_cure`` per day). Before any of that, the provider may refuse a send
for good or for now (``permanent_failure``, ``transient_failure``), as the
real delivery would record it. A model is YAML, merged from the most general
level to the most specific one::

    default: {...}                  every segment, every channel
    channels: {sms: {...}}          every segment, one channel
    segments: {large: {any: {...}, voice: {...}}}

A mistake is reported as ``FILE:LINE: field: message``, as a policy's are
(:mod:`.model_spec` checks the YAML).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from dunning.core.errors import Problem
from dunning.core.policy.yamlpos import Located
from dunning.core.simulation.model_spec import (
    ANY,
    ModelSpec,
    PartialSize,
    ResponseModelError,
    level_chains,
    read_spec,
)

__all__ = [
    "DEFAULT_RESPONSES",
    "OUTCOMES",
    "Behaviour",
    "PartialSize",
    "ResponseModel",
    "ResponseModelError",
    "default_model",
    "load_model",
    "parse_model",
]

#: The built-in model (examples/responses.yaml is the same, with comments): rough shares
#: for consumer loans a few days overdue, per reminder that reaches the debtor.
DEFAULT_RESPONSES = """\
name: built-in
default:
  delivered: 0.95
  pay: 0.05
  partial: 0.2
  partial_size: {min: 0.1, mode: 0.3, max: 0.8}
  promise: 0.04
  keep_promise: 0.6
  reply: 0.04
  opt_out: 0.004
  dispute: 0.002
  delay: 8h
  spread: 1.2
  promise_within: 5
  fatigue: 0.85
  self_cure: 0.01
  permanent_failure: 0.01
  transient_failure: 0.02
  answer_hours: {8: 1, 9: 2, 10: 2, 11: 2, 12: 4, 13: 3, 14: 2, 15: 2, 16: 2, 17: 3, 18: 4, 19: 5, 20: 6, 21: 4, 22: 2}
  habit: 0.6
  habit_lift: 1.2
channels:
  sms: {pay: 0.05, reply: 0.05, opt_out: 0.006}
  push: {delivered: 0.9, pay: 0.04, promise: 0.01, reply: 0.08, opt_out: 0.002, delay: 2h, permanent_failure: 0.03}
  voice: {delivered: 0.55, pay: 0.1, promise: 0.15, reply: 0.1, opt_out: 0.01, dispute: 0.005, delay: 4h, permanent_failure: 0.02, transient_failure: 0.03}
segments:
  large:
    any: {pay: 0.03, self_cure: 0.004}
    voice: {pay: 0.07, promise: 0.18}
"""

#: Outcomes drawn after a delivered reminder; their probabilities may add up to at most 1.
OUTCOMES = ("pay", "promise", "reply", "opt_out", "dispute")


@dataclass(frozen=True)
class Behaviour:
    """How a debtor of one segment answers one channel's reminder."""

    delivered: float = 0.95  #: share of reminders that reach the debtor (a call: answered)
    pay: float = 0.05  #: pays (in full, or in part: see ``partial``)
    partial: float = 0.0  #: share of those payments that pay only part of what is owed
    partial_size: PartialSize = field(default_factory=PartialSize)  #: how large a part
    promise: float = 0.04  #: promises to pay within ``promise_within`` days
    keep_promise: float = 0.6  #: share of promises kept
    reply: float = 0.04  #: replies or acknowledges: the ladder pauses
    opt_out: float = 0.004  #: opts out of the channel
    dispute: float = 0.002  #: disputes the debt (a complaint): held for a human
    delay: timedelta = timedelta(hours=8)  #: median time from reminder to answer
    spread: float = 1.2  #: sigma of the log-normal delay
    promise_within: int = 5  #: a promise names a day 1..N days ahead
    fatigue: float = 0.85  #: each earlier reminder of the case scales pay, promise and reply by this
    self_cure: float = 0.01  #: chance per day of paying unprompted
    permanent_failure: float = 0.0  #: share of sends the provider refuses for good: the ladder falls through
    transient_failure: float = 0.0  #: chance each attempt fails for now (5xx, 429): retried with backoff
    #: weight of each local hour (0-23) in drawing a debtor's habit hour (empty: no habit)
    answer_hours: tuple[float, ...] = ()
    habit: float = 0.0  #: share of a debtor's answers and payments that come in their habit hour
    habit_lift: float = 1.0  #: pay, promise and reply scale by this for a reminder in the habit hour

    def chances(self, earlier: int, in_habit: bool = False) -> tuple[float, ...]:
        """The probabilities of :data:`OUTCOMES` after ``earlier`` reminders of the same case.

        A reminder that reaches the debtor in their habit hour is lifted by ``habit_lift``.
        """
        worn = self.fatigue**earlier * (self.habit_lift if in_habit else 1.0)
        return (self.pay * worn, self.promise * worn, self.reply * worn, self.opt_out, self.dispute)

    @property
    def has_habit(self) -> bool:
        """Whether debtors of this behaviour keep to a habit hour at all."""
        return self.habit > 0 and any(w > 0 for w in self.answer_hours)


@dataclass(frozen=True)
class ResponseModel:
    """Behaviour per segment and channel, resolved from the model's levels (cached)."""

    name: str
    default: Behaviour
    channels: Mapping[str, Mapping[str, Any]]
    segments: Mapping[str, Mapping[str, Mapping[str, Any]]]
    _cache: dict[tuple[str | None, str | None], Behaviour] = field(
        default_factory=dict, compare=False, repr=False
    )

    def behaviour(self, segment: str | None, channel: str | None) -> Behaviour:
        """The behaviour for a segment and channel (``None`` channel: the segment's ``any``)."""
        key = (segment, channel)
        cache = self._cache
        found = cache.get(key)
        if found is None:
            found = self.default
            levels = [self.channels.get(channel or "", {})]
            by_segment = self.segments.get(segment or "", {})
            levels += [by_segment.get(ANY, {}), by_segment.get(channel or "", {})]
            for level in levels:
                found = replace(found, **level) if level else found
            cache[key] = found
        return found


def parse_model(text: str, *, file: str = "<responses>", channels: Iterable[str] = ()) -> ResponseModel:
    """Check and build a response model from YAML; raise ResponseModelError naming line and field."""
    spec, located = read_spec(text, file, set(channels))
    problems = _check_shares(spec, located)
    if problems:
        raise ResponseModelError(problems)
    return ResponseModel(
        name=spec.name,
        default=replace(Behaviour(), **spec.default.given()),
        channels={name: b.given() for name, b in spec.channels.items()},
        segments={s: {c: b.given() for c, b in by.items()} for s, by in spec.segments.items()},
    )


def load_model(path: str | Path, *, channels: Iterable[str] = ()) -> ResponseModel:
    """Load a response model file (see :func:`parse_model`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResponseModelError([Problem(str(path), 0, "", f"cannot read: {exc.strerror}")]) from exc
    return parse_model(text, file=str(path), channels=channels)


def default_model() -> ResponseModel:
    """The built-in model."""
    return parse_model(DEFAULT_RESPONSES, file="<built-in responses>")


def _check_shares(spec: ModelSpec, located: Located) -> list[Problem]:
    """At every level the outcome shares, lifted in the habit hour, must leave room for silence."""
    base = replace(Behaviour(), **spec.default.given())
    problems = []
    for path, chain in level_chains(spec):
        merged = base
        for level in chain:
            merged = replace(merged, **level)
        total = sum(merged.chances(0, in_habit=merged.habit_lift > 1))
        if total > 1 + 1e-9:
            shares = " + ".join(f"{o} {getattr(merged, o):g}" for o in OUTCOMES)
            lift = merged.habit_lift
            lifted = f" (pay, promise and reply x habit_lift {lift:g})" if lift > 1 else ""
            problems.append(
                located.problem(path, f"{shares}{lifted} = {total:.3g}: the shares add up to more than 1")
            )
    return problems
