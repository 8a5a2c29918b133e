"""``dunning cases``: the cases parked for a failure, and releasing them."""

from __future__ import annotations

import json

import click

from dunning.core.cli.app import App


@click.group(name="cases")
def cases_cmd() -> None:
    """Cases the scheduler parked because deciding or rendering them failed."""


@cases_cmd.command(name="list")
@click.option("--errored", is_flag=True, required=True, help="The quarantined cases (the only list so far).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.pass_obj
def list_cmd(app: App, errored: bool, as_json: bool, limit: int) -> None:
    """List quarantined cases: since when, how often they failed, the last error, the next try."""
    store = app.store()
    with store.read() as conn:
        parked = store.quarantined(conn, limit=limit)
    for item in parked:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "case_id": item.case_id,
                        "debtor_id": item.debtor_id,
                        "status": item.status,
                        "failures": item.faults,
                        "error": item.fault,
                        "quarantined_at": item.quarantined_at.isoformat(),
                        "next_try": item.next_check_at.isoformat() if item.next_check_at else None,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            retry = f"{item.next_check_at:%Y-%m-%d %H:%M}" if item.next_check_at else "-"
            click.echo(
                f"{item.case_id}\tsince {item.quarantined_at:%Y-%m-%d %H:%M}\t"
                f"{item.faults} failure(s)\tnext try {retry}\t{item.fault}"
            )
    if not as_json:
        click.echo(f"{len(parked)} quarantined case(s)", err=True)


@cases_cmd.command(name="release")
@click.argument("case_ids", nargs=-1)
@click.option("--all", "release_all", is_flag=True, help="Release every quarantined case.")
@click.pass_obj
def release_cmd(app: App, case_ids: tuple[str, ...], release_all: bool) -> None:
    """Release quarantined cases (after fixing their cause): the next tick decides them again."""
    if not case_ids and not release_all:
        raise click.UsageError("name the cases to release, or pass --all")
    if case_ids and release_all:
        raise click.UsageError("name cases or pass --all, not both")
    store = app.store()
    with store.write() as conn:
        released = store.release(conn, None if release_all else list(case_ids), app.now(), by="operator")
    for case_id in released:
        click.echo(f"{case_id} released")
    missing = sorted(set(case_ids) - set(released))
    for case_id in missing:
        click.echo(f"{case_id}: not quarantined", err=True)
    if missing:
        raise SystemExit(1)
