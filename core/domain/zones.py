"""Which time zones a debtor may be in.

The case's own timezone wins. Without one, the zones are inferred from the
phone number with ``phonenumbers``; a number may map to several zones (a
Russian mobile number to sixteen), and then a moment is convenient only if it
is convenient in every one of them (Reg F §1006.6(b)(1)(i), "where the
location is uncertain").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

__all__ = ["candidate_zones", "is_valid_zone", "local_moment", "phone_region", "zone"]

_UNKNOWN = "Etc/Unknown"


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """A cached ``ZoneInfo``; raises ``ZoneInfoNotFoundError`` for a bad name."""
    return ZoneInfo(name)


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=65536)
def _zones_for_phone(phone: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    names = phone_timezone.time_zones_for_number(number)
    return tuple(sorted(n for n in names if n != _UNKNOWN and is_valid_zone(n)))


@lru_cache(maxsize=65536)
def phone_region(phone: str | None) -> str | None:
    """The ISO country of a phone number in E.164, if it has one."""
    if not phone:
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return None


def candidate_zones(
    timezone: str | None, phone: str | None, default: str | None = None
) -> tuple[ZoneInfo, ...]:
    """Every zone the debtor may be in: the case's, else the phone's, else ``default``."""
    if timezone and is_valid_zone(timezone):
        return (zone(timezone),)
    if phone:
        names = _zones_for_phone(phone)
        if names:
            return tuple(zone(n) for n in names)
    return (zone(default or "UTC"),)


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock moment in UTC (a time skipped by DST moves forward)."""
    moment = datetime.combine(day, at, tzinfo=zone)
    back = moment.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != moment.replace(tzinfo=None):
        moment = back
    return moment.astimezone(UTC)
