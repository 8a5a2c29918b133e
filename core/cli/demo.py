"""``dunning demo``: the whole flow on a simulated clock, with no server and no credentials."""

from __future__ import annotations

import sys
import time

import click
from rich.console import Console
from rich.table import Table

from dunning.core.cli.demo_scenario import run_demo


@click.command()
@click.option("--days", default=21, show_default=True, type=click.IntRange(1, 60), help="Simulated days.")
@click.option("--keep", type=click.Path(file_okay=False), help="Keep the demo's SQLite store in this folder.")
def demo(days: int, keep: str | None) -> None:
    """Import a sample portfolio, run the example policy over simulated days, print what happened."""
    from importlib.util import find_spec
    from pathlib import Path

    if find_spec("dunning.examples") is None:  # a runtime build, as in the container image
        raise click.ClickException(
            "the demo needs dunning's examples, which this installation leaves out: "
            "run it where dunning was installed with pip"
        )
    console = Console(width=None if sys.stdout.isatty() else 140, highlight=False)
    started = time.monotonic()
    workdir = Path(keep) if keep else None
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)

    def out(line: str) -> None:
        console.print(line, markup=False)

    result = run_demo(out, workdir=workdir, days=days)
    table = Table(title=f"dunning demo: {days} simulated days")
    table.add_column("what")
    table.add_column("count", justify="right")
    for channel, count in sorted(result.per_channel.items()):
        table.add_row(f"sent by {channel}", str(count))
    for label, count in result.summary.items():
        table.add_row(label, str(count))
    table.add_row("rows rejected at import", str(result.imported.rejected))
    console.print(table)
    for case_id, lines in result.featured.items():
        console.print(f"\ntimeline of {case_id} (as `dunning timeline {case_id}` shows it):", markup=False)
        for line in lines:
            console.print("  " + line, markup=False)
    if keep:
        console.print(f"\nstore kept: DUNNING_DATABASE_URL=sqlite:///{result.database}", markup=False)
    console.print(f"done in {time.monotonic() - started:.1f} s", markup=False)
