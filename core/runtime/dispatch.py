"""Dramatiq: the broker chosen by URL, one queue and one delivery actor per channel.

``DUNNING_BROKER_URL`` unset means in-process (Dramatiq's ``StubBroker`` with a
worker in the same process); ``redis://`` and ``amqp://`` mean a shared
broker for many worker processes. Nothing binds a global broker: each
:class:`Dispatcher` owns its broker and declares its actors on it.
Long waits never sit in the broker: the store keeps them, and the scheduler
hands intents over when they are due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import dramatiq
from dramatiq.brokers.stub import StubBroker

from dunning.core.channel import ChannelSpec
from dunning.core.settings import Settings

__all__ = ["Dispatcher", "Handover", "actor_name", "make_broker", "ping_broker"]

log = logging.getLogger(__name__)

#: An intent to hand to the broker: (intent_id, channel, case_id).
Handover = tuple[str, str, str]


def make_broker(url: str | None) -> dramatiq.Broker:
    """The broker for ``url``: Redis, RabbitMQ, or in-process when None."""
    if not url:
        return StubBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)  # type: ignore[no-untyped-call]
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    from dunning.core.errors import ConfigError

    raise ConfigError(
        f"DUNNING_BROKER_URL: unsupported broker {url.split(':', 1)[0]!r} (redis:// or amqp://)"
    )


def ping_broker(broker: dramatiq.Broker) -> None:
    """Raise now if the broker cannot be reached, rather than retry quietly in a consumer thread."""
    client = getattr(broker, "client", None)  # Redis
    if client is not None:
        client.ping()
        return
    if hasattr(type(broker), "connection"):
        getattr(broker, "connection")  # noqa: B009 - RabbitMQ connects when its connection is first read


def actor_name(channel: str) -> str:
    return f"dunning_deliver_{channel}"


class Dispatcher:
    """Hands intents to the broker, on their channel's queue."""

    def __init__(self, broker: dramatiq.Broker, specs: Mapping[str, ChannelSpec], settings: Settings) -> None:
        self.broker = broker
        self.specs = dict(specs)
        self.settings = settings
        #: queues of other actors on this broker (outbound webhooks)
        self.extra_queues: list[str] = []
        for spec in self.specs.values():
            broker.declare_queue(spec.queue_name)

    @property
    def queues(self) -> list[str]:
        return sorted({spec.queue_name for spec in self.specs.values()} | set(self.extra_queues))

    def queues_of(self, channels: Sequence[str]) -> list[str]:
        return sorted({self.specs[name].queue_name for name in channels})

    def enqueue(
        self, intent_id: str, channel: str, *, case_id: str | None = None, delay_ms: int | None = None
    ) -> None:
        """Hand one intent over; its case id lets the worker take the case gate without a lookup."""
        spec = self.specs[channel]
        message: dramatiq.Message[None] = dramatiq.Message(
            queue_name=spec.queue_name,
            actor_name=actor_name(channel),
            args=(intent_id,) if case_id is None else (intent_id, case_id),
            kwargs={},
            options={},
        )
        self.broker.enqueue(message, delay=delay_ms)

    def enqueue_many(self, items: Sequence[Handover]) -> list[str]:
        """Enqueue (intent_id, channel, case_id) triples; return the ids handed over."""
        done = []
        for intent_id, channel, case_id in items:
            if channel not in self.specs:
                log.warning("intent %s is for channel %r, which is not available here", intent_id, channel)
                continue
            self.enqueue(intent_id, channel, case_id=case_id)
            done.append(intent_id)
        return done

    def declare_actors(
        self, body_for: Callable[[str], Callable[[str], None]], channels: Sequence[str] | None = None
    ) -> None:
        """Declare the delivery actor of each channel on this broker; ``body_for(channel)`` is its body."""
        for name in list(self.specs) if channels is None else channels:
            spec = self.specs[name]
            dramatiq.actor(
                broker=self.broker,
                actor_name=actor_name(name),
                queue_name=spec.queue_name,
                # The store counts attempts and gives up first; this is a backstop.
                max_retries=self.settings.max_retries + 3,
                min_backoff=self.settings.min_backoff_ms,
                max_backoff=self.settings.max_backoff_ms,
            )(body_for(name))
