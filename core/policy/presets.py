"""Guardrail presets: the law's limits, packaged and named.

A preset bundles quiet hours, caps, cool-downs and holiday calendars under a name a policy can
select (``preset: us_reg_f``). Presets are plugins: the built-in ones live in
``dunning.plugins.presets`` and register through ``dunning_register_presets``
exactly as a third party's would.
"""

from __future__ import annotations

from dataclasses import dataclass

from dunning.core.domain.guardrails import Cap, Cooldown, QuietWindow

__all__ = ["Preset"]


@dataclass(frozen=True)
class Preset:
    """A named set of guardrails, with the rules it implements cited."""

    name: str
    description: str
    quiet: tuple[QuietWindow, ...] = ()
    caps: tuple[Cap, ...] = ()
    cooldowns: tuple[Cooldown, ...] = ()
    citations: tuple[str, ...] = ()
    #: countries whose public holidays it blacks out (a policy may add and remove days on top)
    holidays: tuple[str, ...] = ()
