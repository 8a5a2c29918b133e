"""The plugin manager and the registries it fills.

Nothing is loaded at import time: :func:`make_plugin_manager` builds a
manager, loads the ``dunning`` entry points (optionally only an allow-list of
them) and checks that every hook implementation matches a spec.
:class:`Registry` then asks every plugin to register its channels, presets,
settings sections and template sources, remembering which plugin each came
from.

Every hook is called through pluggy's hook caller, never an implementation's
function directly, so that ``DUNNING_PLUGIN_TRACE`` sees each call. Where the
core must know which plugin answered, or one failing implementation must not
stop the others, :func:`each_implementation` gives one caller per plugin
(``pm.subset_hook_caller``), which pluggy traces like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, cast

import pluggy
from pluggy import HookCaller, HookImpl

from dunning.core import hookspecs
from dunning.core.channel import Channel, ChannelSpec
from dunning.core.content.sources import TemplateSource
from dunning.core.content.templating import TemplateLibrary
from dunning.core.errors import DuplicateNameError, PluginError
from dunning.core.policy.presets import Preset
from dunning.core.sections import SettingsSection, check_namespace
from dunning.core.settings import Settings

__all__ = ["Registry", "each_implementation", "hook_chooser", "make_plugin_manager", "make_registry"]

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


def each_implementation(pm: pluggy.PluginManager, name: str) -> Iterator[tuple[str, HookCaller]]:
    """For each plugin implementing hook ``name``, in registration order: its name and a caller of it alone.

    The callers are pluggy's own (``subset_hook_caller``), so tracing and
    monitoring see each call as they see ``pm.hook.<name>(...)``.
    """
    impls = getattr(pm.hook, name).get_hookimpls()
    for impl in impls:
        others = [other.plugin for other in impls if other.plugin is not impl.plugin]
        yield impl.plugin_name, pm.subset_hook_caller(name, remove_plugins=others)


@dataclass
class Registry:
    """What plugins registered (channels, presets, settings sections, template sources), and from where."""

    pm: pluggy.PluginManager
    channels: dict[str, type[Channel]] = field(default_factory=dict)
    presets: dict[str, Preset] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    #: Settings sections by namespace.
    settings: dict[str, type[SettingsSection]] = field(default_factory=dict)
    #: Template sources in the order plugins registered them, with the plugin of each.
    template_sources: list[tuple[str, TemplateSource]] = field(default_factory=list)

    def collect(self) -> Registry:
        """Ask every plugin to register what it brings; check that each channel's settings exist."""
        adders: dict[str, Callable[[Any, str], None]] = {
            "dunning_register_channels": self._add_channel,
            "dunning_register_presets": self._add_preset,
            "dunning_register_settings": self._add_settings,
            "dunning_register_templates": self._add_templates,
        }
        for hook, add in adders.items():
            for plugin_name, call in each_implementation(self.pm, hook):
                call(register=_bound(add, plugin_name))
        self._check_channel_settings()
        return self

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

    def _add_settings(self, section: type[SettingsSection], source: str) -> None:
        if not (isinstance(section, type) and issubclass(section, SettingsSection)):
            raise PluginError(
                f"plugin {source!r} registered {section!r}, which is not a SettingsSection class"
            )
        check_namespace(section, Settings.model_fields)
        known = self.settings.get(section.namespace)
        if known is section:
            return
        if known is not None:
            raise DuplicateNameError(
                f"settings namespace {section.namespace!r} registered by {source!r} is already registered "
                f"by {self.sources['settings:' + section.namespace]!r}"
            )
        self.settings[section.namespace] = section
        self.sources["settings:" + section.namespace] = source

    def _add_templates(self, source: TemplateSource, plugin_name: str) -> None:
        self.template_sources.append((plugin_name, source))

    def _check_channel_settings(self) -> None:
        for name, cls in self.channels.items():
            namespace = cls.settings_namespace
            if namespace and namespace not in self.settings:
                raise PluginError(
                    f"channel {name!r} of {self.source_of('channel', name)!r} reads settings namespace "
                    f"{namespace!r}, which no plugin registers (dunning_register_settings)"
                )

    def check_settings(self, settings: Any) -> None:
        """Validate every registered section now, so that a bad value stops start-up naming its variable."""
        for section in self.settings.values():
            section.of(settings)

    def templates(self, directories: Sequence[str | Path] = ()) -> TemplateLibrary:
        """The template library: ``directories`` (the deployment's own), the built-ins, then plugins' sources."""
        return TemplateLibrary(
            directories,
            filters=self.template_filters(),
            sources=[source for _, source in self.template_sources],
        )

    def channel_specs(self) -> dict[str, ChannelSpec]:
        return {name: cls.spec() for name, cls in self.channels.items()}

    def source_of(self, kind: str, name: str) -> str:
        return self.sources.get(f"{kind}:{name}", "?")

    def template_filters(self) -> dict[str, Callable[..., Any]]:
        """Every plugin's template filters, merged; a name offered twice is a ``DuplicateNameError``."""
        merged: dict[str, Callable[..., Any]] = {}
        for plugin_name, call in each_implementation(self.pm, "dunning_template_filters"):
            for offered in call():
                for name, fn in cast(Mapping[str, Callable[..., Any]], offered or {}).items():
                    if name in merged:
                        raise DuplicateNameError(
                            f"template filter {name!r} of {plugin_name!r} is already defined"
                        )
                    merged[name] = fn
        return merged


def _bound(add: Callable[[Any, str], None], plugin_name: str) -> Callable[[Any], None]:
    """The ``register`` callback handed to one plugin: it adds in that plugin's name."""

    def register(item: Any) -> None:
        add(item, plugin_name)

    return register


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
