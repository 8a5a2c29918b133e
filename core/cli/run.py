"""``dunning tick``, ``dunning run`` and ``dunning db upgrade``."""

from __future__ import annotations

import threading

import click

from dunning.core.cli.app import App, parse_moment
from dunning.core.runtime import build_runtime, sweep, tick, tracing
from dunning.core.runtime.dispatch import make_broker
from dunning.core.runtime.embedded import Embedded
from dunning.core.runtime.runtime import system_clock
from dunning.core.runtime.signals import stop_on_signals
from dunning.core.runtime.worker import attach_broker
from dunning.core.store import open_store

POLICY_OPTION = click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Policy file (default: DUNNING_POLICY).",
)
DRY_RUN_OPTION = click.option(
    "--dry-run", is_flag=True, default=None, help="Record messages in the outbox instead of sending them."
)


@click.command(name="tick")
@POLICY_OPTION
@DRY_RUN_OPTION
@click.option("--now", "now", help="Decide as of this moment (ISO 8601), e.g. to replay a day.")
@click.pass_obj
def tick_cmd(app: App, policy_path: str | None, dry_run: bool | None, now: str | None) -> None:
    """Decide every due case once and deliver (or hand to the broker) what was planned."""
    moment = parse_moment(now)
    rt = build_runtime(
        app.settings,
        policy_path=policy_path,
        dry_run=dry_run,
        echo=click.echo,
        clock=(lambda: moment) if moment else system_clock,
    )
    try:
        if app.settings.broker_url:
            attach_broker(rt, make_broker(app.settings.broker_url))
            swept = sweep(rt)
            report = tick(rt)
            click.echo(f"{report}; {report.handed_over + swept.handed_over} handed to the broker")
            return
        runner = Embedded(rt)
        runner.start()
        try:
            report = runner.step()
        finally:
            runner.stop()
        click.echo(str(report))
    finally:
        rt.close()


@click.command(name="run")
@POLICY_OPTION
@DRY_RUN_OPTION
@click.option(
    "--threads", type=click.IntRange(1, 64), help="Worker threads (default: DUNNING_WORKER_THREADS)."
)
@click.pass_obj
def run_cmd(app: App, policy_path: str | None, dry_run: bool | None, threads: int | None) -> None:
    """Run the scheduler and an in-process worker until Ctrl-C (the embedded default)."""
    tracing.start_tracing("embedded")
    rt = build_runtime(app.settings, policy_path=policy_path, dry_run=dry_run, echo=click.echo)
    runner = Embedded(rt, threads=threads)
    swept = runner.start()
    mode = "dry run (outbox)" if rt.dry_run else ", ".join(sorted(rt.channels))
    stopping = threading.Event()
    stop_on_signals(stopping)

    def stop_when_told() -> None:
        stopping.wait()
        click.echo("stopping: finishing in-flight deliveries ...")
        runner.stop()

    threading.Thread(target=stop_when_told, name="dunning-stop", daemon=True).start()
    click.echo(
        f"dunning running: {mode}; ticking every {rt.settings.tick_seconds:g}s; "
        f"{swept.handed_over} unfinished reminder(s) resumed. Ctrl-C stops."
    )
    try:
        runner.run_forever()
    finally:
        runner.stop()
        rt.close()
        tracing.stop_tracing()
        click.echo("stopped")


@click.group()
def db() -> None:
    """The store's schema."""


@db.command()
@click.pass_obj
def upgrade(app: App) -> None:
    """Create or upgrade the store's schema to the latest migration (safe to run from many hosts at once)."""
    store = open_store(app.settings.database_url, migrate=False)
    try:
        done = store.migrate()
    finally:
        store.dispose()
    click.echo(f"{done} ({store.dialect})")
