"""Worker and scheduler processes for a shared broker (``dunning worker``, ``dunning scheduler``).

A worker process builds its own runtime and broker, declares the delivery
actors of the queues it serves, and runs Dramatiq's worker until told to
stop; on SIGTERM it stops taking messages, lets in-flight deliveries finish
and returns what it had prefetched to the broker. A scheduler ticks and
sweeps in a loop; several may run at once, each on its own partition of
the portfolio, and a double plan is harmless anyway (deterministic intent ids).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from typing import Any

import dramatiq

from dunning.core.errors import ConfigError
from dunning.core.runtime.dispatch import make_broker
from dunning.core.runtime.runtime import build_runtime
from dunning.core.runtime.scheduler import sweep, tick
from dunning.core.runtime.worker import attach_broker
from dunning.core.settings import Settings, load_settings

__all__ = ["run_scheduler", "run_worker_process", "run_workers", "stop_on_signals"]

log = logging.getLogger(__name__)


def _require_broker(settings: Settings) -> str:
    if not settings.broker_url:
        raise ConfigError(
            "DUNNING_BROKER_URL is not set: workers and schedulers share a broker "
            "(redis://... or amqp://...); `dunning run` is the embedded default"
        )
    return settings.broker_url


def stop_on_signals(stop: threading.Event) -> None:
    """Have SIGTERM and SIGINT set ``stop``, safely however they arrive.

    Not by setting it in the handler: a handler runs in the main thread between
    two bytecodes — possibly while that thread holds ``stop``'s lock, waking from
    ``stop.wait()`` — and would then wait for that lock forever. A worker process
    is signalled by its parent and by its process group at nearly the same
    moment, which is when that happens. The handler only writes a byte to a
    pipe; a thread of its own reads it and sets ``stop``.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def relay() -> None:
        os.read(read_fd, 1)
        stop.set()

    threading.Thread(target=relay, name="dunning-signals", daemon=True).start()

    def handler(_signum: int, _frame: Any) -> None:
        with contextlib.suppress(BlockingIOError):  # a byte is already waiting: enough
            os.write(write_fd, b"\0")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def run_worker_process(
    queues: Sequence[str] | None, threads: int, metrics: bool = False, log_level: int = logging.WARNING
) -> None:
    """One worker process: deliver from ``queues`` (all channels' when None) until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
    )
    settings = load_settings()
    broker = make_broker(_require_broker(settings))
    if metrics:
        from dramatiq.middleware.prometheus import Prometheus

        broker.add_middleware(Prometheus())
    rt = build_runtime(settings)
    served = [
        name
        for name in rt.channels
        if queues is None or rt.registry.channels[name].spec().queue_name in queues
    ]
    if not served:
        raise ConfigError(f"no configured channel uses the queue(s) {', '.join(queues or [])}")
    dispatcher = attach_broker(rt, broker, channels=served)
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(
        broker, queues=set(dispatcher.queues_of(served)), worker_threads=threads, worker_timeout=200
    )
    stop = threading.Event()
    stop_on_signals(stop)
    worker.start()
    log.info("worker %s serving %s with %d thread(s)", os.getpid(), ", ".join(served), threads)
    stop.wait()
    log.info("worker %s stopping: finishing in-flight deliveries", os.getpid())
    worker.stop(timeout=int(rt.settings.lease_seconds * 1000))
    broker.close()
    rt.close()


def run_workers(
    processes: int, queues: Sequence[str] | None, threads: int, metrics_port: int | None = None
) -> None:
    """Start ``processes`` worker processes and wait; SIGTERM/SIGINT stops them all gracefully."""
    _require_broker(load_settings())
    context = multiprocessing.get_context("spawn")
    exposition = None
    if metrics_port is not None:
        os.environ["dramatiq_prom_port"] = str(metrics_port)  # noqa: SIM112 - the name Dramatiq reads
        from dramatiq.middleware.prometheus import _run_exposition_server

        exposition = context.Process(target=_run_exposition_server, name="dunning-metrics", daemon=True)
        exposition.start()
    children = [
        context.Process(
            target=run_worker_process,
            args=(list(queues) if queues else None, threads, metrics_port is not None),
            name=f"dunning-worker-{i}",
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    if exposition is not None:
        exposition.terminate()


def run_scheduler(stop: threading.Event | None = None) -> None:
    """Tick and sweep every ``tick_seconds`` until stopped, on this scheduler's partition."""
    settings = load_settings()
    broker = make_broker(_require_broker(settings))
    rt = build_runtime(settings)
    attach_broker(rt, broker)
    stop = stop or threading.Event()
    stop_on_signals(stop)
    part = f"{settings.scheduler_partition + 1}/{max(1, settings.scheduler_partitions)}"
    log.info("scheduler %s ticking every %.1fs (partition %s)", os.getpid(), settings.tick_seconds, part)
    try:
        while not stop.is_set():
            try:
                swept = sweep(rt)
                report = tick(rt)
                if report.cases or swept.handed_over or swept.requeued or swept.ambiguous:
                    log.info("tick: %s; sweep: %s", report, swept)
            except Exception:
                log.exception("tick failed; trying again in %.1fs", settings.tick_seconds)
            stop.wait(settings.tick_seconds)
    finally:
        broker.close()
        rt.close()
