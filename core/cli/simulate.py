"""``dunning simulate``: try a policy (or two, side by side) on a portfolio before any debtor sees it."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dunning.core.cli.app import App, parse_moment
from dunning.core.cli.report import BY_OPTION, CURE_DAYS_OPTION, RESPONSE_DAYS_OPTION, parse_by
from dunning.core.reporting.reports import ReportOptions

if TYPE_CHECKING:
    from rich.console import Console

    from dunning.core.simulation.run import PolicyResult, SimulationConfig
    from dunning.core.simulation.tables import Grid

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

    Debtors answer as the response model says (paying in full or in part, at
    their own hours), providers fail as it says, and nothing is sent. Prints
    each policy's report, then every policy and strategy side by side — money
    recovered per currency and its curve, roll rates, the holdout comparison —
    and writes plots and an HTML page into --out.
    """
    from rich.console import Console

    from dunning.core.simulation.portfolio import PortfolioSource, load_portfolio, simulation_start
    from dunning.core.simulation.provider import Retries
    from dunning.core.simulation.run import SimulationConfig, load_inputs

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
    settings = app.settings
    plugins = tuple(settings.plugins) if settings.plugins is not None else None
    policies = (policy_path, other) if other else (policy_path,)
    retries = Retries(
        settings.max_retries,
        timedelta(milliseconds=settings.min_backoff_ms),
        timedelta(milliseconds=settings.max_backoff_ms),
    )
    config = SimulationConfig(policies, source, moment, days, seed, responses, plugins, retries)
    load_inputs(config)  # bad policies or a bad response model fail here, before any work
    options = ReportOptions.from_channels(
        app.registry.channels,
        settings,
        by=parse_by(by),
        cure_days=cure_days,
        response_days=response_days,
        seed=seed,
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    temp = None if keep_stores else tempfile.TemporaryDirectory(prefix="dunning-simulate-")
    workdir = folder if temp is None else Path(temp.name)
    started = time.perf_counter()
    try:
        results = _run(console, config, options, workdir, jobs, cases)
        elapsed = time.perf_counter() - started
        grids = _print(console, results)
        what = f"{cases} case(s) x {days} day(s), seed {seed}, {len(results)} polic{'ies' if len(results) > 1 else 'y'}"
        console.print(f"simulated {what} in {elapsed:.1f} s with {jobs} worker process(es)", markup=False)
        if not no_plots:
            facts = {
                "policies": ", ".join(f"{r.name} ({r.path})" for r in results),
                "portfolio": portfolio or f"{cases} synthetic cases, seed {seed}",
                "responses": responses or "built-in model",
                "start": moment.isoformat(),
                "days": str(days),
                "cure": f"paid in full within {cure_days} days of the first reminder",
                "wall time": f"{elapsed:.1f} s",
            }
            page = _draw(results, folder, days, facts, grids)
            console.print(f"plots and page: {page}", markup=False)
        if keep_stores:
            for result in results:
                console.print(f"store kept: DUNNING_DATABASE_URL=sqlite:///{result.store}", markup=False)
    finally:
        if temp is not None:
            temp.cleanup()


def _run(
    console: Console, config: SimulationConfig, options: ReportOptions, workdir: Path, jobs: int, cases: int
) -> list[PolicyResult]:
    """Simulate every policy with a progress bar per policy (gone once done)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dunning.core.simulation.run import run_simulation

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks = [bar.add_task(Path(p).name, total=cases) for p in config.policies]
        return run_simulation(
            config,
            options,
            workdir,
            jobs=jobs,
            progress=lambda policy, done: bar.advance(tasks[policy], done),
        )


def _print(console: Console, results: list[PolicyResult]) -> list[Grid]:
    """Each policy's report in detail, then every policy and strategy side by side; the grids shown."""
    from dunning.core.reporting.format import report_tables
    from dunning.core.reporting.money_tables import promise_table, recovery_tables, roll_table
    from dunning.core.simulation.arms import arms_of
    from dunning.core.simulation.tables import as_rich, holdout_grids, rolls_side_by_side, side_by_side

    for result in results:
        report, name = result.report, result.name
        tables = [
            *report_tables(report, title=name),
            *recovery_tables(report, name),
            promise_table(report, name),
        ]
        if report.rolls is not None and report.rolls.columns:
            tables.append(roll_table(report.rolls, name))
        for table in tables:
            console.print(table)
    arms = arms_of(results)
    rolls = rolls_side_by_side(arms)
    grids = [side_by_side(results, arms), *([rolls] if rolls else []), *holdout_grids(results)]
    for grid in grids:
        console.print(as_rich(grid))
    return grids


def _draw(
    results: list[PolicyResult], folder: Path, days: int, facts: dict[str, str], grids: list[Grid]
) -> Path:
    """The plots and the page that lists them; the page's path."""
    from dunning.core.simulation.arms import arms_of
    from dunning.core.simulation.page import write_html
    from dunning.core.simulation.plots import write_plots

    images = write_plots(results, arms_of(results), folder, days)
    return write_html(folder, " vs ".join(r.name for r in results), facts, grids, images)
