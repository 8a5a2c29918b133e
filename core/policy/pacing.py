"""Advice on how fast a policy may contact a debtor, for ``dunning policy check``.

Nothing here is an error: a short wait or an uncapped channel may be meant.
But a ladder that waits seconds, or a channel that only the daily ceiling
holds back, is how a policy ends up texting a debtor all day, so each is
named with its line before the policy meets anyone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta

from dunning.core.domain.guardrails import Cap, Guardrails
from dunning.core.policy.ceiling import WARN_DAILY_CONTACTS, WINDOW, is_ceiling
from dunning.core.policy.durations import format_duration
from dunning.core.policy.model import Ladder

__all__ = ["MIN_WAIT", "Advice", "ceiling_advice", "short_waits", "uncapped_channels"]

#: Waits shorter than this between contacts are worth a second look.
MIN_WAIT = timedelta(hours=1)

#: A field's path in the policy file and what to say about it.
Advice = tuple[tuple[str | int, ...], str]


def short_waits(ladders: Mapping[str, Ladder]) -> Iterator[Advice]:
    """Each step that waits under :data:`MIN_WAIT` before another contact may follow."""
    for ladder in ladders.values():
        for step in ladder.steps:
            last = step.index == len(ladder.steps) - 1
            if step.wait >= MIN_WAIT or (last and ladder.then in ("stop", "handoff") and not step.repeat):
                continue  # nothing follows the last step of a ladder that ends
            yield (
                ("ladders", ladder.name, "steps", step.index, "wait"),
                f"waits only {format_duration(step.wait)} before the next contact "
                f"(under {format_duration(MIN_WAIT)}): only caps keep the debtor from a message a minute",
            )


def uncapped_channels(
    rails: Guardrails, ladders: Mapping[str, Ladder], channels: Collection[str], ceiling: int
) -> Iterator[Advice]:
    """Each channel a ladder uses that no per-debtor cap over a day or less limits, but the ceiling."""
    warned: set[str] = set()
    for ladder in ladders.values():
        for step in ladder.steps:
            if step.channel in warned or step.channel not in channels:
                continue
            if not any(_daily_debtor_limit(cap, step.channel) for cap in rails.caps):
                warned.add(step.channel)
                yield (
                    ("ladders", ladder.name, "steps", step.index, "channel"),
                    f"no per-debtor cap of a day or less limits {step.channel!r} (neither a preset "
                    f"nor caps:); only the daily ceiling of {ceiling} contacts holds it back",
                )


def _daily_debtor_limit(cap: Cap, channel: str) -> bool:
    return (
        not is_ceiling(cap)
        and cap.applies(channel)
        and cap.scope == "debtor"
        and cap.count == "attempts"
        and cap.per <= WINDOW
    )


def ceiling_advice(daily_contacts: int) -> Iterator[Advice]:
    """A ceiling raised past :data:`WARN_DAILY_CONTACTS` contacts a day."""
    if daily_contacts > WARN_DAILY_CONTACTS:
        yield (
            ("limits", "daily_contacts"),
            f"{daily_contacts} contacts a day per debtor is more than {WARN_DAILY_CONTACTS}: "
            "many a day is harassment in most places",
        )
