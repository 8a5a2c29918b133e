"""Prometheus metrics: intents by state, attempts by outcome, events by kind, rejected webhooks,
the work queue's backlog, and outbound webhook deliveries (by state, and failed attempts).

The store's counts are read when Prometheus scrapes (the store is the truth,
shared by every process); webhook rejections are counted in this process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from dunning.core.store import Store
from dunning.core.store.schema import attempts, events, intents

__all__ = ["Metrics"]


class _StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        by_state = GaugeMetricFamily(
            "dunning_intents", "Reminders in the outbox by state", labels=["channel", "state"]
        )
        by_outcome = GaugeMetricFamily(
            "dunning_attempts", "Delivery attempts by outcome", labels=["channel", "outcome"]
        )
        by_kind = GaugeMetricFamily("dunning_events", "Recorded events by kind", labels=["kind"])
        parked = GaugeMetricFamily(
            "dunning_cases_quarantined", "Cases parked because deciding or rendering them failed"
        )
        with self.store.read() as conn:
            for channel, state, count in conn.execute(
                select(intents.c.channel, intents.c.state, func.count()).group_by(
                    intents.c.channel, intents.c.state
                )
            ):
                by_state.add_metric([channel, state], count)
            for channel, outcome, count in conn.execute(
                select(attempts.c.channel, attempts.c.outcome, func.count()).group_by(
                    attempts.c.channel, attempts.c.outcome
                )
            ):
                by_outcome.add_metric([channel, outcome], count)
            for kind, count in conn.execute(select(events.c.kind, func.count()).group_by(events.c.kind)):
                by_kind.add_metric([kind], count)
            parked.add_metric([], self.store.count_quarantined(conn))
            deliveries, failures = self.store.delivery_counts(conn)
            backlog = self.store.backlog(conn, datetime.now(UTC))
        yield from _webhooks(deliveries, failures)
        yield _backlog(backlog)
        yield by_state
        yield by_outcome
        yield by_kind
        yield parked


def _webhooks(deliveries: dict[str, int], failures: int) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    by_state = GaugeMetricFamily(
        "dunning_webhook_deliveries", "Outbound webhook deliveries by state", labels=["state"]
    )
    for state, count in sorted(deliveries.items()):
        by_state.add_metric([state], count)
    failed = CounterMetricFamily(
        "dunning_webhook_failures", "Outbound webhook attempts that failed (refused, timed out, not 2xx)"
    )
    failed.add_metric([], failures)
    yield by_state
    yield failed


def _backlog(rows: list[tuple[str, int, int]]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "dunning_queue_items", "Cases waiting for a person, by hold reason", labels=["reason", "sla"]
    )
    for reason, count, late in rows:
        gauge.add_metric([reason, "within"], count - late)
        gauge.add_metric([reason, "overdue"], late)
    return gauge


class Metrics:
    """The registry an API app exposes at ``/metrics``."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoreCollector(store))
        self.webhook_rejected = Counter(
            "dunning_webhook_rejections",
            "Webhook requests refused for a bad signature",
            ["endpoint"],
            registry=self.registry,
        )
