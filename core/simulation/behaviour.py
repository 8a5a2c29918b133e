"""How simulated debtors answer reminders: the response model of ``dunning simulate``.

After each reminder that reaches them, a debtor pays, promises, replies, opts
out of the channel, disputes the debt, or does nothing, with probabilities
per segment and channel; how long they take is log-normal around a median.
Earlier reminders wear off (``fatigue``), and some debtors pay unprompted
(``self_cure`` per day). A model is YAML, merged from the most general level
to the most specific one::

    default: {...}                  every segment, every channel
    channels: {sms: {...}}          every segment, one channel
    segments: {large: {any: {...}, voice: {...}}}

A mistake is reported as ``FILE:LINE: field: message``, as a policy's are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from dunning.core.errors import ConfigError, PolicyError, Problem
from dunning.core.policy.durations import parse_duration
from dunning.core.policy.yamlpos import Located, load_located

__all__ = [
    "DEFAULT_RESPONSES",
    "Behaviour",
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
channels:
  sms: {pay: 0.05, reply: 0.05, opt_out: 0.006}
  push: {delivered: 0.9, pay: 0.04, promise: 0.01, reply: 0.08, opt_out: 0.002, delay: 2h}
  voice: {delivered: 0.55, pay: 0.1, promise: 0.15, reply: 0.1, opt_out: 0.01, dispute: 0.005, delay: 4h}
segments:
  large:
    any: {pay: 0.03, self_cure: 0.004}
    voice: {pay: 0.07, promise: 0.18}
"""

#: Outcomes drawn after a delivered reminder; their probabilities may add up to at most 1.
OUTCOMES = ("pay", "promise", "reply", "opt_out", "dispute")
#: The key of a segment's settings for every channel.
ANY = "any"


class ResponseModelError(ConfigError):
    """A response model has errors; ``problems`` names the line and field of each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Behaviour:
    """How a debtor of one segment answers one channel's reminder."""

    delivered: float = 0.95  #: share of reminders that reach the debtor (a call: answered)
    pay: float = 0.05  #: pays in full
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

    def chances(self, earlier: int) -> tuple[float, ...]:
        """The probabilities of :data:`OUTCOMES` after ``earlier`` reminders of the same case."""
        worn = self.fatigue**earlier
        return (self.pay * worn, self.promise * worn, self.reply * worn, self.opt_out, self.dispute)


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


# ---------------------------------------------------------------- the YAML, checked


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value} has no unit; write e.g. {value}h or {value}d")
    delta = parse_duration(value)
    if delta <= timedelta(0):
        raise ValueError("must be longer than zero")
    return delta


Share = Annotated[float, Field(ge=0, le=1)]


class BehaviourSpec(BaseModel):
    """Any subset of a Behaviour's fields, each checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delivered: Share | None = None
    pay: Share | None = None
    promise: Share | None = None
    keep_promise: Share | None = None
    reply: Share | None = None
    opt_out: Share | None = None
    dispute: Share | None = None
    delay: Annotated[timedelta, BeforeValidator(_duration)] | None = None
    spread: Annotated[float, Field(ge=0, le=5)] | None = None
    promise_within: Annotated[int, Field(ge=1, le=60)] | None = None
    fatigue: Annotated[float, Field(gt=0, le=1)] | None = None
    self_cure: Share | None = None

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "responses"
    description: str | None = None
    default: BehaviourSpec = Field(default_factory=BehaviourSpec)
    channels: dict[str, BehaviourSpec] = Field(default_factory=dict)
    segments: dict[str, dict[str, BehaviourSpec]] = Field(default_factory=dict)


def parse_model(text: str, *, file: str = "<responses>", channels: Iterable[str] = ()) -> ResponseModel:
    """Check and build a response model from YAML; raise ResponseModelError naming line and field."""
    try:
        located = load_located(text, file)
    except PolicyError as exc:
        raise ResponseModelError(exc.problems) from exc
    if not isinstance(located.data, dict):
        raise ResponseModelError(
            [located.problem((), "a response model is a mapping (default:, channels:, ...)")]
        )
    try:
        spec = ModelSpec.model_validate(located.data)
    except ValidationError as exc:
        raise ResponseModelError(_problems(exc, located)) from exc
    problems = _check(spec, located, set(channels))
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


def _problems(exc: ValidationError, located: Located) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = tuple(
            part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))
        )
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = ", ".join(f.name for f in fields(Behaviour))
            message = f"unknown key (known: {known})" if len(path) > 1 else "unknown key"
        problems.append(located.problem(path, message))
    return sorted(problems, key=lambda p: p.line)


def _check(spec: ModelSpec, located: Located, channels: set[str]) -> list[Problem]:
    """Channels must exist, and at every level the outcome shares must leave room for silence."""
    problems = []
    known = ", ".join(sorted(channels))
    for name in spec.channels:
        if channels and name not in channels:
            problems.append(located.problem(("channels", name), f"unknown channel {name!r} (known: {known})"))
    for segment, by in spec.segments.items():
        for name in by:
            if name != ANY and channels and name not in channels:
                problems.append(
                    located.problem(
                        ("segments", segment, name), f"unknown channel {name!r} (known: {known}, any)"
                    )
                )
    base = replace(Behaviour(), **spec.default.given())
    levels: list[tuple[tuple[str | int, ...], list[dict[str, Any]]]] = [(("default",), [])]
    levels += [(("channels", c), [b.given()]) for c, b in spec.channels.items()]
    for segment, by in spec.segments.items():
        anyway = by.get(ANY)
        for c in sorted({*spec.channels, *by} - {ANY}) or [ANY]:
            chain = [spec.channels[c].given()] if c in spec.channels else []
            chain += [level.given() for level in (anyway, by.get(c)) if level is not None]
            where = c if c in by else ANY
            if where in by:
                levels.append((("segments", segment, where), chain))
    for path, chain in levels:
        merged = base
        for level in chain:
            merged = replace(merged, **level)
        total = sum(getattr(merged, o) for o in OUTCOMES)
        if total > 1 + 1e-9:
            shares = " + ".join(f"{o} {getattr(merged, o):g}" for o in OUTCOMES)
            problems.append(
                located.problem(path, f"{shares} = {total:.3g}: the shares add up to more than 1")
            )
    return problems
