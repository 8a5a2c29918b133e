"""Worker and scheduler processes for a shared broker (``dunning worker``, ``dunning scheduler``).

A worker process builds its own runtime and broker, declares the delivery
actors of the queues it serves, and runs Dramatiq's worker until told to
stop; on SIGTERM it stops taking messages, lets in-flight deliveries finish
and returns what it had prefetched to the broker. ``dunning worker`` runs
several under a :class:`~dunning.core.runtime.supervisor.Supervisor`. A
scheduler ticks and sweeps in a loop; several may run at once, each on its
own partition of the portfolio, and a double plan is harmless anyway
(deterministic intent ids). Neither migrates the store: both check its
schema and refuse to start, naming ``dunning db upgrade``, when it is behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection

import dramatiq

from dunning.core.errors import ConfigError, ProcessError
from dunning.core.plugins import make_registry
from dunning.core.runtime import tracing
from dunning.core.runtime.backlog import BacklogCollector
from dunning.core.runtime.dispatch import make_broker, ping_broker
from dunning.core.runtime.exposition import MetricsServer, serve_registry, serve_worker_metrics
from dunning.core.runtime.logs import configure_logging
from dunning.core.runtime.runtime import Runtime, build_runtime
from dunning.core.runtime.scheduler import SweepReport, TickReport, run_round
from dunning.core.runtime.signals import stop_on_signals
from dunning.core.runtime.startup import starting
from dunning.core.runtime.supervisor import FAILED, READY, Supervisor
from dunning.core.runtime.webhooks import QUEUE as WEBHOOK_QUEUE
from dunning.core.runtime.worker import attach_broker
from dunning.core.settings import Settings, load_settings

__all__ = ["run_scheduler", "run_worker_process", "run_workers", "stop_on_signals"]

log = logging.getLogger(__name__)

#: The exit code of a worker process that could not start (its parent says why).
STARTUP_FAILED = 3


def _require_broker(settings: Settings) -> str:
    if not settings.broker_url:
        raise ConfigError(
            "DUNNING_BROKER_URL is not set: workers and schedulers share a broker "
            "(redis://... or amqp://...); `dunning run` is the embedded default"
        )
    return settings.broker_url


def _connect(settings: Settings) -> tuple[dramatiq.Broker, Runtime]:
    """The broker and the runtime of a worker or scheduler, both checked reachable and current."""
    broker = make_broker(_require_broker(settings))
    rt: Runtime | None = None
    try:
        ping_broker(broker)
        rt = build_runtime(settings, migrate=False)
        rt.store.check_schema()
    except BaseException:
        broker.close()
        if rt is not None:
            rt.close()
        raise
    return broker, rt


def run_worker_process(
    queues: Sequence[str] | None,
    threads: int,
    metrics: bool = False,
    log_level: int = logging.WARNING,
    reports: Connection | None = None,
) -> None:
    """One worker process: deliver from ``queues`` (all channels' when None) until SIGTERM/SIGINT.

    ``reports`` (from the supervising parent) hears "ready", or why it could not start.
    """
    configure_logging(log_level)
    stop = threading.Event()
    stop_on_signals(stop)  # before starting: a SIGTERM meanwhile stops it as soon as it is up
    try:
        with starting(f"worker process {multiprocessing.current_process().name}"):
            tracing.start_tracing("worker")
            worker, broker, rt, served = _start_worker(queues, threads, metrics)
    except ProcessError as exc:
        if reports is None:
            raise
        reports.send((FAILED, str(exc)))
        sys.exit(STARTUP_FAILED)
    if reports is not None:
        reports.send((READY, None))
    log.info("worker %s serving %s with %d thread(s)", os.getpid(), ", ".join(served), threads)
    stop.wait()
    log.info("worker %s stopping: finishing in-flight deliveries", os.getpid())
    worker.stop(timeout=int(rt.settings.lease_seconds * 1000))
    broker.close()
    rt.close()
    tracing.stop_tracing()


def _start_worker(
    queues: Sequence[str] | None, threads: int, metrics: bool
) -> tuple[dramatiq.Worker, dramatiq.Broker, Runtime, list[str]]:
    broker, rt = _connect(load_settings())
    if metrics:
        from dramatiq.middleware.prometheus import Prometheus

        broker.add_middleware(Prometheus())
    served = [
        name
        for name in rt.channels
        if queues is None or rt.registry.channels[name].spec().queue_name in queues
    ]
    hooks = bool(rt.store.subscriptions) and (queues is None or WEBHOOK_QUEUE in queues)
    if not served and not hooks:
        broker.close()
        rt.close()
        raise ConfigError(f"no configured channel uses the queue(s) {', '.join(queues or [])}")
    dispatcher = attach_broker(rt, broker, channels=served, webhooks=hooks)
    broker.emit_after("process_boot")
    listened = set(dispatcher.queues_of(served)) | ({WEBHOOK_QUEUE} if hooks else set())
    worker = dramatiq.Worker(broker, queues=listened, worker_threads=threads, worker_timeout=200)
    worker.start()
    return worker, broker, rt, served


def run_workers(
    processes: int,
    queues: Sequence[str] | None,
    threads: int,
    metrics_port: int | None = None,
    log_level: int = logging.WARNING,
) -> None:
    """Run ``processes`` worker processes, replacing those that die; SIGTERM/SIGINT stops them all.

    Raises :class:`ProcessError` when they cannot start or keep dying.
    """
    with starting("worker"):
        settings = load_settings()
        broker = make_broker(_require_broker(settings))  # a bad setting fails once, here
        exposition = _worker_metrics(metrics_port, broker, queues, settings)
    args = (list(queues) if queues else None, threads, metrics_port is not None, log_level)
    try:
        Supervisor(run_worker_process, args, processes).run()
    finally:
        if exposition is not None:
            exposition.close()
        broker.close()


def _worker_metrics(
    port: int | None, broker: dramatiq.Broker, queues: Sequence[str] | None, settings: Settings
) -> MetricsServer | None:
    """Serve the worker processes' metrics, and the backlog of the queues they take from."""
    if port is None:
        return None
    if not queues:
        registry = make_registry(settings.plugins)
        queues = sorted(
            {cls.spec().queue_name for name, cls in registry.channels.items() if name != "outbox"}
        )
    return serve_worker_metrics(port, lambda: broker, queues)


def _eventful(report: TickReport, swept: SweepReport) -> bool:
    return bool(report.cases or swept.handed_over or swept.requeued or swept.ambiguous)


def run_scheduler(stop: threading.Event | None = None, metrics_port: int | None = None) -> None:
    """Tick and sweep every ``tick_seconds`` until stopped, on this scheduler's partition."""
    stop = stop or threading.Event()
    stop_on_signals(stop)
    with starting("scheduler"):
        settings = load_settings()
        tracing.start_tracing("scheduler")
        broker, rt = _connect(settings)
        dispatcher = attach_broker(rt, broker)
        exposition = None
        if metrics_port is not None:
            rt.metrics.registry.register(BacklogCollector(lambda: broker, lambda: dispatcher.queues))
            exposition = serve_registry(metrics_port, rt.metrics.registry)
    part = f"{settings.scheduler_partition + 1}/{max(1, settings.scheduler_partitions)}"
    log.info("scheduler %s ticking every %.1fs (partition %s)", os.getpid(), settings.tick_seconds, part)
    try:
        while not stop.is_set():
            swept, report = run_round(rt)
            if report is not None and swept is not None and _eventful(report, swept):
                log.info("tick: %s; sweep: %s", report, swept)
            stop.wait(settings.tick_seconds)
    finally:
        if exposition is not None:
            exposition.close()
        broker.close()
        rt.close()
        tracing.stop_tracing()
