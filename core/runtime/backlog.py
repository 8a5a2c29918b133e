"""How many reminders wait on each queue, asked of the broker when Prometheus scrapes.

One cheap question per queue: the lengths of its Redis lists (ready and
delayed), RabbitMQ's message counts, or the in-memory queue's size. A broker
that cannot answer leaves the gauge out of that scrape rather than failing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dramatiq
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["BacklogCollector", "queue_backlog"]

log = logging.getLogger(__name__)


def queue_backlog(broker: dramatiq.Broker, queue: str) -> int:
    """Messages on ``queue`` (and its delay queue) that no worker has taken yet."""
    client = getattr(broker, "client", None)
    namespace = getattr(broker, "namespace", None)
    if client is not None and namespace is not None:  # Redis: a list of message ids per queue
        with client.pipeline(transaction=False) as pipe:
            pipe.llen(f"{namespace}:{queue}")
            pipe.llen(f"{namespace}:{queue}.DQ")
            return int(sum(pipe.execute()))
    counts = getattr(broker, "get_queue_message_counts", None)
    if counts is not None:  # RabbitMQ: ready, delayed and dead-lettered counts
        ready, delayed, _dead = counts(queue)
        return int(ready + delayed)
    queues = getattr(broker, "queues", {})
    if isinstance(queues, dict):  # in memory
        return sum(queues[name].qsize() for name in (queue, f"{queue}.DQ") if name in queues)
    return 0


class BacklogCollector(Collector):
    """``dunning_queue_backlog_messages{queue}`` for the queues a process hands to or takes from."""

    def __init__(
        self, broker: Callable[[], dramatiq.Broker | None], queues: Callable[[], Sequence[str]]
    ) -> None:
        self.broker = broker
        self.queues = queues

    def collect(self) -> Iterator[Any]:
        gauge = GaugeMetricFamily(
            "dunning_queue_backlog_messages",
            "Reminders handed to the broker that no worker has taken yet, by queue",
            labels=["queue"],
        )
        broker = self.broker()
        if broker is not None:
            try:
                for queue in self.queues():
                    gauge.add_metric([queue], queue_backlog(broker, queue))
            except Exception as exc:  # the broker is away: this scrape goes without the gauge
                log.debug("queue backlog unavailable: %s", type(exc).__name__)
                return
        yield gauge
