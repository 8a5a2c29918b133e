"""Durations as strategists write them in a policy: ``30m``, ``2h``, ``1d``, ``1w``, ``1d12h``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str | int) -> timedelta:
    """Parse ``"1d12h"`` into a timedelta; a bare integer means seconds.

    Raises ``ValueError`` naming what was wrong, for the policy checker to
    report against the line it came from.
    """
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30m, 2h, 1d or 1w")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=text)
    compact = str(text).strip().lower().replace(" ", "")
    if compact == "0":
        return timedelta(0)
    pos = 0
    seconds = 0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(compact) or not compact:
        raise ValueError(f"{text!r} is not a duration (use e.g. 30m, 2h, 1d, 1w)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The inverse of :func:`parse_duration`, largest units first."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
