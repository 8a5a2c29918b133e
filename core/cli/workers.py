"""``dunning worker`` and ``dunning scheduler``: the scale-out processes on a shared broker."""

from __future__ import annotations

import click

from dunning.core.cli.app import App
from dunning.core.runtime.processes import run_scheduler, run_workers


@click.command()
@click.option("--processes", "-p", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", "-t", default=4, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--queues",
    "-Q",
    multiple=True,
    help="Queues to serve (e.g. dunning.sms); default: every configured channel's.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus metrics here: deliveries, provider errors, queue backlog, Dramatiq's own.",
)
@click.pass_obj
def worker(app: App, processes: int, threads: int, queues: tuple[str, ...], metrics_port: int | None) -> None:
    """Deliver reminders from the broker (DUNNING_BROKER_URL); SIGTERM finishes in-flight sends first.

    A worker process that dies is replaced; when they keep dying, or cannot
    start, the worker stops and exits non-zero with the reason.
    """
    run_workers(processes, list(queues) or None, threads, metrics_port, log_level=app.log_level)


@click.command()
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus metrics here: tick durations, cases decided, queue backlog.",
)
def scheduler(metrics_port: int | None) -> None:
    """Plan reminders and hand them to the broker, every DUNNING_TICK_SECONDS, until stopped.

    It does not migrate the store: run `dunning db upgrade` first.

    Several may run at once: DUNNING_SCHEDULER_PARTITIONS and DUNNING_SCHEDULER_PARTITION
    split the portfolio between them by a hash of the debtor id (a person stays with one).
    """
    run_scheduler(metrics_port=metrics_port)
