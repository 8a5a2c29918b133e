"""Send windows, times of day and holiday calendars, as a policy file writes them.

A window (``{hours: "09:00-20:00", days: [mon, tue, wed, thu, fri], send_at:
learned}``) says when a channel, or one step, may send; a calendar
(``holidays: {countries: [CN], add: [...], remove: [...], workdays: [...]}``,
or the older ``holidays: [CN]``) says which days are public holidays and which
weekend days are worked. These models check their shape;
:mod:`dunning.core.policy.compile_windows` checks their meaning.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = ["DAY_NAMES", "Clock", "Day", "HolidaysSpec", "WindowSpec", "holidays_spec", "parse_clock"]

#: Weekday names as a window's ``days`` lists them, Monday first (Python's ``weekday()`` order).
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_clock(value: Any) -> time:
    """A time of day written ``HH:MM`` (``24:00`` is midnight); ValueError otherwise."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 21:00 as the base-60 integer 1260.
        hours, minutes = divmod(value, 60)
        value = f"{hours:02d}:{minutes:02d}"
    elif isinstance(value, str) and ":" in value:
        head, _, tail = value.strip().partition(":")
        if not (head.isdigit() and tail.isdigit()):
            raise ValueError(f"{value!r} is not a time of day (use HH:MM)")
        hours, minutes = int(head), int(tail)
    else:
        raise ValueError(f"{value!r} is not a time of day (use HH:MM)")
    if hours == 24 and minutes == 0:
        return time(0, 0)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"{value!r} is not a time of day (use HH:MM)")
    return time(hours, minutes)


def _hours(value: Any) -> tuple[int, int]:
    """``"09:00-20:00"`` as minutes of the day (540, 1200); the end may be ``24:00``."""
    if not isinstance(value, str) or value.count("-") != 1:
        raise ValueError(f"{value!r} is not a span of hours (use HH:MM-HH:MM, e.g. 09:00-20:00)")
    head, tail = (part.strip() for part in value.split("-"))
    start, end = parse_clock(head), parse_clock(tail)
    first = start.hour * 60 + start.minute
    last = end.hour * 60 + end.minute or 1440
    if first >= last:
        raise ValueError(f"{value!r} ends before it starts (a window cannot pass midnight)")
    return first, last


def _weekday(value: Any) -> int:
    text = str(value).strip().lower()[:3] if isinstance(value, str) else ""
    if text not in DAY_NAMES:
        raise ValueError(f"{value!r} is not a day of the week (mon, tue, wed, thu, fri, sat, sun)")
    return DAY_NAMES.index(text)


def _day(value: Any) -> date:
    """A date written ``YYYY-MM-DD`` (YAML reads it as a date); never a number of seconds."""
    if isinstance(value, datetime):
        raise ValueError(f"{value.isoformat()} is a moment, not a date (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")


Clock = Annotated[time, BeforeValidator(parse_clock)]
Hours = Annotated[tuple[int, int], BeforeValidator(_hours)]
Weekday = Annotated[int, BeforeValidator(_weekday)]
Day = Annotated[date, BeforeValidator(_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WindowSpec(_Strict):
    """When a channel or a step may send, in the debtor's local time (inside the law's hours)."""

    #: ``HH:MM-HH:MM``; unset: the whole day (the quiet hours still apply)
    hours: Hours | None = None
    #: the weekdays it is open; unset: every day
    days: list[Weekday] | None = Field(default=None, min_length=1)
    #: ``spread``: each debtor at their own minute of the window; ``learned``: at the hour they answer
    send_at: Literal["spread", "learned"] | None = None

    @model_validator(mode="after")
    def _unique_days(self) -> WindowSpec:
        if self.days is not None and len(set(self.days)) != len(self.days):
            raise ValueError("a day is listed twice")
        return self


class HolidaysSpec(_Strict):
    """Public holidays: countries' calendars, dates added and removed, and worked weekend days."""

    #: ISO countries whose public holidays are blacked out (``phone``: the number's country)
    countries: list[str] = Field(default_factory=list)
    #: more days without contact (a company holiday, a day a calendar lacks)
    add: list[Day] = Field(default_factory=list)
    #: days a calendar names that are contact days all the same
    remove: list[Day] = Field(default_factory=list)
    #: make-up working days (调休): a weekend day that counts as a working day for a window's days
    workdays: list[Day] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> HolidaysSpec:
        both = sorted(set(self.add) & set(self.remove))
        if both:
            raise ValueError(f"{both[0]} is both added and removed")
        worked = sorted(set(self.add) & set(self.workdays))
        if worked:
            raise ValueError(f"{worked[0]} is both a holiday and a working day")
        return self


def holidays_spec(value: Any) -> Any:
    """``holidays: [CN]`` (or ``CN``) is the older spelling of ``{countries: [CN]}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"countries": [value]}
    if isinstance(value, list):
        return {"countries": value}
    return value
