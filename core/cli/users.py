"""``dunning users``: the console's users — add, list, disable, enable, set-role, set-password.

Passwords come from a prompt (typed twice, never echoed) or, for scripts,
one line on standard input (``--password-stdin``); they are stored only as
scrypt hashes.
"""

from __future__ import annotations

import sys

import click

from dunning.core.api.console.auth import Role
from dunning.core.api.console.passwords import MIN_LENGTH, hash_password
from dunning.core.cli.app import App
from dunning.core.errors import InputError

__all__ = ["users"]

#: A user's name: what they type to sign in, and what the timeline shows for what they did.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_LENGTH:
        raise click.ClickException(f"password: at least {MIN_LENGTH} characters")
    return password


def _name(name: str) -> str:
    import re

    if not re.match(NAME_PATTERN, name):
        raise click.ClickException(
            f"name: {name!r} is not a user name (letters, digits, _ . @ -; at most 64)"
        )
    return name


@click.group()
def users() -> None:
    """Console users: who may sign in, and as what (viewer, agent, admin)."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.AGENT.value, show_default=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input.")
@click.pass_obj
def add(app: App, name: str, role: str, password_stdin: bool) -> None:
    """Add a user; the password is asked for (or read with --password-stdin)."""
    password = _password(password_stdin)
    store = app.store()
    try:
        with store.write() as conn:
            store.add_user(conn, _name(name), role, hash_password(password), app.now())
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name} added as {role}")


@users.command("list")
@click.pass_obj
def list_users(app: App) -> None:
    """Every user, its role and whether it may sign in."""
    store = app.store()
    with store.read() as conn:
        rows = store.list_users(conn)
    for row in rows:
        state = "disabled" if row.disabled else "active"
        click.echo(f"{row.name:24} {row.role:7} {state:8} since {row.created_at:%Y-%m-%d}")
    if not rows:
        click.echo("no users yet: dunning users add NAME --role admin")


def _update(app: App, name: str, message: str, **values: object) -> None:
    store = app.store()
    try:
        with store.write() as conn:
            store.update_user(conn, name, app.now(), **values)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(message)


@users.command("disable")
@click.argument("name")
@click.pass_obj
def disable(app: App, name: str) -> None:
    """Stop a user signing in; their open sessions end at once."""
    _update(app, name, f"user {name} disabled", disabled=True)


@users.command("enable")
@click.argument("name")
@click.pass_obj
def enable(app: App, name: str) -> None:
    """Let a disabled user sign in again."""
    _update(app, name, f"user {name} enabled", disabled=False)


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.pass_obj
def set_role(app: App, name: str, role: str) -> None:
    """Change what a user may do."""
    _update(app, name, f"user {name} is now {role}", role=role)


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input.")
@click.pass_obj
def set_password(app: App, name: str, password_stdin: bool) -> None:
    """Give a user a new password; their open sessions end."""
    _update(app, name, f"password of {name} changed", password_hash=hash_password(_password(password_stdin)))
