"""The plugin manager and the registries it fills.

Nothing is loaded at import time: :func:`make_plugin_manager` builds a
manager, loads the ``dunning`` entry points (optionally only an allow-list of
them) and checks that every hook implementation matches a spec.
:class:`Registry` then asks every plugin to register its channels and
presets, remembering which plugin each came from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, cast

import pluggy
from pluggy import HookImpl

from dunning.core import hookspecs
from dunning.core.channel import Channel, ChannelSpec
from dunning.core.errors import DuplicateNameError, PluginError
from dunning.core.policy.presets import Preset

__all__ = ["Registry", "hook_chooser", "make_plugin_manager", "make_registry"]

log = logging.getLogger(__name__)


def make_plugin_manager(
    allow: Iterable[str] | None = None,
    *,
    extra: Iterable[object] = (),
    trace: bool = False,
    entry_point_group: str = hookspecs.PROJECT,
) -> pluggy.PluginManager:
    """A plugin manager with the entry points of ``group`` loaded and checked.

    ``allow`` limits loading to the named entry points (the ``DUNNING_PLUGINS``
    setting); ``extra`` registers plugin objects directly (tests, embedding);
    ``trace`` logs every hook call at DEBUG, for debugging plugins.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    wanted = None if allow is None else {name.strip() for name in allow if name.strip()}
    found = set()
    for ep in entry_points(group=entry_point_group):
        if wanted is not None and ep.name not in wanted:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        found.add(ep.name)
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
    if wanted is not None and wanted - found:
        missing = ", ".join(sorted(wanted - found))
        raise PluginError(f"DUNNING_PLUGINS names plugins that are not installed: {missing}")
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    if trace:
        pm.add_hookcall_monitoring(_before_hook, _after_hook)
    return pm


def _before_hook(hook_name: str, hook_impls: Sequence[HookImpl], kwargs: Mapping[str, Any]) -> None:
    log.debug("hook %s -> %s", hook_name, [impl.plugin_name for impl in hook_impls])


def _after_hook(
    outcome: pluggy.Result[Any], hook_name: str, hook_impls: Sequence[HookImpl], kwargs: Mapping[str, Any]
) -> None:
    log.debug("hook %s done", hook_name)


@dataclass
class Registry:
    """Channels and presets registered by plugins, with the plugin each came from."""

    pm: pluggy.PluginManager
    channels: dict[str, type[Channel]] = field(default_factory=dict)
    presets: dict[str, Preset] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def collect(self) -> Registry:
        for impl in self.pm.hook.dunning_register_channels.get_hookimpls():
            impl.function(register=self._registrar(impl.plugin_name, "channel"))
        for impl in self.pm.hook.dunning_register_presets.get_hookimpls():
            impl.function(register=self._registrar(impl.plugin_name, "preset"))
        return self

    def _registrar(self, plugin_name: str, what: str) -> Callable[[Any], None]:
        def register(item: Any) -> None:
            if what == "channel":
                self._add_channel(item, plugin_name)
            else:
                self._add_preset(item, plugin_name)

        return register

    def _add_channel(self, cls: type[Channel], source: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Channel)):
            raise PluginError(f"plugin {source!r} registered {cls!r}, which is not a Channel class")
        name = getattr(cls, "name", None)
        if not name:
            raise PluginError(f"plugin {source!r} registered a channel with no name")
        if name in self.channels:
            raise DuplicateNameError(
                f"channel {name!r} registered by {source!r} is already registered "
                f"by {self.sources['channel:' + name]!r}"
            )
        self.channels[name] = cls
        self.sources["channel:" + name] = source

    def _add_preset(self, preset: Preset, source: str) -> None:
        if preset.name in self.presets:
            raise DuplicateNameError(
                f"preset {preset.name!r} registered by {source!r} is already registered "
                f"by {self.sources['preset:' + preset.name]!r}"
            )
        self.presets[preset.name] = preset
        self.sources["preset:" + preset.name] = source

    def channel_specs(self) -> dict[str, ChannelSpec]:
        return {name: cls.spec() for name, cls in self.channels.items()}

    def source_of(self, kind: str, name: str) -> str:
        return self.sources.get(f"{kind}:{name}", "?")

    def template_filters(self) -> dict[str, Callable[..., Any]]:
        merged: dict[str, Callable[..., Any]] = {}
        for impl in self.pm.hook.dunning_template_filters.get_hookimpls():
            offered = cast(Mapping[str, Callable[..., Any]], impl.function() or {})
            for name, fn in offered.items():
                if name in merged:
                    raise DuplicateNameError(
                        f"template filter {name!r} of {impl.plugin_name!r} is already defined"
                    )
                merged[name] = fn
        return merged


def make_registry(
    allow: Iterable[str] | None = None, *, extra: Iterable[object] = (), trace: bool = False
) -> Registry:
    """Load plugins and collect what they register: the usual way in."""
    return Registry(make_plugin_manager(allow, extra=extra, trace=trace)).collect()


def hook_chooser(pm: pluggy.PluginManager) -> Callable[[Any, Any, Any], str | None]:
    """A variant chooser that asks ``dunning_choose_variant`` (first answer wins)."""

    def choose(case: Any, step: Any, variants: Any) -> str | None:
        result: str | None = pm.hook.dunning_choose_variant(case=case, step=step, variants=variants)
        return result

    return choose
