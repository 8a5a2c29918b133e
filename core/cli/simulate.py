"""``dunning simulate``: try a policy (or two, side by side) on a portfolio before any debtor sees it."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from dunning.core.cli.app import App, parse_moment
from dunning.core.cli.report import BY_OPTION, CURE_DAYS_OPTION, RESPONSE_DAYS_OPTION, parse_by
from dunning.core.reporting.reports import ReportOptions

#: Where a synthetic portfolio's run starts unless told otherwise (a Tuesday, no holiday near).
DEFAULT_START = datetime(2026, 12, 1, tzinfo=UTC)


@click.command()
@click.argument("policy_path", metavar="POLICY.yaml", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--vs", "other", type=click.Path(exists=True, dir_okay=False), help="A second policy to compare."
)
@click.option("--cases", default=1000, show_default=True, type=click.IntRange(1), help="Synthetic cases.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 365), help="Simulated days.")
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed, the same figures.")
@click.option(
    "--portfolio",
    type=click.Path(exists=True, dir_okay=False),
    help="Simulate this import file (CSV or JSONL) instead of a synthetic portfolio (--cases is ignored).",
)
@click.option(
    "--responses",
    type=click.Path(exists=True, dir_okay=False),
    help="How debtors answer (YAML; see examples/responses.yaml). Default: the built-in model.",
)
@click.option(
    "--out",
    default="simulation",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the plots and the HTML page.",
)
@click.option(
    "--start", help="When the run starts (ISO 8601; default 2026-12-01, or after the portfolio's due dates)."
)
@click.option(
    "--jobs",
    default=min(os.cpu_count() or 1, 4),
    show_default="cores, at most 4",
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@click.option("--keep-stores", is_flag=True, help="Keep each policy's simulated store (SQLite) in --out.")
@click.option("--no-plots", is_flag=True, help="Print the figures only; draw no plots.")
@BY_OPTION
@CURE_DAYS_OPTION
@RESPONSE_DAYS_OPTION
@click.pass_obj
def simulate(
    app: App,
    policy_path: str,
    other: str | None,
    cases: int,
    days: int,
    seed: int,
    portfolio: str | None,
    responses: str | None,
    out: str,
    start: str | None,
    jobs: int,
    keep_stores: bool,
    no_plots: bool,
    by: tuple[str, ...],
    cure_days: int,
    response_days: int,
) -> None:
    """Run POLICY.yaml (and --vs OTHER.yaml) through the real engine on a simulated clock.

    Debtors answer as the response model says; nothing is sent. Prints the
    report of each policy side by side, and writes plots (cure curve, reminders
    per debtor, cost per cure) and an HTML page into --out.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dunning.core.reporting.format import comparison_table, report_tables
    from dunning.core.simulation.portfolio import PortfolioSource, load_portfolio, simulation_start
    from dunning.core.simulation.run import SimulationConfig, load_inputs, run_simulation

    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    moment = parse_moment(start)
    if portfolio:
        loaded, rejected = load_portfolio(portfolio)
        for line in rejected:
            click.echo(f"skipped {line}", err=True)
        cases = len(loaded)
        moment = moment or simulation_start(loaded)
    moment = moment or DEFAULT_START
    source = PortfolioSource(cases=cases, seed=seed, start=moment, path=portfolio)
    plugins = tuple(app.settings.plugins) if app.settings.plugins is not None else None
    policies = (policy_path, other) if other else (policy_path,)
    config = SimulationConfig(policies, source, moment, days, seed, responses, plugins)
    load_inputs(config)  # bad policies or a bad response model fail here, before any work
    options = ReportOptions.from_channels(
        app.registry.channels,
        app.settings,
        by=parse_by(by),
        cure_days=cure_days,
        response_days=response_days,
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    temp = None if keep_stores else tempfile.TemporaryDirectory(prefix="dunning-simulate-")
    workdir = folder if temp is None else Path(temp.name)
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            tasks = [bar.add_task(Path(p).name, total=cases) for p in policies]
            results = run_simulation(
                config,
                options,
                workdir,
                jobs=jobs,
                progress=lambda policy, done: bar.advance(tasks[policy], done),
            )
        elapsed = time.perf_counter() - started
        console.print(comparison_table({r.name: r.report for r in results}, title="simulated, side by side"))
        for result in results:
            for table in report_tables(result.report, title=result.name):
                console.print(table)
        what = f"{cases} case(s) x {days} day(s), seed {seed}, {len(results)} polic{'ies' if len(results) > 1 else 'y'}"
        console.print(f"simulated {what} in {elapsed:.1f} s with {jobs} worker process(es)", markup=False)
        if not no_plots:
            from dunning.core.simulation.plots import write_html, write_plots

            images = write_plots(results, folder, days)
            facts = {
                "policies": ", ".join(f"{r.name} ({r.path})" for r in results),
                "portfolio": portfolio or f"{cases} synthetic cases, seed {seed}",
                "responses": responses or "built-in model",
                "start": moment.isoformat(),
                "days": str(days),
                "cure": f"paid in full within {cure_days} days of the first reminder",
                "wall time": f"{elapsed:.1f} s",
            }
            page = write_html(results, folder, facts, images)
            console.print(f"plots and page: {page}", markup=False)
        if keep_stores:
            for result in results:
                console.print(f"store kept: DUNNING_DATABASE_URL=sqlite:///{result.store}", markup=False)
    finally:
        if temp is not None:
            temp.cleanup()
