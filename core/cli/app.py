"""What every command shares: settings, plugins, the store and the runtime, built on first use."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import click

from dunning.core.content.templating import TemplateLibrary
from dunning.core.errors import ConfigError
from dunning.core.plugins import Registry, make_registry
from dunning.core.policy.compile import load_policy
from dunning.core.policy.model import Policy
from dunning.core.runtime.runtime import Runtime, build_runtime
from dunning.core.settings import Settings, load_settings
from dunning.core.store import Store, open_store


def parse_moment(value: str | None) -> datetime | None:
    """An ISO 8601 option value as an aware UTC datetime (UTC when no offset is given)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class App:
    """Lazily built settings, registry, templates and store for the CLI."""

    def __init__(self, *, log_level: int = logging.WARNING) -> None:
        self._store: Store | None = None
        self._runtime: Runtime | None = None
        self.fixed_now: datetime | None = None
        #: The level ``-v`` chose; processes this command spawns log at it too.
        self.log_level = log_level

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def registry(self) -> Registry:
        return make_registry(self.settings.plugins, trace=self.settings.plugin_trace)

    @cached_property
    def templates(self) -> TemplateLibrary:
        return self.registry.templates(self.settings.template_dirs)

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)

    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.database_url)
        return self._store

    def policy(self, path: str | Path | None = None) -> Policy:
        chosen = path or self.settings.policy
        if not chosen:
            raise ConfigError("no policy: pass --policy FILE or set DUNNING_POLICY")
        return load_policy(
            chosen,
            channels=self.registry.channel_specs(),
            presets=self.registry.presets,
            templates=self.templates.exists,
        )

    def runtime(self) -> Runtime:
        """The runtime of the configured policy and channels (events go through its intake)."""
        if self._runtime is None:
            self._runtime = build_runtime(self.settings, registry=self.registry)
        return self._runtime
