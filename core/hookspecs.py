"""Every hook a dunning plugin may implement, in one place.

Plugins register through the ``dunning`` entry-point group; built-in channels
and plugins use that same group. Each hook's docstring says how results
combine: *all results* (every implementation runs) or *first non-None*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from dunning.core.channel import Channel
    from dunning.core.model import Case
    from dunning.core.policy import Step, Variant
    from dunning.core.presets import Preset

__all__ = ["PROJECT", "hookimpl", "hookspec"]

#: The pluggy project name, and the entry-point group plugins register in.
PROJECT = "dunning"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- registries


@hookspec
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register channel classes by calling ``register(ChannelClass)`` once per channel.

    All implementations run. A name registered twice raises ``DuplicateNameError``.
    """


@hookspec
def dunning_register_presets(register: Callable[[Preset], None]) -> None:
    """Register guardrail presets by calling ``register(preset)``.

    All implementations run. A name registered twice raises ``DuplicateNameError``.
    """


# ---------------------------------------------------------------- content


@hookspec
def dunning_template_filters() -> Mapping[str, Callable[..., Any]]:
    """Return extra Jinja2 filters for reminder templates, by name.

    All implementations run; their results are merged, and two plugins
    offering one name is an error.
    """


@hookspec(firstresult=True)
def dunning_choose_variant(case: Case, step: Step, variants: Sequence[Variant]) -> str | None:
    """Choose a template variant of an A/B step for this case (e.g. a bandit).

    First non-None result wins; return a variant's ``name``. With no answer the
    engine assigns a variant by a stable hash of the debtor id and the weights.
    """
