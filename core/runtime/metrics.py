"""The metrics a dunning process keeps as it works, for Prometheus to scrape.

Counted where things happen — a delivery ends, a provider answers with an
error, a tick finishes, an event is recorded, a webhook is refused — so a
scrape reads memory, never the store. Names follow Prometheus' conventions:
counters end in ``_total``, durations are histograms in seconds.

Worker processes write them to a shared directory (prometheus_client's
multiprocess mode, as Dramatiq's own Prometheus middleware does), and their
parent serves the sum on ``--metrics-port``; see :mod:`.exposition`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["DELIVERY_BUCKETS", "TICK_BUCKETS", "Metrics"]

#: Seconds a delivery takes: a store round trip and one provider call, which may retry inside its SDK.
DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds a scheduler tick takes: from nothing due to a page of thousands of cases.
TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """The counters and histograms of one process, on a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        on = self.registry
        self.reminders = Counter(
            "dunning_reminders",
            "Deliveries that ended, by channel and outcome (sent, failed, retry, ambiguous, deferred, ...)",
            ["channel", "outcome"],
            registry=on,
        )
        self.delivery_seconds = Histogram(
            "dunning_delivery_duration_seconds",
            "Time a worker took to deliver one reminder, provider call included",
            ["channel"],
            buckets=DELIVERY_BUCKETS,
            registry=on,
        )
        self.provider_seconds = Histogram(
            "dunning_provider_request_duration_seconds",
            "Time the provider took to answer a send",
            ["channel"],
            buckets=DELIVERY_BUCKETS,
            registry=on,
        )
        self.provider_errors = Counter(
            "dunning_provider_errors",
            "Sends the provider refused or left in doubt, by channel, error kind and provider code",
            ["channel", "kind", "code"],
            registry=on,
        )
        self.tick_seconds = Histogram(
            "dunning_tick_duration_seconds", "Time one scheduler tick took", buckets=TICK_BUCKETS, registry=on
        )
        self.cases_decided = Counter("dunning_cases_decided", "Cases the scheduler decided", registry=on)
        self.reminders_planned = Counter(
            "dunning_reminders_planned", "Reminders the scheduler planned", registry=on
        )
        self.events = Counter("dunning_events", "Events recorded, by kind", ["kind"], registry=on)
        #: ``dunning_webhook_rejections_total``: webhook requests refused for a bad signature.
        self.webhook_rejected = Counter(
            "dunning_webhook_rejections",
            "Webhook requests refused for a bad signature",
            ["endpoint"],
            registry=on,
        )
