"""The daily contact ceiling: a limit every policy has, whatever its presets and caps say.

A preset may cap only calls (``china``) and a ladder may wait a second before
it restarts; without a backstop such a policy would text a debtor hundreds of
times a day. So every compiled policy carries one more cap — at most
``limits.daily_contacts`` contacts per debtor per rolling day, across all
channels — which a policy may lower or raise within bounds, but never remove.
"""

from __future__ import annotations

from datetime import timedelta

from dunning.core.domain.guardrails import ANY, Cap

__all__ = [
    "CEILING",
    "DEFAULT_DAILY_CONTACTS",
    "MAX_DAILY_CONTACTS",
    "WARN_DAILY_CONTACTS",
    "ceiling_cap",
    "is_ceiling",
]

#: The source of the ceiling's cap; its rule reads ``cap:any:3/1d:debtor:ceiling``.
CEILING = "ceiling"

#: Contacts per debtor per rolling day when a policy does not say.
DEFAULT_DAILY_CONTACTS = 3

#: Above this many a day, ``policy check`` warns that the ceiling is high.
WARN_DAILY_CONTACTS = 10

#: The most a policy may raise the ceiling to: about one contact an hour, round the clock.
MAX_DAILY_CONTACTS = 24

#: The rolling window the ceiling counts over.
WINDOW = timedelta(days=1)


def ceiling_cap(daily_contacts: int) -> Cap:
    """The ceiling as a cap the guardrails enforce like any other."""
    return Cap(ANY, daily_contacts, WINDOW, scope="debtor", count="attempts", source=CEILING)


def is_ceiling(cap: Cap) -> bool:
    return cap.source == CEILING
