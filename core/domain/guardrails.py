"""Guardrails: when a contact is lawful, decided as a pure function of time.

Quiet hours in every zone the debtor may be in, the policy's send windows
(:mod:`~dunning.core.domain.windows`, one more constraint, never a wider one),
public-holiday blackouts as the policy amends them, cool-downs after a
conversation, and frequency caps over sliding windows. Nothing here reads a
clock: the moment to judge is always an argument.

:func:`earliest_lawful` answers "when, at the earliest, may this channel
contact this debtor?" — the engine defers a blocked send to that moment, and
suppresses one that can never be lawful. The delivery worker asks the same
question again at send time against the freshest history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from dunning.core.domain.model import COUNTED, Contact, Event, EventKind
from dunning.core.domain.windows import SendWindow, window_block
from dunning.core.domain.zones import local_moment
from dunning.core.policy.durations import format_duration

__all__ = [
    "ANY",
    "Cap",
    "Cooldown",
    "Guardrails",
    "HolidayBlackout",
    "Lawful",
    "QuietWindow",
    "earliest_lawful",
    "local_moment",
]

#: The channel name a cap or window uses to mean every channel.
ANY = "any"

#: How far ahead a lawful moment is looked for before a send counts as never lawful.
HORIZON = timedelta(days=60)

#: How many moves the search may make; each move jumps past one obstacle.
_MAX_MOVES = 5000


@dataclass(frozen=True)
class QuietWindow:
    """No contact from ``start`` to ``end`` local time (wrapping midnight if start > end)."""

    start: time
    end: time
    channels: frozenset[str] | None = None
    source: str = "policy"

    @property
    def rule(self) -> str:
        return f"quiet_hours:{self.source}"

    def applies(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, local: datetime) -> datetime:
        """The local moment this window ends, for a ``local`` inside it."""
        day = local.date()
        if self.start >= self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return local_moment(day, self.end, local.tzinfo)  # type: ignore[arg-type]

    def minutes(self) -> set[int]:
        """The minutes of the day this window covers (for whole-day checks)."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        if start < end:
            return set(range(start, end))
        return set(range(start, 1440)) | set(range(0, end))


@dataclass(frozen=True)
class Cap:
    """At most ``max`` contacts on ``channel`` per sliding ``per`` window.

    ``scope`` is ``debtor`` (all of a person's debts together) or ``case``
    (per debt, as Reg F counts). ``count`` is ``attempts`` (every contact
    that may have reached the debtor) or ``connected`` (answered calls only).
    """

    channel: str
    max: int
    per: timedelta
    scope: str = "debtor"
    count: str = "attempts"
    source: str = "policy"

    @property
    def rule(self) -> str:
        return f"cap:{self.channel}:{self.max}/{format_duration(self.per)}:{self.scope}:{self.source}"

    def applies(self, channel: str) -> bool:
        return self.channel in (ANY, channel)


@dataclass(frozen=True)
class Cooldown:
    """No contact on ``channel`` for ``period`` after a conversation.

    A period of whole days counts calendar days in the debtor's zone with the
    day of the conversation as day 1, as Reg F §1006.14(b)(2)(ii) does.
    """

    channel: str
    period: timedelta
    after: str = "conversation"
    scope: str = "case"
    source: str = "policy"

    @property
    def rule(self) -> str:
        return f"cooldown:{self.after}:{format_duration(self.period)}:{self.source}"

    def applies(self, channel: str) -> bool:
        return self.channel in (ANY, channel)


@dataclass(frozen=True)
class HolidayBlackout:
    """No contact on the public holidays of these countries (local dates), as the policy amends them.

    The country ``"phone"`` stands for the country of the debtor's number.
    ``added`` days are holidays whatever the calendars say, ``removed`` ones
    never are; ``workdays`` are make-up working days (调休), which a send
    window counts as working days even on a weekend.
    """

    countries: tuple[str, ...]
    source: str = "policy"
    added: frozenset[date] = frozenset()
    removed: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def rule(self, country: str) -> str:
        return f"holiday:{country}"


@dataclass(frozen=True)
class Guardrails:
    """Every rule that limits when a debtor may be contacted."""

    quiet: tuple[QuietWindow, ...] = ()
    caps: tuple[Cap, ...] = ()
    cooldowns: tuple[Cooldown, ...] = ()
    holidays: HolidayBlackout | None = None

    def quiet_minutes(self, channel: str) -> frozenset[int]:
        """The minutes of the day that are quiet for ``channel`` (computed once per channel)."""
        found = self._answers.get(channel)
        if found is None:
            found = self._answers[channel] = _quiet_minutes(self.quiet, channel)
        return found

    @cached_property
    def _answers(self) -> dict[Any, Any]:
        """Answers that depend on these rules and their arguments alone, kept for the next case.

        Keyed by argument, on the rules themselves: hashing the rules at every
        question would cost more than some of the answers.
        """
        return {}

    @property
    def workdays(self) -> frozenset[date]:
        """Make-up working days, which a send window's ``days`` counts as working days."""
        return self.holidays.workdays if self.holidays is not None else frozenset()


@lru_cache(maxsize=1024)
def _quiet_minutes(quiet: tuple[QuietWindow, ...], channel: str) -> frozenset[int]:
    covered: set[int] = set()
    for window in quiet:
        if window.applies(channel):
            covered |= window.minutes()
    return frozenset(covered)


@dataclass(frozen=True)
class Lawful:
    """The answer of :func:`earliest_lawful`.

    ``at`` is the earliest lawful moment, or None when there is none (``rule``
    then says why). ``rule`` names the first guardrail that blocked the
    requested moment, or is None when that moment was lawful as it was.
    """

    at: datetime | None
    rule: str | None = None
    blocked_by: tuple[str, ...] = field(default=())

    @property
    def never(self) -> bool:
        return self.at is None


def _quiet_block(
    t: datetime, channel: str, rails: Guardrails, zones: Sequence[ZoneInfo]
) -> tuple[datetime, str] | None:
    for zone in zones:
        local = t.astimezone(zone)
        for window in rails.quiet:
            if window.applies(channel) and window.contains(local.time()):
                end = window.end_after(local)
                if end <= t:
                    end = t + timedelta(minutes=1)
                return end, window.rule
    return None


@lru_cache(maxsize=256)
def _holiday_calendar(country: str, year: int) -> holidays_lib.HolidayBase | None:
    try:
        return holidays_lib.country_holidays(country, years=year)
    except NotImplementedError:
        return None


def _holiday_block(
    t: datetime, rails: Guardrails, zones: Sequence[ZoneInfo], phone_country: str | None
) -> tuple[datetime, str] | None:
    blackout = rails.holidays
    if blackout is None:
        return None
    for zone in zones:
        local = t.astimezone(zone)
        day = local.date()
        if day in blackout.removed:
            continue
        if day in blackout.added:
            return local_moment(day + timedelta(days=1), time(0), zone), blackout.rule(blackout.source)
        for country in blackout.countries:
            code = phone_country if country == "phone" else country
            if not code:
                continue
            calendar = _holiday_calendar(code, local.year)
            if calendar is not None and day in calendar:
                return local_moment(day + timedelta(days=1), time(0), zone), blackout.rule(code)
    return None


def _cooldown_block(
    t: datetime,
    channel: str,
    rails: Guardrails,
    zones: Sequence[ZoneInfo],
    events: Iterable[Event],
    case_id: str,
) -> tuple[datetime, str] | None:
    latest_end: tuple[datetime, str] | None = None
    for cooldown in rails.cooldowns:
        if not cooldown.applies(channel):
            continue
        for event in events:
            if event.kind != EventKind.CONVERSATION or event.at > t:
                continue
            if cooldown.scope == "case" and event.case_id not in (None, case_id):
                continue
            end = _cooldown_end(event.at, cooldown.period, zones)
            if t < end and (latest_end is None or end > latest_end[0]):
                latest_end = (end, cooldown.rule)
    return latest_end


def _cooldown_end(at: datetime, period: timedelta, zones: Sequence[ZoneInfo]) -> datetime:
    if period.total_seconds() % 86400:
        return at + period
    days = int(period.total_seconds() // 86400)
    # Calendar days, the conversation's day being day 1: the latest zone's midnight wins.
    return max(local_moment(at.astimezone(z).date() + timedelta(days=days), time(0), z) for z in zones)


def _counted(contact: Contact, cap: Cap, case_id: str, exclude: str | None) -> bool:
    if exclude is not None and exclude in (contact.intent_id, contact.message_id):
        return False
    if contact.status not in COUNTED:
        return False
    if not cap.applies(contact.channel):
        return False
    if cap.scope == "case" and contact.case_id != case_id:
        return False
    return cap.count != "connected" or contact.connected


def _cap_block(
    t: datetime,
    channel: str,
    rails: Guardrails,
    contacts: Sequence[Contact],
    case_id: str,
    exclude: str | None,
    joins: str | None = None,
) -> tuple[datetime, str] | None:
    if not contacts:
        return None
    for cap in rails.caps:
        if not cap.applies(channel):
            continue
        # One message is one contact, however many loans it reminded the person of.
        messages: dict[str, datetime] = {}
        for c in contacts:
            if t - cap.per < c.at <= t and _counted(c, cap, case_id, exclude):
                messages[c.message] = min(c.at, messages.get(c.message, c.at))
        if joins is not None and joins in messages:
            continue  # the send joins a message already counted: no new contact
        window = sorted(messages.values())
        if len(window) >= cap.max:
            if cap.max == 0:
                return None  # never lawful; reported by earliest_lawful
            # The window frees up when the oldest contact that keeps it full leaves it.
            return window[len(window) - cap.max] + cap.per, cap.rule
    return None


#: How many answers of the clock a set of rules keeps before it starts afresh.
_CLOCK_ANSWERS = 4096


def _clock_block(
    t: datetime,
    channel: str,
    rails: Guardrails,
    zones: tuple[ZoneInfo, ...],
    window: SendWindow | None,
    phone_country: str | None,
) -> tuple[datetime | None, str] | None:
    """What the clock and the calendar alone say of ``t``: quiet hours, the send window, a holiday.

    Nothing of the debtor's own past enters it, so one answer serves every
    debtor in the same zones at the same moment (a tick asks it thousands of times).
    """
    answers = rails._answers
    key = (t, channel, zones, window, phone_country)
    if key in answers:
        known: tuple[datetime | None, str] | None = answers[key]
        return known
    if len(answers) > _CLOCK_ANSWERS:
        answers.clear()
    answers[key] = found = _clock_answer(t, channel, rails, zones, window, phone_country)
    return found


def _clock_answer(
    t: datetime,
    channel: str,
    rails: Guardrails,
    zones: tuple[ZoneInfo, ...],
    window: SendWindow | None,
    phone_country: str | None,
) -> tuple[datetime | None, str] | None:
    return (
        _quiet_block(t, channel, rails, zones)
        or (window_block(t, window, zones, rails.workdays) if window is not None else None)
        or _holiday_block(t, rails, zones, phone_country)
    )


def earliest_lawful(
    start: datetime,
    channel: str,
    *,
    rails: Guardrails,
    zones: Sequence[ZoneInfo],
    case_id: str,
    contacts: Sequence[Contact] = (),
    events: Sequence[Event] = (),
    phone_country: str | Callable[[], str | None] | None = None,
    exclude_intent: str | None = None,
    joins: str | None = None,
    window: SendWindow | None = None,
    horizon: timedelta = HORIZON,
) -> Lawful:
    """The earliest moment at or after ``start`` when ``channel`` may contact the debtor.

    Each guardrail can only move the moment forward, so the search ends at
    the first moment that satisfies all of them — or gives up past
    ``horizon``, when the contact can never be lawful. ``joins`` names a
    message already counted that this send would go in (another loan of the
    same person, combined): it adds no contact to any cap. ``window`` is
    the policy's send window for this send, one more constraint on top.
    """
    for cap in rails.caps:
        if cap.applies(channel) and cap.max == 0:
            return Lawful(None, cap.rule, (cap.rule,))
    if callable(phone_country):
        # Parsing the number costs; only a "phone" holiday calendar needs its country.
        needs = rails.holidays is not None and "phone" in rails.holidays.countries
        phone_country = phone_country() if needs else None
    if len(rails.quiet_minutes(channel)) >= 1440:
        rule = next(w.rule for w in rails.quiet if w.applies(channel))
        return Lawful(None, rule, (rule,))
    t = start
    blocked: list[str] = []
    for _ in range(_MAX_MOVES):
        if t - start > horizon:
            break
        block = (
            _clock_block(t, channel, rails, tuple(zones), window, phone_country)
            or _cooldown_block(t, channel, rails, zones, events, case_id)
            or _cap_block(t, channel, rails, contacts, case_id, exclude_intent, joins)
        )
        if block is None:
            return Lawful(t, blocked[0] if blocked else None, tuple(blocked))
        moved, rule = block
        if rule not in blocked:
            blocked.append(rule)
        if moved is None:
            break  # a window that never opens
        t = moved
    rule = blocked[0] if blocked else "horizon"
    return Lawful(None, rule, tuple(blocked))
