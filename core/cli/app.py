"""What every command shares: settings and plugins, built on first use."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from dunning.core.plugins import Registry, make_registry
from dunning.core.policy import Policy, load_policy
from dunning.core.settings import Settings, load_settings
from dunning.core.templating import TemplateLibrary


class App:
    """Lazily built settings, registry and templates for the CLI."""

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def registry(self) -> Registry:
        return make_registry(self.settings.plugins, trace=self.settings.plugin_trace)

    @cached_property
    def templates(self) -> TemplateLibrary:
        return TemplateLibrary(filters=self.registry.template_filters())

    def policy(self, path: str | Path | None = None) -> Policy:
        chosen = path or self.settings.policy
        if not chosen:
            from dunning.core.errors import ConfigError

            raise ConfigError("no policy: pass --policy FILE or set DUNNING_POLICY")
        return load_policy(
            chosen,
            channels=self.registry.channel_specs(),
            presets=self.registry.presets,
            templates=self.templates.exists,
        )
