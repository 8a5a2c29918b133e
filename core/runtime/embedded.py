"""The embedded runner: scheduler loop and a Dramatiq worker in one process, no server.

The broker is in memory (``StubBroker``); the store is the source of truth,
so on start every intent that was planned or handed over but not finished is
handed over again — a crash loses nothing, and the per-intent state makes a
second hand-over harmless.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import dramatiq
from dramatiq.brokers.stub import StubBroker

from dunning.core.runtime.dispatch import Dispatcher
from dunning.core.runtime.runtime import Runtime
from dunning.core.runtime.scheduler import SweepReport, TickReport, run_round, sweep, tick
from dunning.core.runtime.webhooks import QUEUE as WEBHOOK_QUEUE
from dunning.core.runtime.worker import attach_broker

__all__ = ["Embedded"]

log = logging.getLogger(__name__)


class Embedded:
    """A runtime with an in-process broker and worker threads."""

    def __init__(self, rt: Runtime, *, threads: int | None = None) -> None:
        self.rt = rt
        self.broker = StubBroker()
        self.dispatcher: Dispatcher = attach_broker(rt, self.broker)
        self.worker = dramatiq.Worker(
            self.broker, worker_threads=threads or rt.settings.worker_threads, worker_timeout=100
        )
        self._stop = threading.Event()

    def start(self) -> SweepReport:
        """Start the worker threads and hand over whatever a previous run left unfinished."""
        self.worker.start()
        return sweep(self.rt, requeue_after=timedelta(0))

    def drain(self) -> None:
        """Wait until every handed-over intent has been delivered (or retried to its end).

        Webhook deliveries are not waited for: a receiver that is down would
        hold up every round for its whole backoff (see :meth:`drain_webhooks`).
        """
        for queue in self.dispatcher.queues_of(list(self.dispatcher.specs)):
            self.broker.join(queue)
        self.worker.join()

    def drain_webhooks(self, timeout_ms: int | None = None) -> None:
        """Wait until every handed-over webhook delivery is delivered or given up (retries included)."""
        if WEBHOOK_QUEUE in self.dispatcher.queues:
            self.broker.join(WEBHOOK_QUEUE, timeout=timeout_ms)
            self.worker.join()

    def step(self) -> TickReport:
        """One round: take back stuck intents, decide due cases, deliver what was planned."""
        sweep(self.rt)
        report = tick(self.rt)
        self.drain()
        return report

    def run_forever(self) -> None:
        """Tick every ``tick_seconds`` until :meth:`stop` is called (Ctrl-C in the CLI)."""
        interval = self.rt.settings.tick_seconds
        while not self._stop.is_set():
            _swept, report = run_round(self.rt)
            if report is not None and report.cases:
                log.info("tick: %s", report)
            self._stop.wait(interval)

    def stop(self) -> None:
        """Stop ticking, let in-flight deliveries finish, then stop the worker."""
        self._stop.set()
        self.worker.stop()
