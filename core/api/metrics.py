"""``/metrics``: what this process counted, gauges of parked cases and the work queue, the backlog.

Counters and histograms are kept in memory as work happens (see
:mod:`dunning.core.runtime.metrics`): events recorded through this API,
webhooks refused, and — under ``dunning serve --run`` — deliveries and ticks.
A scrape adds two cheap reads: one indexed count of quarantined cases, and
the backlog of the in-process broker's queues when there is one. It never
counts whole tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dunning.core.runtime.backlog import BacklogCollector
from dunning.core.runtime.outage import is_unavailable
from dunning.core.runtime.runtime import Runtime

__all__ = ["PeopleCollector", "QuarantineCollector", "exposition_registry", "install_metrics"]


class QuarantineCollector(Collector):
    """``dunning_cases_quarantined``: cases parked because deciding or rendering them failed."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        parked = GaugeMetricFamily(
            "dunning_cases_quarantined", "Cases parked because deciding or rendering them failed"
        )
        with self.rt.store.read() as conn:  # an index on quarantined_at makes this one cheap count
            parked.add_metric([], self.rt.store.count_quarantined(conn))
        yield parked


class PeopleCollector(Collector):
    """The work queue's backlog by hold reason (within or past its SLA) and outbound webhook deliveries.

    Both read small tables — open work items, deliveries not yet done — by index.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        with self.rt.store.read() as conn:
            deliveries, failures = self.rt.store.delivery_counts(conn)
            backlog = self.rt.store.backlog(conn, datetime.now(UTC))
        yield from _webhooks(deliveries, failures)
        yield _backlog(backlog)


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


def exposition_registry(rt: Runtime) -> CollectorRegistry:
    """The process's own metrics, the quarantine gauge and the in-process broker's backlog."""
    registry = CollectorRegistry()
    registry.register(_Forward(rt.metrics.registry))
    registry.register(QuarantineCollector(rt))
    registry.register(PeopleCollector(rt))
    registry.register(BacklogCollector(lambda: _broker(rt), lambda: _queues(rt)))
    return registry


def install_metrics(app: FastAPI, rt: Runtime) -> None:
    """Serve ``/metrics``; a store outage answers 503 and is logged once, however often it is scraped."""
    registry = exposition_registry(rt)

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    def metrics() -> Response:
        try:
            exposition = generate_latest(registry)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            rt.outages.failed("metrics", exc)
            return Response("the store is unreachable\n", status_code=503, media_type="text/plain")
        rt.outages.ok("metrics")
        return Response(exposition, media_type=CONTENT_TYPE_LATEST)


class _Forward(Collector):
    """Collects another registry's metrics into this one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self.registry.collect()


def _broker(rt: Runtime) -> Any:
    return getattr(rt.dispatcher, "broker", None)


def _queues(rt: Runtime) -> list[str]:
    return list(getattr(rt.dispatcher, "queues", []))
