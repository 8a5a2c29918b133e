"""Send windows: the hours and weekdays a channel (or one step) may send, in the debtor's local time.

A window is only ever one more constraint: it sits inside the quiet hours
and caps of :mod:`~dunning.core.domain.guardrails`, never widening them. A
step's window narrows its channel's. A debtor who may be in several zones
is contacted only when the window is open in every one of them, as with the
quiet hours. A make-up working day (调休) counts as a working day for a
window's ``days`` even when it falls on a weekend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dunning.core.domain.zones import local_moment

__all__ = ["ALL_DAYS", "WORKING_DAYS", "SendWindow", "narrowed", "window_block"]

#: Every weekday, Monday (0) to Sunday (6).
ALL_DAYS = frozenset(range(7))
#: Monday to Friday: the days a make-up working day stands in for.
WORKING_DAYS = frozenset(range(5))
#: How far ahead the next opening is looked for (a window is open at least one weekday).
_DAYS_AHEAD = 8


@dataclass(frozen=True)
class SendWindow:
    """Open from minute ``start`` to minute ``end`` (exclusive) of the local day, on ``days``.

    ``send_at`` is ``spread`` (each debtor at a minute of their own), ``learned``
    (at the hour the debtor answers most) or None (the channel's choice, else
    spread). ``source`` names it in the rule of a deferral: the channel, or
    ``step`` for a step's own.
    """

    start: int = 0
    end: int = 1440
    days: frozenset[int] = ALL_DAYS
    send_at: str | None = None
    source: str = "policy"

    @property
    def rule(self) -> str:
        return f"send_window:{self.source}"

    @property
    def learned(self) -> bool:
        return self.send_at == "learned"

    def opens_on(self, day: date, workdays: frozenset[date] = frozenset()) -> bool:
        """Whether the window opens on ``day`` at all (a make-up working day is a working day)."""
        return day.weekday() in self.days or (day in workdays and bool(self.days & WORKING_DAYS))

    def contains(self, local: datetime, workdays: frozenset[date] = frozenset()) -> bool:
        minute = local.hour * 60 + local.minute
        return self.start <= minute < self.end and self.opens_on(local.date(), workdays)

    def opening(self, day: date, zone: ZoneInfo) -> datetime:
        """When the window opens on ``day`` in ``zone`` (UTC)."""
        return _at(day, self.start, zone)

    def closing(self, day: date, zone: ZoneInfo) -> datetime:
        """When the window closes on ``day`` in ``zone`` (UTC); ``24:00`` is the next midnight."""
        return _at(day, self.end, zone)

    def next_opening(self, local: datetime, workdays: frozenset[date] = frozenset()) -> datetime | None:
        """The first opening after ``local`` (UTC), or None when none comes within a week."""
        zone = local.tzinfo
        assert isinstance(zone, ZoneInfo)
        for ahead in range(_DAYS_AHEAD):
            day = local.date() + timedelta(days=ahead)
            if self.opens_on(day, workdays):
                opening = self.opening(day, zone)
                if opening > local:
                    return opening
        return None

    def hours(self) -> range:
        """The local hours the window is open in, whole or in part."""
        return range(self.start // 60, (self.end + 59) // 60)


def narrowed(channel: SendWindow | None, step: SendWindow | None) -> SendWindow | None:
    """A step's window inside its channel's: the hours and days both allow (None: no window)."""
    if channel is None or step is None:
        return channel or step
    return replace(
        step,
        start=max(channel.start, step.start),
        end=min(channel.end, step.end),
        days=channel.days & step.days,
        send_at=step.send_at or channel.send_at,
    )


def window_block(
    t: datetime, window: SendWindow, zones: Sequence[ZoneInfo], workdays: frozenset[date]
) -> tuple[datetime | None, str] | None:
    """Where ``t`` is outside the window in some zone: its next opening there (None: never)."""
    for zone in zones:
        local = t.astimezone(zone)
        if not window.contains(local, workdays):
            return window.next_opening(local, workdays), window.rule
    return None


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    if minute >= 1440:
        return local_moment(day + timedelta(days=1), time(0), zone)
    return local_moment(day, time(minute // 60, minute % 60), zone)
