"""Checking and compiling a champion/challenger split between whole strategies.

``strategies`` splits debtors by weight between strategies, each with its own
segments, ladders and windows — or the policy's own where it names none. A
strategy's own ladders are compiled under ``STRATEGY/LADDER`` (``challenger/
firm``), so every intent says which strategy's ladder it climbed and two
strategies may each have a ``firm`` of their own. The first strategy is the
champion: the one a closed challenger's new debtors go to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Protocol

from dunning.core.domain.guardrails import Guardrails
from dunning.core.domain.windows import SendWindow
from dunning.core.policy.compile_windows import Reporter, StepWindow, compile_windows
from dunning.core.policy.model import Ladder, Segment, Strategy, StrategyGuard
from dunning.core.policy.spec import LadderSpec, PolicySpec, SegmentSpec, StrategySpec

__all__ = ["compile_strategies", "ladder_path", "step_windows"]

Path = tuple[str | int, ...]

#: A strategy's name: it is stored with every intent and debtor, and prefixes its ladders' names.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: Longest compiled ladder name (the store keeps 64 characters).
_MAX_LADDER = 64


class Compiler(Reporter, Protocol):
    """What compiling a strategy needs of the policy compiler."""

    spec: PolicySpec

    def ladder(self, name: str, spec: LadderSpec, where: Path | None = None) -> Ladder: ...

    def segments(
        self, specs: list[SegmentSpec], where: Path, known: Mapping[str, str]
    ) -> tuple[Segment, ...]: ...


def compile_strategies(
    compiler: Compiler,
    ladders: dict[str, Ladder],
    segments: tuple[Segment, ...],
    windows: Mapping[str, SendWindow],
    rails: Guardrails,
) -> tuple[tuple[Strategy, ...], StrategyGuard | None]:
    """Every strategy, in order (the champion first), adding their own ladders to ``ladders``."""
    spec = compiler.spec
    strategies = tuple(
        _strategy(compiler, name, item, ladders, segments, windows, rails)
        for name, item in spec.strategies.items()
    )
    guard = None
    if spec.guard is not None:
        g = spec.guard
        guard = StrategyGuard(g.opt_out_margin, g.complaint_margin, g.min_contacts)
        if len(strategies) < 2:
            compiler.warn(("guard",), "guards a challenger, but the policy has no champion and challenger")
    if len(strategies) == 1:
        compiler.warn(("strategies",), "a single strategy splits nothing: add a challenger or a holdout")
    if strategies and strategies[0].contact != "full":
        first = strategies[0].name
        compiler.error(
            ("strategies", first, "contact"),
            "the first strategy is the champion, which a closed challenger's debtors fall back to: "
            "it must contact (contact: full)",
        )
    return strategies, guard


def _strategy(
    compiler: Compiler,
    name: str,
    spec: StrategySpec,
    ladders: dict[str, Ladder],
    segments: tuple[Segment, ...],
    windows: Mapping[str, SendWindow],
    rails: Guardrails,
) -> Strategy:
    path: Path = ("strategies", name)
    if not _NAME.fullmatch(str(name)):
        compiler.error(path, "a strategy's name is letters, digits, _ and - (at most 32)")
    if spec.contact == "none":
        for key in ("segments", "ladders", "windows"):
            if getattr(spec, key) is not None:
                compiler.warn((*path, key), "a holdout with contact: none never uses it")
        return Strategy(str(name), spec.weight, "none", (), {})
    known = {ladder: ladder for ladder in compiler.spec.ladders}
    for ladder, ladder_spec in (spec.ladders or {}).items():
        qualified = f"{name}/{ladder}"
        if len(qualified) > _MAX_LADDER:
            compiler.error(
                (*path, "ladders", ladder), f"{qualified!r} is longer than {_MAX_LADDER} characters"
            )
        ladders[qualified] = compiler.ladder(qualified, ladder_spec, (*path, "ladders", ladder))
        known[ladder] = qualified
    own = compiler.segments(spec.segments, (*path, "segments"), known) if spec.segments else segments
    used = {s.ladder for s in own}
    for ladder in spec.ladders or {}:
        if f"{name}/{ladder}" not in used:
            compiler.warn((*path, "ladders", ladder), "no segment of this strategy uses this ladder")
    chosen = (
        windows
        if spec.windows is None
        else compile_windows(compiler, spec.windows, (*path, "windows"), rails)
    )
    return Strategy(str(name), spec.weight, spec.contact, own, chosen)


def ladder_path(qualified: str) -> Path:
    """Where a compiled ladder is written: ``ladders.NAME`` or ``strategies.S.ladders.NAME``."""
    strategy, _, ladder = qualified.rpartition("/")
    return ("strategies", strategy, "ladders", ladder) if strategy else ("ladders", ladder)


def step_windows(
    ladders: Mapping[str, Ladder],
    segments: tuple[Segment, ...],
    windows: Mapping[str, SendWindow],
    strategies: tuple[Strategy, ...],
) -> Iterator[StepWindow]:
    """Each step's window with the channel windows of each strategy (or the policy) that climbs it."""
    users = [(segments, windows)] + [(s.segments, s.windows) for s in strategies if s.contact != "none"]
    seen: set[tuple[str, int, frozenset[tuple[str, SendWindow]]]] = set()
    for chosen, channel_windows in users:
        for segment in chosen:
            ladder = ladders.get(segment.ladder)
            for step in ladder.steps if ladder is not None else ():
                key = (segment.ladder, step.index, frozenset(channel_windows.items()))
                if step.window is None or key in seen:
                    continue
                seen.add(key)
                yield (
                    (*ladder_path(segment.ladder), "steps", step.index),
                    step.channel,
                    step.window,
                    channel_windows,
                )
