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
@click.option(
    "--console",
    "with_console",
    is_flag=True,
    help="Then serve the operations console on the demo's data (kept in --keep, default ./dunning-demo).",
)
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="The console's port."
)
def demo(days: int, keep: str | None, with_console: bool, port: int) -> None:
    """Import a sample portfolio, run the example policy over simulated days, print what happened."""
    from importlib.util import find_spec
    from pathlib import Path

    if find_spec("dunning.examples") is None:  # a runtime build, as in the container image
        raise click.ClickException(
            "the demo needs dunning's examples, which this installation leaves out: "
            "run it where dunning was installed with pip"
        )
    from dunning.core.cli.demo_console import fresh_workdir

    console = Console(width=None if sys.stdout.isatty() else 140, highlight=False)
    started = time.monotonic()
    if with_console and not keep:
        keep = "dunning-demo"
    workdir = Path(keep) if keep else None
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    if with_console and workdir is not None:
        fresh_workdir(workdir)

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
    if with_console:
        _serve_console(result.database, port)


def _serve_console(database: str, port: int) -> None:
    """Create the demo admin, print how to sign in, and serve the console until Ctrl-C."""
    import uvicorn

    from dunning.core.api import create_app
    from dunning.core.cli.demo_console import DEMO_USER, console_runtime, prepare_console_store

    password = prepare_console_store(database)
    click.echo(
        f"\nconsole: http://127.0.0.1:{port}/console\n"
        f"  sign in as {DEMO_USER!r} with the password {password} (made for this run; shown once)\n"
        "  Ctrl-C stops it"
    )
    with console_runtime(database) as rt:
        uvicorn.run(create_app(rt), host="127.0.0.1", port=port, log_level="warning")
