"""``dunning plugin new``: start a channel plugin of your own."""

from __future__ import annotations

from pathlib import Path

import click

from dunning.core.errors import InputError
from dunning.core.scaffold import new_channel_plugin


@click.group()
def plugin() -> None:
    """Start a plugin distribution."""


@plugin.command(name="new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the distribution's directory.",
)
def new(name: str, parent: Path) -> None:
    """Write dunning-NAME: a channel plugin (channel, settings, templates, fake provider, tests).

    It passes dunning's channel contract suite as written: pip install -e
    'dunning-NAME[test]' and run pytest there, then replace the example
    provider protocol with yours.
    """
    try:
        target = new_channel_plugin(name, parent)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {target}")
    click.echo(f"next: pip install -e '{target}[test]' && (cd {target} && pytest)")
