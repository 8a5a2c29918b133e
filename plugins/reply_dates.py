"""The day a debtor promises to pay: "明天还", "周五", "15号", "12月5日", "next week", "12/5".

A promise pauses the ladder until the promised day, so the day must be exact
and never in the past. Every rule resolves against ``today`` (the debtor's
local date, an argument: no clock here). A month/day already past rolls to
next year, a day of the month to next month; a date that still lies in the
past, or does not exist (2月30日), is found but left unresolved (``None``), so
the caller can fall back to the policy's default promise days.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from dunning.plugins.reply_text import en

__all__ = ["DateMatch", "day_first", "find_dates", "parse_number"]


@dataclass(frozen=True)
class DateMatch:
    """A date expression at ``text[start:end]``; ``date`` is None when it cannot be resolved."""

    start: int
    end: int
    date: date | None


#: Resolves a match against today; the flag says numeric dates are day-first (12/5 = 12 May).
Resolver = Callable[[re.Match[str], date, bool], date | None]

#: Locales that write 12/5 for the 12th of May; everyone else here (en-US, zh) writes month first.
_DAY_FIRST = ("en-gb", "en-au", "en-nz", "en-ie", "en-in", "en-za")

_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "fourteen": 14, "thirty": 30,
}  # fmt: skip
#: English names, spelled out: calendar.month_name follows the process locale.
_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1, "feb": 2, "mar": 3,
    "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6} | {
    str(i): i - 1 for i in range(1, 8)
}
_EN_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip

CN_NUM = r"[0-9]{1,2}|[零〇一二两三四五六七八九十]{1,3}"
EN_NUM = r"[0-9]{1,2}|a\s+couple\s+of|a\s+couple|couple\s+of|" + "|".join(_EN_NUMBERS)
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ZH_WEEK = r"(?:周|星期|礼拜|週)"
#: "周一定还" is "will surely pay this week", not Monday.
_ZH_WD = r"(?P<wd>[一二三四五六日天七1-7])(?![定起直共样般次下点])"
_ORD = r"(?:st|nd|rd|th)"


def parse_number(text: str) -> int | None:
    """1-99 from ASCII digits, Chinese numerals (十五, 二十, 两) or a few English words."""
    if text.isascii() and text.isdigit():
        return int(text)
    if "couple" in text:
        return 2
    if text in _EN_NUMBERS:
        return _EN_NUMBERS[text]
    tens, ten, ones = text.partition("十")
    if not ten:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    if (tens or "一") not in _CN_DIGITS or (ones or "零") not in _CN_DIGITS:
        return None
    return _CN_DIGITS[tens or "一"] * 10 + _CN_DIGITS[ones or "零"]


def day_first(locale: str) -> bool:
    """Whether ``locale`` writes numeric dates day first (en-GB: 12/5 is 12 May)."""
    return locale.replace("_", "-").casefold().startswith(_DAY_FIRST)


# ---------------------------------------------------------------- calendar arithmetic


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int, dom: int | None = None) -> date:
    """``day`` moved by ``months``, on day-of-month ``dom`` (clamped to the month's length)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(dom or day.day, last))


def _coming(today: date, weekday: int, weeks: int = 0) -> date:
    """The next ``weekday`` on or after today (today itself if it is that day), plus whole weeks."""
    return today + timedelta(days=(weekday - today.weekday()) % 7 + 7 * weeks)


def _next_week(today: date, weekday: int = 0, weeks: int = 1) -> date:
    """``weekday`` of next week (weeks start on Monday), or of the week after with weeks=2."""
    return today + timedelta(days=7 * weeks - today.weekday() + weekday)


def _month_day(today: date, month: int | None, day: int | None, year: int | None = None) -> date | None:
    """A calendar date; without a year, the first one on or after today (this year or next)."""
    if month is None or day is None:
        return None
    for y in (year,) if year else (today.year, today.year + 1):
        try:
            found = date(y, month, day)
        except ValueError:
            continue
        if found >= today or year:
            return found
    return None


def _day_of_month(today: date, day: int | None) -> date | None:
    """The coming ``day`` of a month: "15号" is this month's 15th, or next month's once past."""
    if day is None or not 1 <= day <= 31:
        return None
    this = _add_months(today, 0, day)
    return this if this >= today else _add_months(today, 1, day)


def _relative(today: date, count: int | None, unit: str) -> date | None:
    if count is None:
        return None
    if unit.startswith(("月", "month")):
        return _add_months(today, count)
    weeks = unit.startswith(("周", "星期", "礼拜", "week"))
    return today + timedelta(days=count * (7 if weeks else 1))


def _weekend(today: date, weeks: int = 0) -> date:
    """The coming Saturday, or today when today is already the weekend."""
    if today.weekday() >= 5 and not weeks:
        return today
    return _coming(today, 5, weeks)


def _numeric(m: re.Match[str], today: date, dayfirst: bool) -> date | None:
    """12/5 or 12/5/2026: month first unless the locale says day first; 25/12 can only be day first."""
    a, b = int(m["a"]), int(m["b"])
    month, day = (b, a) if dayfirst else (a, b)
    if month > 12 >= day:
        month, day = day, month
    return _month_day(today, month, day, _year(m))


def _year(m: re.Match[str]) -> int | None:
    if not m["y"]:
        return None
    return int(m["y"]) + (2000 if len(m["y"]) == 2 else 0)


def _n(m: re.Match[str], group: str) -> int | None:
    return parse_number(m[group])


def _month_part(m: re.Match[str], today: date) -> date | None:
    """The 31st for "12月底", the 1st for "3月初", the 15th for "6月中"; next year's once past."""
    month = _n(m, "m")
    if month is None or not 1 <= month <= 12:
        return None
    for year in (today.year, today.year + 1):
        day = {"初": date(year, month, 1), "中": date(year, month, 15)}.get(m["p"]) or _month_end(year, month)
        if day >= today:
            return day
    return None


def _nm(m: re.Match[str]) -> int | None:
    return _MONTHS.get(m["mon"].rstrip("."))


# ---------------------------------------------------------------- the rules

_Rule = tuple[re.Pattern[str], Resolver]


def _zh(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9])(?:{pattern})")


#: Rules for both languages; where matches overlap, the one starting first wins, then the longest.
RULES: tuple[_Rule, ...] = (
    # -- language-neutral: ISO and year-first dates (2026-12-05, 2026/12/5, 2026年12月5日)
    (
        _zh(r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?![0-9])\s*[日号]?"),
        lambda m, t, f: _month_day(t, int(m["m"]), int(m["d"]), int(m["y"])),
    ),
    # 12/5, 12/5/2026; but 1/2, 2/3, 3/4 are fractions ("pay 1/2 now") unless "on 1/2"
    (
        re.compile(
            r"(?<![\d/])(?!(?:1\s*/\s*[234]|2\s*/\s*3|3\s*/\s*4)(?![\d/]))(?P<a>\d{1,2})\s*/\s*(?P<b>\d{1,2})"
            r"(?:\s*/\s*(?P<y>\d{4}|\d{2}))?(?![\d/])"
        ),
        _numeric,
    ),
    (en(r"(?:on|by|until|till|before|due)\s+(?P<a>[123])\s*/\s*(?P<b>[234])(?P<y>)(?![\d/])"), _numeric),
    # -- Chinese
    (_zh(r"今天|今日|今晚|今早|今儿|今个|当天"), lambda m, t, f: t),
    (_zh(r"明天|明日|明早|明晚|明儿|明个"), lambda m, t, f: t + timedelta(days=1)),
    (_zh(r"后天"), lambda m, t, f: t + timedelta(days=2)),
    (_zh(r"大后天"), lambda m, t, f: t + timedelta(days=3)),
    (_zh(rf"(?:这|本|这个)?{_ZH_WEEK}{_ZH_WD}"), lambda m, t, f: _coming(t, _ZH_WEEKDAYS[m["wd"]])),
    (
        _zh(rf"(?P<n>下下?)个?{_ZH_WEEK}{_ZH_WD}"),
        lambda m, t, f: _next_week(t, _ZH_WEEKDAYS[m["wd"]], len(m["n"])),
    ),
    (_zh(rf"(?P<n>下下?)个?{_ZH_WEEK}"), lambda m, t, f: _next_week(t, 0, len(m["n"]))),
    (_zh(rf"(?:这|本)个?{_ZH_WEEK}内?"), lambda m, t, f: _coming(t, 6)),
    (_zh(r"(?:这|本)?个?周末"), lambda m, t, f: _weekend(t)),
    (_zh(r"下个?周末"), lambda m, t, f: _weekend(t, 1)),
    (_zh(r"(?:这|本)?个?月(?:底|末)"), lambda m, t, f: _month_end(t.year, t.month)),
    (_zh(r"下个?月(?:初)?"), lambda m, t, f: _add_months(t, 1, 1)),
    (_zh(r"下个?月(?:底|末)"), lambda m, t, f: _add_months(t, 1, 31)),
    (_zh(r"月初"), lambda m, t, f: t if t.day == 1 else _add_months(t, 1, 1)),
    (_zh(r"月中"), lambda m, t, f: _day_of_month(t, 15)),
    (_zh(r"年底|年末"), lambda m, t, f: date(t.year, 12, 31)),
    (_zh(rf"下个?月(?P<d>{CN_NUM})[号日]"), lambda m, t, f: _add_months(t, 1, _n(m, "d"))),
    (
        _zh(rf"(?P<m>{CN_NUM})月份?(?P<d>{CN_NUM})[号日]?"),
        lambda m, t, f: _month_day(t, _n(m, "m"), _n(m, "d")),
    ),
    (
        _zh(rf"(?P<m>{CN_NUM})月份?(?P<p>底|末|初|中)"),
        lambda m, t, f: _month_part(m, t),
    ),
    (_zh(rf"(?P<d>{CN_NUM})[号日]"), lambda m, t, f: _day_of_month(t, _n(m, "d"))),
    (
        _zh(rf"(?:再?过)?(?P<n>{CN_NUM})个?(?P<u>天|日|周|星期|礼拜|月)(?:之?后|以后|之?内|以内)"),
        lambda m, t, f: _relative(t, _n(m, "n"), m["u"]),
    ),
    (
        _zh(rf"再?过(?P<n>{CN_NUM})个?(?P<u>天|日|周|星期|礼拜|月)"),
        lambda m, t, f: _relative(t, _n(m, "n"), m["u"]),
    ),
    # -- English
    (
        en(r"today|tonight|this\s+(?:morning|afternoon|evening)|end\s+of\s+(?:the\s+)?day|eod"),
        lambda m, t, f: t,
    ),
    (
        en(r"tomorrow|tmrw|tmr|tmw|tomorow|tommorow|tommorrow|2morrow|2moro"),
        lambda m, t, f: t + timedelta(days=1),
    ),
    (en(r"(?:the\s+)?day\s+after\s+tomorrow"), lambda m, t, f: t + timedelta(days=2)),
    (
        en(
            r"(?:(?P<rel>next|this|this\s+coming|coming)\s+)?(?P<wd>monday|tuesday|wednesday|thursday|friday"
            r"|saturday|sunday|mon|tues?|thu(?:rs?)?|fri)"
        ),
        lambda m, t, f: _weekday_en(m, t),
    ),
    # "sat", "sun" and "wed" are English words too: only after a preposition
    (
        en(r"(?:(?P<rel>next|this|coming)|on|by|till|until|before)\s+(?P<wd>wed|sat|sun)"),
        lambda m, t, f: _weekday_en(m, t),
    ),
    (en(r"(?:next|the\s+following)\s+week"), lambda m, t, f: _next_week(t)),
    (en(r"(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week|this\s+week)"), lambda m, t, f: _coming(t, 6)),
    (en(r"(?:this\s+|the\s+)?weekend"), lambda m, t, f: _weekend(t)),
    (en(r"next\s+weekend"), lambda m, t, f: _weekend(t, 1)),
    (
        en(r"(?:(?:the\s+)?(?:beginning|start)\s+of\s+|early\s+)?next\s+month"),
        lambda m, t, f: _add_months(t, 1, 1),
    ),
    (
        en(r"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?month|month[\s-]?end|eom"),
        lambda m, t, f: _month_end(t.year, t.month),
    ),
    (en(r"(?:the\s+)?end\s+of\s+next\s+month"), lambda m, t, f: _add_months(t, 1, 31)),
    (en(r"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?year"), lambda m, t, f: date(t.year, 12, 31)),
    (
        en(rf"(?:in|within|after)\s+(?P<n>{EN_NUM})\s+(?P<u>days?|weeks?|months?)"),
        lambda m, t, f: _relative(t, _n(m, "n"), m["u"]),
    ),
    (
        en(rf"(?P<n>{EN_NUM})\s+(?P<u>days?|weeks?|months?)\s+(?:from\s+(?:now|today)|later)"),
        lambda m, t, f: _relative(t, _n(m, "n"), m["u"]),
    ),
    (
        en(rf"(?P<mon>{_MONTH})\.?\s+(?:the\s+)?(?P<d>\d{{1,2}}){_ORD}?(?:,?\s+(?P<y>\d{{4}}))?"),
        lambda m, t, f: _month_day(t, _nm(m), int(m["d"]), _year(m)),
    ),
    (
        en(rf"(?:the\s+)?(?P<d>\d{{1,2}}){_ORD}?\s+(?:of\s+)?(?P<mon>{_MONTH})\.?(?:,?\s+(?P<y>\d{{4}}))?"),
        lambda m, t, f: _month_day(t, _nm(m), int(m["d"]), _year(m)),
    ),
    # "on the 15th", "by the 15th"; but "the 2nd payment" is not a date
    (
        en(
            rf"(?:(?:on|by|until|till|before)\s+(?:the\s+)?|the\s+)(?P<d>\d{{1,2}}){_ORD}?(?![\d/.-])"
            r"(?!\s*(?:payments?|instal\w*|times?|ones?|bills?|months?|weeks?|days?|years?)(?![a-z]))"
        ),
        lambda m, t, f: _day_of_month(t, int(m["d"])),
    ),
)


def _weekday_en(m: re.Match[str], today: date) -> date:
    weekday = _EN_WEEKDAYS[m["wd"]]
    return _next_week(today, weekday) if m["rel"] == "next" else _coming(today, weekday)


def find_dates(text: str, today: date, dayfirst: bool = False) -> list[DateMatch]:
    """Every date expression in normalised ``text``, in order, without overlaps.

    A resolved date is never before ``today``: the property tests hold us to it.
    """
    found: list[tuple[int, int, Resolver, re.Match[str]]] = []
    for pattern, resolve in RULES:
        found.extend((m.start(), m.end(), resolve, m) for m in pattern.finditer(text))
    found.sort(key=lambda item: (item[0], item[0] - item[1]))
    matches: list[DateMatch] = []
    end = 0
    for start, stop, resolve, m in found:
        if start < end:
            continue
        day = resolve(m, today, dayfirst)
        matches.append(DateMatch(start, stop, day if day is not None and day >= today else None))
        end = stop
    return matches
