"""``dunning report``: reach, cures, cost and guardrails per segment, step, channel or variant."""

from __future__ import annotations

import sys

import click

from dunning.core.cli.app import App
from dunning.core.reporting.format import render_csv, render_json, report_tables
from dunning.core.reporting.reports import DEFAULT_BY, DIMENSIONS, ReportOptions, build_report


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
    metavar="segment|step|channel|variant",
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
@click.pass_obj
def report_cmd(app: App, by: tuple[str, ...], cure_days: int, response_days: int, fmt: str) -> None:
    """What the reminders did: reach, responses, cures, cost per cure, deferrals by rule.

    Reads the store (DUNNING_DATABASE_URL). Each channel's price comes from its
    plugin's settings (an SMS costs its price per segment times its segments;
    DUNNING_COST_SMS, DUNNING_COST_PUSH and DUNNING_COST_VOICE still work);
    --by variant compares A/B variants on cure rate with 95% confidence intervals.
    """
    options = ReportOptions.from_channels(
        app.registry.channels, app.settings, by=parse_by(by), cure_days=cure_days, response_days=response_days
    )
    store = app.store()
    with store.read() as conn:
        report = build_report(conn, options)
    if fmt == "json":
        click.echo(render_json(report))
    elif fmt == "csv":
        click.echo(render_csv(report), nl=False)
    else:
        from rich.console import Console

        console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
        for table in report_tables(report):
            console.print(table)
        console.print(
            f"{report.portfolio} case(s) in the store, {report.paid} paid in full; "
            "a case counts in every group it was reminded in, the total counts it once.",
            markup=False,
        )
