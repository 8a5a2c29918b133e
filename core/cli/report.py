"""``dunning report``: reach, cures, cost, money recovered, promises and roll rates, per group."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from dunning.core.cli.app import App
from dunning.core.policy.durations import parse_duration
from dunning.core.reporting.format import CSV_TABLES, render_csv, render_json, report_tables
from dunning.core.reporting.model import DEFAULT_BUCKETS, DEFAULT_CURVE_DAYS
from dunning.core.reporting.reports import DEFAULT_BY, DIMENSIONS, Report, ReportOptions, build_report


def parse_by(value: tuple[str, ...]) -> tuple[str, ...]:
    """``--by segment,step`` or ``--by segment --by step``; the default when none is given."""
    names = [part.strip() for item in value for part in item.split(",") if part.strip()]
    for name in names:
        if name not in DIMENSIONS:
            raise click.BadParameter(f"{name!r} is not one of {', '.join(DIMENSIONS)}", param_hint="--by")
    return tuple(dict.fromkeys(names)) or DEFAULT_BY


BY_OPTION = click.option(
    "--by",
    "by",
    multiple=True,
    metavar="strategy|segment|step|channel|variant",
    help=f"Group by these (repeat or comma-separate; default: {','.join(DEFAULT_BY)}).",
)
CURE_DAYS_OPTION = click.option(
    "--cure-days",
    default=7,
    show_default=True,
    type=click.IntRange(1, 365),
    help="A case is cured when paid in full within this many days of its first reminder.",
)
RESPONSE_DAYS_OPTION = click.option(
    "--response-days",
    default=3,
    show_default=True,
    type=click.IntRange(1, 365),
    help="A reply counts for a reminder when it comes within this many days (and before the next).",
)


def parse_days(value: str, option: str) -> tuple[int, ...]:
    """``1,3,7`` as ascending whole days, each at least 1."""
    try:
        days = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a list of whole days such as 30,60,90", param_hint=option
        ) from exc
    if not days or any(d < 1 for d in days) or list(days) != sorted(set(days)):
        raise click.BadParameter(f"{value!r}: give ascending whole days, each at least 1", param_hint=option)
    return days


def parse_as_of(value: str | None) -> datetime | None:
    """A date means the end of that day (UTC); a time is taken as given (UTC when it names no offset)."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise click.BadParameter(
                f"{value!r} is not an ISO 8601 date or time", param_hint="--as-of"
            ) from exc
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return datetime.combine(day, time.max, tzinfo=UTC)


def parse_days_duration(value: str, option: str, *, minimum: int) -> int:
    """``30d`` (or ``30``) as whole days."""
    try:
        span = parse_duration(value if value.strip()[-1:].isalpha() else f"{value}d")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc
    if span % timedelta(days=1) or span.days < minimum:
        raise click.BadParameter(f"{value!r}: give whole days, at least {minimum}", param_hint=option)
    return span.days


def promise_terms(app: App, grace: str | None, policy: str | None) -> dict[str, Any]:
    """The promise grace (and the day of a promise without one): given, or the policy's, or the defaults."""
    if grace is not None:
        try:
            return {"promise_grace": parse_duration(grace)}
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--promise-grace") from exc
    if policy or app.settings.policy:
        responses = app.policy(policy).responses
        return {"promise_grace": responses.promise_grace, "promise_days": responses.promise_days}
    return {}


@click.command(name="report")
@BY_OPTION
@CURE_DAYS_OPTION
@RESPONSE_DAYS_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="A table for people, CSV or JSON for spreadsheets and scripts.",
)
@click.option(
    "--table",
    "csv_table",
    type=click.Choice(CSV_TABLES),
    default="groups",
    show_default=True,
    help="Which table --format csv writes: the groups, the roll rates or the holdout comparison.",
)
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="Read money, promises and roll rates as of this date "
    "(its end, UTC) or time; default: the latest moment the store records.",
)
@click.option(
    "--curve-days",
    default=",".join(map(str, DEFAULT_CURVE_DAYS)),
    show_default=True,
    help="Days after the first reminder at which the recovery curve is read.",
)
@click.option(
    "--promise-grace",
    metavar="DURATION",
    help="A promise is kept when paid in full by the end of its day plus this (default: the policy's; 1d).",
)
@click.option(
    "--policy",
    "policy_path",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="The policy whose promise grace applies (default: DUNNING_POLICY, when set).",
)
@click.option(
    "--buckets",
    default=",".join(map(str, DEFAULT_BUCKETS)),
    show_default=True,
    help="Upper bounds of the overdue buckets of roll rates, in days (the last bucket is open).",
)
@click.option("--period", default="30d", show_default=True, help="The roll-rate period, ending at --as-of.")
@click.option(
    "--champion",
    metavar="STRATEGY",
    help="The strategy the others are compared with (default: 'champion', else the largest).",
)
@click.option(
    "--holdout",
    default="holdout",
    show_default=True,
    metavar="STRATEGY",
    help="The strategy that contacts nobody: its cases are compared with the contacted ones.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of the bootstrap intervals: the same store and seed give the same report.",
)
@click.option(
    "--plots",
    "plots_dir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Also write PNG plots (recovery curves, roll rates) into DIR; needs dunning[plots].",
)
@click.pass_obj
def report_cmd(
    app: App,
    by: tuple[str, ...],
    cure_days: int,
    response_days: int,
    fmt: str,
    csv_table: str,
    as_of: str | None,
    curve_days: str,
    promise_grace: str | None,
    policy_path: str | None,
    buckets: str,
    period: str,
    champion: str | None,
    holdout: str,
    seed: int,
    plots_dir: str | None,
) -> None:
    """What the reminders did: reach, responses, cures, money recovered, promises kept, roll rates.

    Reads the store (DUNNING_DATABASE_URL). Each channel's price comes from its
    plugin's settings (an SMS costs its price per segment times its segments;
    DUNNING_COST_SMS, DUNNING_COST_PUSH and DUNNING_COST_VOICE still work);
    money recovered is reported per currency. --by variant compares A/B
    variants and --by strategy compares strategies with the champion, with 95%
    confidence intervals; cases assigned to the --holdout strategy are
    compared with the contacted ones.
    """
    options = ReportOptions.from_channels(
        app.registry.channels,
        app.settings,
        by=parse_by(by),
        cure_days=cure_days,
        response_days=response_days,
        as_of=parse_as_of(as_of),
        curve_days=parse_days(curve_days, "--curve-days"),
        buckets=parse_days(buckets, "--buckets"),
        period_days=parse_days_duration(period, "--period", minimum=1),
        champion=champion,
        holdout=holdout,
        seed=seed,
        **promise_terms(app, promise_grace, policy_path),
    )
    store = app.store()
    with store.read() as conn:
        report = build_report(conn, options)
    if fmt == "json":
        click.echo(render_json(report))
    elif fmt == "csv":
        click.echo(render_csv(report, csv_table), nl=False)
    else:
        _print_tables(report)
    if plots_dir:
        from dunning.core.reporting.plots import write_report_plots

        for path in write_report_plots(report, Path(plots_dir)):
            click.echo(f"wrote {path}", err=True)


def _print_tables(report: Report) -> None:
    from rich.console import Console

    from dunning.core.reporting.money_tables import money_tables

    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    for table in [*report_tables(report), *money_tables(report)]:
        console.print(table)
    as_of = (
        ""
        if report.as_of is None
        else f" Money, promises and roll rates as of {report.as_of:%Y-%m-%d %H:%M} UTC."
    )
    console.print(
        f"{report.portfolio} case(s) in the store, {report.paid} paid in full; "
        "a case counts in every group it was reminded in, the total counts it once." + as_of,
        markup=False,
    )
