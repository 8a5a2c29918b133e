"""Checking and compiling send windows and holiday calendars.

A window that can never open — inside the quiet hours, or a step's window
sharing no hour or day with its channel's — is an error at its line, so a
strategist learns it from ``policy check`` rather than from a portfolio that
is never contacted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from dunning.core.domain.guardrails import Guardrails, HolidayBlackout
from dunning.core.domain.windows import ALL_DAYS, SendWindow, narrowed
from dunning.core.policy.spec_windows import DAY_NAMES, HolidaysSpec, WindowSpec

__all__ = [
    "Reporter",
    "StepWindow",
    "check_open",
    "check_step_windows",
    "compile_blackout",
    "compile_window",
    "compile_windows",
]

Path = tuple[str | int, ...]


class Reporter(Protocol):
    """What a check needs of the compiler: somewhere to report, and the registered channels."""

    def error(self, path: Path, message: str) -> None: ...

    def warn(self, path: Path, message: str) -> None: ...

    def channel_known(self, path: Path, name: str, allow_any: bool = False) -> bool: ...


def compile_window(spec: WindowSpec, source: str) -> SendWindow:
    """A window as the engine reads it; ``source`` names it in a deferral's rule."""
    start, end = spec.hours if spec.hours is not None else (0, 1440)
    days = frozenset(spec.days) if spec.days is not None else ALL_DAYS
    return SendWindow(start, end, days, spec.send_at, source)


def compile_windows(
    report: Reporter, specs: Mapping[str, WindowSpec], path: Path, rails: Guardrails
) -> dict[str, SendWindow]:
    """Each channel's window, checked: a known channel, and open at some lawful minute."""
    windows = {}
    for channel, spec in specs.items():
        if not report.channel_known((*path, channel), channel):
            continue
        window = compile_window(spec, channel)
        if check_open(report, (*path, channel), window, rails, channel):
            windows[channel] = window
    return windows


def check_open(report: Reporter, path: Path, window: SendWindow, rails: Guardrails, channel: str) -> bool:
    """Whether the window opens at all: some hour, some day, some minute outside the quiet hours."""
    if window.start >= window.end:
        report.error((*path, "hours"), f"shares no hour with the {channel} window it narrows")
        return False
    if not window.days:
        report.error((*path, "days"), f"shares no day with the {channel} window it narrows")
        return False
    if not set(range(window.start, window.end)) - rails.quiet_minutes(channel):
        report.error(
            (*path, "hours"),
            f"lies inside the quiet hours for {channel}: it never opens (a window only narrows)",
        )
        return False
    return True


#: A step's own window to check: its path, channel and window, and the channel windows it narrows.
StepWindow = tuple[Path, str, SendWindow, Mapping[str, SendWindow]]


def check_step_windows(report: Reporter, steps: Iterable[StepWindow], rails: Guardrails) -> None:
    """Each step's window inside the channel windows of every strategy that uses its ladder."""
    for path, channel, own, windows in steps:
        effective = narrowed(windows.get(channel), own)
        assert effective is not None
        check_open(report, (*path, "window"), effective, rails, channel)


def compile_blackout(
    report: Reporter, spec: HolidaysSpec, preset_countries: Iterable[str], listed: bool
) -> HolidayBlackout | None:
    """The holiday calendar: the presets' and the policy's countries, amended by its own dates.

    ``listed`` says the policy used the older ``holidays: [CN]`` form (for the
    path of an unknown country). None when there is nothing to black out and
    no working day to count.
    """
    countries = tuple(dict.fromkeys([*preset_countries, *(_country(c) for c in spec.countries)]))
    if not (countries or spec.add or spec.workdays):
        return None
    blackout = HolidayBlackout(
        countries,
        added=frozenset(spec.add),
        removed=frozenset(spec.remove),
        workdays=frozenset(spec.workdays),
    )
    _check_countries(report, spec, listed)
    for i, day in enumerate(spec.workdays):
        if day.weekday() < 5:
            report.warn(
                ("holidays", "workdays", i),
                f"{day} is a {DAY_NAMES[day.weekday()]}: a make-up working day is a weekend day",
            )
    return blackout


def _country(code: str) -> str:
    return code if code == "phone" else code.upper()


def _check_countries(report: Reporter, spec: HolidaysSpec, listed: bool) -> None:
    import holidays as holidays_lib

    supported = holidays_lib.list_supported_countries()
    for i, country in enumerate(spec.countries):
        code = _country(country)
        if code == "phone" or code in supported:
            continue
        if listed:
            path: Path = ("holidays", i) if len(spec.countries) > 1 else ("holidays",)
        else:
            path = ("holidays", "countries", i)
        report.error(path, f"no holiday calendar for country {code!r}")
