"""Escalation policies: load, check and compile a YAML policy for the engine.

:func:`load_policy` returns a compiled :class:`Policy` or raises
``PolicyError`` listing every problem with its file, line and field;
:func:`check_policy` returns the problems, warnings included, for
``dunning policy check``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dunning.core.channel import ChannelSpec
from dunning.core.domain.guardrails import ANY, Cap, Cooldown, Guardrails, QuietWindow
from dunning.core.domain.zones import is_valid_zone
from dunning.core.errors import PolicyError, Problem
from dunning.core.policy.attributes import MAX_ATTRIBUTES, AttributeType, attribute_facts, name_problem
from dunning.core.policy.ceiling import ceiling_cap
from dunning.core.policy.compile_strategies import compile_strategies, step_windows
from dunning.core.policy.compile_windows import (
    check_step_windows,
    compile_blackout,
    compile_window,
    compile_windows,
)
from dunning.core.policy.conditions import Condition, ConditionError, compile_condition
from dunning.core.policy.facts import FACTS, Fact
from dunning.core.policy.model import (
    Deadline,
    Handoff,
    Ladder,
    Policy,
    Responses,
    Segment,
    Step,
    TemplateLookup,
    Variant,
)
from dunning.core.policy.pacing import Advice, ceiling_advice, short_waits, uncapped_channels
from dunning.core.policy.presets import Preset
from dunning.core.policy.spec import DEFAULT_SLA, LadderSpec, PolicySpec, SegmentSpec
from dunning.core.policy.yamlbounds import read_bounded
from dunning.core.policy.yamlpos import Located, load_located

__all__ = ["check_policy", "compile_policy", "load_policy"]


def load_policy(
    path: str | Path,
    *,
    channels: Mapping[str, ChannelSpec],
    presets: Mapping[str, Preset],
    templates: TemplateLookup | None = None,
) -> Policy:
    """Load and compile a policy file; raise PolicyError listing every error."""
    path = Path(path)
    text = read_bounded(path)
    policy, problems = compile_policy(
        text, file=str(path), channels=channels, presets=presets, templates=templates
    )
    errors = [p for p in problems if p.severity == "error"]
    if errors or policy is None:
        raise PolicyError(errors)
    return policy


def check_policy(
    text: str,
    *,
    file: str,
    channels: Mapping[str, ChannelSpec],
    presets: Mapping[str, Preset],
    templates: TemplateLookup | None = None,
) -> list[Problem]:
    """Every error and warning of a policy, in line order."""
    return compile_policy(text, file=file, channels=channels, presets=presets, templates=templates)[1]


def compile_policy(
    text: str,
    *,
    file: str = "<policy>",
    channels: Mapping[str, ChannelSpec],
    presets: Mapping[str, Preset],
    templates: TemplateLookup | None = None,
) -> tuple[Policy | None, list[Problem]]:
    """Compile a policy's text; return it (None on errors) and every problem found."""
    try:
        located = load_located(text, file)
    except PolicyError as exc:
        return None, exc.problems
    if not isinstance(located.data, dict):
        return None, [located.problem((), "a policy is a mapping (name:, segments:, ladders:, ...)")]
    try:
        spec = PolicySpec.model_validate(located.data)
    except ValidationError as exc:
        return None, sorted(_pydantic_problems(exc, located), key=lambda p: p.line)
    compiler = _Compiler(spec, located, channels, presets, templates)
    policy = replace(compiler.compile(), text=text)
    problems = sorted(compiler.problems, key=lambda p: (p.line, p.severity))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return policy, problems


def _pydantic_problems(exc: ValidationError, located: Located) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = tuple(part for part in error["loc"] if not _is_union_tag(part))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required"
        problems.append(located.problem(path, message))
    return problems


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part.startswith("function-") or part in {"list[str]"})


class _Compiler:
    """Checks a validated spec's meaning and builds the engine's Policy."""

    def __init__(
        self,
        spec: PolicySpec,
        located: Located,
        channels: Mapping[str, ChannelSpec],
        presets: Mapping[str, Preset],
        templates: TemplateLookup | None,
    ) -> None:
        self.spec = spec
        self.located = located
        self.channels = channels
        self.presets = presets
        self.templates = templates
        self.problems: list[Problem] = []
        self.facts: Mapping[str, Fact] = FACTS

    def error(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(self.located.problem(path, message))

    def warn(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(self.located.problem(path, message, "warning"))

    def channel_known(self, path: tuple[str | int, ...], name: str, allow_any: bool = False) -> bool:
        if (allow_any and name == ANY) or name in self.channels:
            return True
        known = ", ".join(sorted(self.channels)) or "none registered"
        self.error(path, f"unknown channel {name!r} (known: {known})")
        return False

    def condition(self, path: tuple[str | int, ...], source: str | None) -> Condition | None:
        if source is None:
            return None
        try:
            condition = compile_condition(source, self.facts)
        except ConditionError as exc:
            self.error(path, str(exc))
            return None
        for warning in condition.warnings:
            self.warn(path, warning)
        return condition

    def compile(self) -> Policy:
        spec = self.spec
        chosen = [self._preset(i, name) for i, name in enumerate(spec.preset) if name != "none"]
        active = [p for p in chosen if p is not None]
        attributes = self._attributes()
        rails = self._rails(active)
        windows = compile_windows(self, spec.windows, ("windows",), rails)
        ladders = {name: self.ladder(name, ladder) for name, ladder in spec.ladders.items()}
        segments = self.segments(spec.segments, ("segments",), {name: name for name in spec.ladders})
        strategies, guard = compile_strategies(self, ladders, segments, windows, rails)
        self._unused_ladders(
            spec.ladders, [spec.segments, *(s.segments or [] for s in spec.strategies.values())]
        )
        check_step_windows(self, step_windows(ladders, segments, windows, strategies), rails)
        if spec.default_timezone and not is_valid_zone(spec.default_timezone):
            self.error(("default_timezone",), f"unknown time zone {spec.default_timezone!r}")
        self._check_reachability(rails, ladders)
        self._check_promise_reminder()
        self._advise(rails, ladders)
        return Policy(
            name=spec.name,
            segments=segments,
            ladders=ladders,
            rails=rails,
            channels=dict(self.channels),
            responses=_responses(spec),
            presets=tuple(p.name for p in active),
            default_timezone=spec.default_timezone,
            contact=spec.contact.model_dump(),
            sms_segment_limit=spec.limits.sms_segments,
            deadline=Deadline(spec.deadline.from_, spec.deadline.after),
            combine=spec.combine,
            priority=self.condition(("priority",), spec.priority),
            source=self.located.file,
            queue_sla={"default": DEFAULT_SLA, **spec.queue.sla},
            handoff=self._handoff(),
            attributes=attributes,
            windows=windows,
            strategies=strategies,
            guard=guard,
        )

    def _attributes(self) -> dict[str, AttributeType]:
        """The declared attributes, each a name conditions can use; they join the facts."""
        declared = dict(self.spec.attributes)
        if len(declared) > MAX_ATTRIBUTES:
            self.error(("attributes",), f"at most {MAX_ATTRIBUTES} attributes")
        for name in list(declared):
            problem = name_problem(str(name))
            if problem is not None:
                self.error(("attributes", name), problem)
                del declared[name]
        self.facts = {**FACTS, **attribute_facts(declared)}
        return declared

    def _check_promise_reminder(self) -> None:
        reminder = self.spec.responses.promise_reminder
        if reminder is None:
            return
        path: tuple[str | int, ...] = ("responses", "promise_reminder")
        if not self.channel_known((*path, "channel"), reminder.channel):
            return
        if self.templates is not None and not self.templates(reminder.channel, reminder.template):
            self.error(
                (*path, "template"), f"no template {reminder.template!r} for channel {reminder.channel!r}"
            )

    def _handoff(self) -> Handoff:
        spec = self.spec.handoff
        names = {s.name for s in self.spec.segments}
        for segment in spec.segments:
            if segment not in names:
                known = ", ".join(sorted(names))
                self.error(("handoff", "segments", segment), f"unknown segment {segment!r} (known: {known})")
        return Handoff(dict(spec.numbers), dict(spec.segments), spec.timeout)

    def _preset(self, index: int, name: str) -> Preset | None:
        preset = self.presets.get(name)
        if preset is None:
            path: tuple[str | int, ...] = ("preset", index) if len(self.spec.preset) > 1 else ("preset",)
            known = ", ".join(sorted(self.presets)) or "none registered"
            self.error(path, f"unknown preset {name!r} (known: {known}, or none)")
        return preset

    def _rails(self, presets: list[Preset]) -> Guardrails:
        spec = self.spec
        quiet = [w for p in presets for w in p.quiet]
        for i, q in enumerate(spec.quiet_hours):
            for name in q.channels or ():
                self.channel_known(("quiet_hours", i, "channels"), name)
            chans = frozenset(q.channels) if q.channels else None
            quiet.append(QuietWindow(q.start, q.end, chans, "policy"))
        caps = [c for p in presets for c in p.caps]
        for i, c in enumerate(spec.caps):
            self.channel_known(("caps", i, "channel"), c.channel, allow_any=True)
            if c.max == 0 and c.channel == ANY:
                self.error(("caps", i, "max"), "a cap of 0 on every channel forbids every step")
            caps.append(Cap(c.channel, c.max, c.per, c.scope, c.count, "policy"))
        caps.append(ceiling_cap(spec.limits.daily_contacts))  # every policy has it, last
        cooldowns = [c for p in presets for c in p.cooldowns]
        for i, cd in enumerate(spec.cooldowns):
            self.channel_known(("cooldowns", i, "channel"), cd.channel, allow_any=True)
            cooldowns.append(Cooldown(cd.channel, cd.period, cd.after, cd.scope, "policy"))
        countries = [c for p in presets for c in p.holidays]
        listed = isinstance(self.located.data.get("holidays"), list | str)
        blackout = compile_blackout(self, spec.holidays, countries, listed)
        rails = Guardrails(tuple(quiet), tuple(caps), tuple(cooldowns), blackout)
        for name in self.channels:
            if len(rails.quiet_minutes(name)) >= 1440:
                self.error(("quiet_hours",), f"quiet hours cover the whole day for channel {name!r}")
                break
        return rails

    def ladder(self, name: str, spec: LadderSpec, where: tuple[str | int, ...] | None = None) -> Ladder:
        """A ladder, compiled under ``name``; ``where`` is its path in the file (``ladders.NAME``)."""
        at = where or ("ladders", name)
        steps = []
        for i, s in enumerate(spec.steps):
            path: tuple[str | int, ...] = (*at, "steps", i)
            self.channel_known((*path, "channel"), s.channel)
            if s.variants is not None:
                variants = tuple(
                    Variant(v.name or f"v{j + 1}", v.template, v.weight) for j, v in enumerate(s.variants)
                )
                names = [v.name for v in variants]
                if len(set(names)) != len(names):
                    self.error((*path, "variants"), "variant names must differ")
            else:
                variants = (Variant(s.template or "", s.template or "", 1.0),)
            for j, variant in enumerate(variants):
                tpath = (*path, "variants", j, "template") if s.variants else (*path, "template")
                known = self.templates is None or s.channel not in self.channels
                if not known and not self.templates(s.channel, variant.template):  # type: ignore[misc]
                    self.error(tpath, f"no template {variant.template!r} for channel {s.channel!r}")
            steps.append(
                Step(
                    index=i,
                    channel=s.channel,
                    variants=variants,
                    wait=s.wait,
                    when=self.condition((*path, "when"), s.when),
                    repeat=s.repeat,
                    name=s.name,
                    window=compile_window(s.window, "step") if s.window is not None else None,
                )
            )
        if spec.then in ("repeat_last", "restart") and steps[-1].wait <= timedelta(0):
            self.error(
                (*at, "steps", len(steps) - 1, "wait"),
                f"the last step must wait before the ladder {spec.then.replace('_', 's ')}",
            )
        return Ladder(name, spec.start_after, tuple(steps), spec.then)

    def segments(
        self, specs: list[SegmentSpec], where: tuple[str | int, ...], known: Mapping[str, str]
    ) -> tuple[Segment, ...]:
        """Segments in order; each names a ladder of ``known`` (as written -> as compiled)."""
        segments = []
        open_ended = False
        for i, s in enumerate(specs):
            ladder = known.get(s.ladder, s.ladder)
            if s.ladder not in known:
                listed = ", ".join(sorted(known))
                self.error((*where, i, "ladder"), f"unknown ladder {s.ladder!r} (known: {listed})")
            if open_ended:
                self.warn((*where, i), "never chosen: an earlier segment has no condition")
            segments.append(Segment(s.name, ladder, self.condition((*where, i, "when"), s.when)))
            open_ended = open_ended or s.when is None
        names = [s.name for s in segments]
        for i, name in enumerate(names):
            if names.index(name) != i:
                self.error((*where, i, "name"), f"segment {name!r} is defined twice")
        if not open_ended:
            self.warn(where, "every segment has a condition: cases matching none are never contacted")
        return tuple(segments)

    def _unused_ladders(self, ladders: Mapping[str, Any], users: list[list[SegmentSpec]]) -> None:
        used = {s.ladder for segments in users for s in segments}
        for name in ladders:
            if name not in used:
                self.warn(("ladders", name), "no segment uses this ladder")

    def _check_reachability(self, rails: Guardrails, ladders: Mapping[str, Ladder]) -> None:
        for ladder in ladders.values():
            for step in ladder.steps:
                blocked = [c for c in rails.caps if c.applies(step.channel) and c.max == 0]
                if blocked and step.channel in self.channels:
                    self.warn(
                        ("ladders", ladder.name, "steps", step.index, "channel"),
                        f"a cap of 0 ({blocked[0].rule}) means this step is never sent",
                    )

    def _advise(self, rails: Guardrails, ladders: Mapping[str, Ladder]) -> None:
        """Warn about how fast the policy may contact a debtor."""
        ceiling = self.spec.limits.daily_contacts
        advice: list[Advice] = [
            *short_waits(ladders),
            *uncapped_channels(rails, ladders, self.channels, ceiling),
            *ceiling_advice(ceiling),
        ]
        for path, message in advice:
            self.warn(path, message)


def _responses(spec: PolicySpec) -> Responses:
    r = spec.responses
    return Responses(
        promise_grace=r.promise_grace,
        reply_pause=r.reply_pause,
        promise_days=r.promise_days,
        promise_horizon=r.promise_horizon,
        beyond_horizon=r.beyond_horizon,
        scope=r.scope,
        categories=dict(r.categories),
        claim_window=r.claim_window,
        max_promises=r.max_promises,
        beyond_max_promises=r.beyond_max_promises,
        promise_reminder=(
            (r.promise_reminder.channel, r.promise_reminder.template) if r.promise_reminder else None
        ),
        keypress=dict(r.keypress),
        opt_out_confirmation=r.opt_out_confirmation,
    )
