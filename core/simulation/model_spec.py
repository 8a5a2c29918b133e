"""The YAML of a response model, checked field by field, with the line of every mistake.

:mod:`.behaviour` builds the model from what this module reads; here live
the shapes each level may take, the checks that need no arithmetic on merged
levels (unknown channels, a habit set on a channel), and the chains of
levels that merge into each behaviour, so that the shares can be added up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from dunning.core.errors import ConfigError, PolicyError, Problem
from dunning.core.policy.durations import parse_duration
from dunning.core.policy.yamlpos import Located, load_located

__all__ = [
    "ANY",
    "BehaviourSpec",
    "Chain",
    "ModelSpec",
    "PartialSize",
    "ResponseModelError",
    "level_chains",
    "read_spec",
]

#: The key of a segment's settings for every channel.
ANY = "any"
#: Keys that describe the debtor, not how they take one channel: not allowed on a channel's level.
PERSONAL = ("answer_hours", "habit")

#: A level's path in the YAML, and the levels (most general first) merged into it.
Chain = tuple[tuple[str | int, ...], list[dict[str, Any]]]


class ResponseModelError(ConfigError):
    """A response model has errors; ``problems`` names the line and field of each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class PartialSize:
    """How much of what is still owed a partial payment pays: a triangular share."""

    min: float = 0.1  #: the smallest share
    mode: float = 0.3  #: the most likely share
    max: float = 0.8  #: the largest share (below 1: paying all of it is a payment in full)


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


class PartialSizeSpec(BaseModel):
    """``{min: 0.1, mode: 0.3, max: 0.8}``: shares of the outstanding amount, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: Annotated[float, Field(gt=0, lt=1)]
    mode: Annotated[float, Field(gt=0, lt=1)]
    max: Annotated[float, Field(gt=0, lt=1)]

    @model_validator(mode="after")
    def _ordered(self) -> PartialSizeSpec:
        if not self.min <= self.mode <= self.max:
            raise ValueError(f"needs min <= mode <= max (got {self.min:g}, {self.mode:g}, {self.max:g})")
        return self


def _hours(value: Any) -> dict[int, float]:
    if not isinstance(value, dict) or not value:
        raise ValueError("give weights by local hour, e.g. {12: 2, 20: 3}")
    hours: dict[int, float] = {}
    for hour, weight in value.items():
        if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
            raise ValueError(f"{hour!r} is not an hour (0-23)")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"hour {hour}: {weight!r} is not a weight (a number, 0 or more)")
        hours[hour] = float(weight)
    if not any(hours.values()):
        raise ValueError("at least one hour needs a weight above 0")
    return hours


class BehaviourSpec(BaseModel):
    """Any subset of a Behaviour's fields, each checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delivered: Share | None = None
    pay: Share | None = None
    partial: Share | None = None
    partial_size: PartialSizeSpec | None = None
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
    permanent_failure: Share | None = None
    transient_failure: Share | None = None
    answer_hours: Annotated[dict[int, float], BeforeValidator(_hours)] | None = None
    habit: Share | None = None
    habit_lift: Annotated[float, Field(ge=0, le=10)] | None = None

    def given(self) -> dict[str, Any]:
        """The fields this level sets, as a Behaviour holds them."""
        given: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "partial_size":
                value = PartialSize(value.min, value.mode, value.max)
            elif name == "answer_hours":
                value = tuple(value.get(hour, 0.0) for hour in range(24))
            given[name] = value
        return given


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "responses"
    description: str | None = None
    default: BehaviourSpec = Field(default_factory=BehaviourSpec)
    channels: dict[str, BehaviourSpec] = Field(default_factory=dict)
    segments: dict[str, dict[str, BehaviourSpec]] = Field(default_factory=dict)


def read_spec(text: str, file: str, channels: set[str]) -> tuple[ModelSpec, Located]:
    """The model's YAML, validated, its channels known and its habits on the debtor's levels."""
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
    problems = _check_levels(spec, located, channels)
    if problems:
        raise ResponseModelError(problems)
    return spec, located


def level_chains(spec: ModelSpec) -> list[Chain]:
    """Every level the YAML names, with the levels merged into it (the default's own excluded)."""
    chains: list[Chain] = [(("default",), [])]
    chains += [(("channels", c), [b.given()]) for c, b in spec.channels.items()]
    for segment, by in spec.segments.items():
        anyway = by.get(ANY)
        for c in sorted({*spec.channels, *by} - {ANY}) or [ANY]:
            chain = [spec.channels[c].given()] if c in spec.channels else []
            chain += [level.given() for level in (anyway, by.get(c)) if level is not None]
            where = c if c in by else ANY
            if where in by:
                chains.append((("segments", segment, where), chain))
    return chains


def _problems(exc: ValidationError, located: Located) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = tuple(
            part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))
        )
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = ", ".join(BehaviourSpec.model_fields)
            message = f"unknown key (known: {known})" if len(path) > 1 else "unknown key"
        problems.append(located.problem(path, message))
    return sorted(problems, key=lambda p: p.line)


def _check_levels(spec: ModelSpec, located: Located, channels: set[str]) -> list[Problem]:
    """Channels must exist; a habit is the debtor's, so it is set on default or a segment's ``any``."""
    problems = []
    known = ", ".join(sorted(channels))
    levels: list[tuple[tuple[str, ...], str, BehaviourSpec]] = [
        (("channels", name), name, level) for name, level in spec.channels.items()
    ]
    levels += [
        (("segments", segment, name), name, level)
        for segment, by in spec.segments.items()
        for name, level in by.items()
    ]
    for path, name, level in levels:
        if name == ANY and path[0] == "segments":
            continue
        if channels and name not in channels:
            also = ", any" if path[0] == "segments" else ""
            problems.append(located.problem(path, f"unknown channel {name!r} (known: {known}{also})"))
        for key in PERSONAL:
            if getattr(level, key) is not None:
                message = f"a habit is the debtor's, not a channel's: set {key} in default or a segment's any"
                problems.append(located.problem((*path, key), message))
    return sorted(problems, key=lambda p: p.line)
