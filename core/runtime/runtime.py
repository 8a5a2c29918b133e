"""The runtime: store, policy, channels, templates, broker and clock, built once from settings.

Everything with I/O is reached through a :class:`Runtime`; the scheduler tick,
the sweeper and the delivery actor take one as their first argument. Nothing
here runs at import time: :func:`build_runtime` builds it when asked.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from dunning.core.channel import Channel, ChannelSpec
from dunning.core.content.templating import TemplateLibrary
from dunning.core.errors import ConfigError
from dunning.core.plugins import Registry, hook_chooser, make_registry
from dunning.core.policy.compile import load_policy
from dunning.core.policy.model import Policy
from dunning.core.runtime.learning import PortfolioLearning
from dunning.core.runtime.metrics import Metrics
from dunning.core.runtime.outage import Outages
from dunning.core.runtime.ratelimit import Limiters, parse_limits
from dunning.core.settings import Settings, load_settings
from dunning.core.store import Store, open_store
from dunning.core.webhooks.topics import Subscription, parse_subscriptions

__all__ = ["Clock", "Runtime", "build_channels", "build_runtime", "subscriptions_of", "system_clock"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What the scheduler and the workers share."""

    settings: Settings
    registry: Registry
    store: Store
    policy: Policy
    templates: TemplateLibrary
    channels: Mapping[str, Channel]
    clock: Clock = system_clock
    dry_run: bool = False
    dispatcher: Any = None
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    #: Called with each message the outbox channel records (the demo prints them).
    echo: Callable[[str], None] | None = None
    #: Provider rate limits (DUNNING_RATE_LIMITS), shared across workers through Redis.
    limiters: Limiters | None = None
    #: Store, broker and provider failures going on, logged once per run and interval.
    outages: Outages = field(default_factory=Outages)
    #: What this process counts and times as it works (``/metrics``, ``--metrics-port``).
    metrics: Metrics = field(default_factory=Metrics)
    #: What the scheduler learned across the portfolio (closed challengers, segments' hours).
    learning: PortfolioLearning = field(default_factory=PortfolioLearning)

    def now(self) -> datetime:
        return self.clock()

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(name)

    @cached_property
    def settling(self) -> frozenset[str]:
        """Channels whose provider can be asked whether an ambiguous send left."""
        return frozenset(name for name, channel in self.channels.items() if channel.can_reconcile)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.store.dispose()


def build_channels(
    registry: Registry,
    settings: Settings,
    store: Store,
    *,
    dry_run: bool,
    echo: Callable[[str], None] | None = None,
) -> tuple[dict[str, Channel], bool]:
    """Configured channels by name, and whether the run is a dry run.

    In a dry run every channel is stood in for by the outbox channel, which
    records what would have been sent. With no provider configured at all,
    the run becomes a dry run (and says so): nothing would be sent otherwise.
    """
    if not dry_run:
        built: dict[str, Channel] = {}
        for name, cls in registry.channels.items():
            if name == "outbox":
                continue
            channel = cls.from_settings(settings)
            if channel is not None:
                built[name] = channel
        if built:
            return built, False
        log.warning("no channel is configured: running as a dry run, recording messages in the outbox")
    outbox = registry.channels.get("outbox")
    stand_in = getattr(outbox, "standing_in_for", None)
    if stand_in is None:
        raise ConfigError("a dry run needs the outbox channel plugin, which is not loaded")
    return {
        name: stand_in(cls.spec(), store, echo) for name, cls in registry.channels.items() if name != "outbox"
    }, True


def subscriptions_of(settings: Settings) -> tuple[Subscription, ...]:
    """Who hears which webhooks; a subscription without a signing secret is a ``ConfigError``."""
    subscriptions = parse_subscriptions(settings.webhooks)
    if subscriptions and not settings.webhook_secret:
        raise ConfigError("DUNNING_WEBHOOK_SECRET: required when DUNNING_WEBHOOKS names receivers")
    return subscriptions


def build_runtime(
    settings: Settings | None = None,
    *,
    policy_path: str | None = None,
    clock: Clock = system_clock,
    dry_run: bool | None = None,
    registry: Registry | None = None,
    echo: Callable[[str], None] | None = None,
    migrate: bool = True,
) -> Runtime:
    """Build the runtime from settings: open the store, load plugins, policy and channels."""
    settings = settings or load_settings()
    registry = registry or make_registry(settings.plugins, trace=settings.plugin_trace)
    path = policy_path or settings.policy
    if not path:
        raise ConfigError("no policy: pass --policy FILE or set DUNNING_POLICY")
    registry.check_settings(settings)
    templates = registry.templates(settings.template_dirs)
    policy = load_policy(
        path, channels=registry.channel_specs(), presets=registry.presets, templates=templates.exists
    )
    store = open_store(
        settings.database_url,
        migrate=migrate,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
    )
    store.subscriptions = subscriptions_of(settings)
    channels, is_dry = build_channels(
        registry, settings, store, dry_run=settings.dry_run if dry_run is None else dry_run, echo=echo
    )
    available: dict[str, ChannelSpec] = {name: registry.channels[name].spec() for name in channels}
    policy = policy.with_channels(available).with_chooser(hook_chooser(registry.pm))
    limits = parse_limits(settings.rate_limits)
    limiters = None
    if limits:
        redis_url = settings.broker_url if (settings.broker_url or "").startswith("redis") else None
        keys = {name: ch.rate_key() for name, ch in channels.items()}
        limiters = Limiters(limits, keys, redis_url)
    return Runtime(
        limiters=limiters,
        settings=settings,
        registry=registry,
        store=store,
        policy=policy,
        templates=templates,
        channels=channels,
        clock=clock,
        dry_run=is_dry,
        echo=echo,
        outages=Outages(settings.outage_log_seconds),
    )
