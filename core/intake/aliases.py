"""Channel names as people and systems write them, turned into the registered names.

An opt-out posted with ``"SMS"`` or ``"text"`` must stop the texts, not be
recorded against a channel that does not exist while texts go on. Documented
aliases are normalised; anything else is refused, naming the field.
"""

from __future__ import annotations

from collections.abc import Collection

from dunning.core.errors import InputError

__all__ = ["ALIASES", "ALL", "normalise_channel"]

#: What an event's ``channel`` may say for "every channel".
ALL = "all"
#: Other words for the built-in channels (compared case-insensitively).
ALIASES = {
    "text": "sms",
    "texts": "sms",
    "txt": "sms",
    "message": "sms",
    "messages": "sms",
    "call": "voice",
    "calls": "voice",
    "phone": "voice",
    "notification": "push",
    "notifications": "push",
    "app": "push",
    "any": ALL,
    "every": ALL,
    "*": ALL,
}


def normalise_channel(name: str | None, known: Collection[str], *, field: str = "channel") -> str | None:
    """The registered name ``name`` means; None stays None; InputError for an unknown channel."""
    if name is None:
        return None
    folded = name.strip().casefold()
    if folded in known:
        return folded
    resolved = ALIASES.get(folded, folded)
    if resolved == ALL or resolved in known:
        return resolved
    choices = ", ".join([*sorted(known), ALL])
    raise InputError(f"unknown channel {name!r} (one of: {choices}; or text, call, app)", field=field)
