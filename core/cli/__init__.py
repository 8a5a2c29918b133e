"""The ``dunning`` command line. Each command group lives in a module of its own."""

from __future__ import annotations

import sys

import click

from dunning.core.cli.app import App
from dunning.core.errors import DunningError
from dunning.core.runtime.logs import configure_logging, verbosity

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dunning")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Reminders for overdue repayments: SMS, push and voice, stopped by payment."""
    level = verbosity(verbose)
    configure_logging(level)
    ctx.obj = App(log_level=level)


def _register_commands() -> None:
    from dunning.core.cli import (
        cases,
        channels,
        demo,
        health,
        people,
        plugin,
        policy,
        quarantine,
        report,
        run,
        serve,
        simulate,
        users,
        workers,
    )

    cli.add_command(policy.policy)
    cli.add_command(channels.channels)
    cli.add_command(cases.import_cmd)
    cli.add_command(cases.event)
    cli.add_command(cases.timeline_cmd)
    cli.add_command(quarantine.cases_cmd)
    cli.add_command(people.debtor_cmd)
    cli.add_command(people.number_cmd)
    cli.add_command(run.tick_cmd)
    cli.add_command(run.run_cmd)
    cli.add_command(run.db)
    cli.add_command(demo.demo)
    cli.add_command(serve.serve)
    cli.add_command(workers.worker)
    cli.add_command(workers.scheduler)
    cli.add_command(report.report_cmd)
    cli.add_command(simulate.simulate)
    cli.add_command(health.health)
    cli.add_command(plugin.plugin)
    cli.add_command(users.users)


_register_commands()


def main() -> None:
    """Console entry point: typed errors become one clear line and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DunningError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
