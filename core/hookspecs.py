"""Every hook a dunning plugin may implement, in one place.

Plugins register through the ``dunning`` entry-point group; built-in channels
and plugins use that same group. Each hook's docstring says how results
combine: *all results* (every implementation runs) or *first non-None*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from fastapi import APIRouter

    from dunning.core.channel import Channel
    from dunning.core.content.sources import TemplateSource
    from dunning.core.domain.model import Case, Event
    from dunning.core.domain.replies import Classification
    from dunning.core.policy.model import Step, Variant
    from dunning.core.policy.presets import Preset
    from dunning.core.sections import SettingsSection

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


@hookspec
def dunning_register_settings(register: Callable[[type[SettingsSection]], None]) -> None:
    """Register settings sections by calling ``register(SectionClass)`` once per namespace.

    A section (a :class:`~dunning.core.sections.SettingsSection` subclass) is
    read from ``DUNNING_<NAMESPACE>_*`` and validated with its bounds; a bad
    value stops start-up with an error naming the variable, and ``dunning
    channels list`` shows the section of each channel (``settings_namespace``)
    with its secrets masked. All implementations run. Registering the same
    class twice is harmless (two channels of one provider may share it); a
    namespace claimed by two classes raises ``DuplicateNameError``.
    """


@hookspec
def dunning_register_templates(register: Callable[[TemplateSource], None]) -> None:
    """Register template sources by calling ``register(source)``: a directory or a package resource.

    ``source`` is a path or an ``importlib.resources`` traversable, e.g.
    ``files("my_plugin") / "templates"``, holding
    ``<channel>/<name>.<locale>.j2`` files for the plugin's channels.

    All implementations run. Templates are looked up in the deployment's own
    directories (``DUNNING_TEMPLATE_DIRS``) first, then in dunning's built-in
    ones, then in the registered sources in the order plugins registered them.
    """


# ---------------------------------------------------------------- responses


@hookspec(firstresult=True)
def dunning_classify_reply(text: str, locale: str, today: date) -> Classification | None:
    """Classify a debtor's free-text reply: opt-out, paid, promise (with its date), ...

    ``today`` is the debtor's local date, for relative dates ("明天还", "Friday").
    First non-None result wins; return None to let the next classifier try.
    """


@hookspec
def dunning_on_event(event: Event) -> None:
    """Observe an event after it is recorded: a payment, a reply, an opt-out, ...

    All implementations run; return values are ignored. An exception in one
    is logged and does not undo the event (it is already committed).
    """


@hookspec
def dunning_register_routes(register: Callable[[APIRouter], None]) -> None:
    """Add HTTP routes to the API, e.g. a provider's webhooks, by calling ``register(router)``.

    All implementations run. Routes reach the runtime through
    ``request.app.state.intake``; the API's bearer-token check does not apply
    to them, so each must authenticate its caller (a provider's signature).
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
