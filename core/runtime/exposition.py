"""Serving a worker's or a scheduler's metrics on ``--metrics-port``.

A worker runs several processes. Each writes its counters — dunning's own
(:mod:`.metrics`) and those of Dramatiq's Prometheus middleware
(``dramatiq_messages_total``, ``dramatiq_message_duration_milliseconds``, ...)
— to one directory in prometheus_client's multiprocess mode, and the parent
serves their sum, with the backlog of the queues it serves, from a thread.
The directory is new for each run, so figures never mix two runs, and it is
removed when the worker stops. A scheduler is one process and serves its own
registry directly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from dunning.core.runtime.backlog import BacklogCollector

__all__ = ["MetricsServer", "serve_registry", "serve_worker_metrics"]

#: Where the metrics server listens: every interface, as Dramatiq's own exposition server does.
HOST = "0.0.0.0"
#: The environment variables that point prometheus_client and Dramatiq's middleware at the directory.
DIRECTORY_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir", "dramatiq_prom_db")


@dataclass
class MetricsServer:
    """A running metrics server, and the directory it sums (workers only)."""

    server: Any
    directory: str | None = None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def serve_registry(port: int, registry: CollectorRegistry) -> MetricsServer:
    """Serve ``registry`` on ``port`` from a daemon thread (a scheduler's metrics)."""
    server, _thread = start_http_server(port, addr=HOST, registry=registry)
    return MetricsServer(server)


def serve_worker_metrics(
    port: int, broker: Callable[[], dramatiq.Broker | None], queues: Sequence[str]
) -> MetricsServer:
    """Point the worker processes about to start at a new metrics directory, and serve its sum.

    Must run before the processes start: they read the directory from their environment.
    """
    directory = tempfile.mkdtemp(prefix="dunning-metrics-")
    for name in DIRECTORY_VARIABLES:
        os.environ[name] = directory
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    registry.register(BacklogCollector(broker, lambda: list(queues)))
    try:
        server, _thread = start_http_server(port, addr=HOST, registry=registry)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return MetricsServer(server, directory)
