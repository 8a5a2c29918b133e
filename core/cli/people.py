"""``dunning debtor`` and ``dunning number``: where a person and a number stand."""

from __future__ import annotations

import json
from typing import Any

import click

from dunning.core.cli.app import App
from dunning.core.content.masking import mask_address
from dunning.core.errors import InputError
from dunning.core.intake.records import normalise_phone


def _kinds(app: App) -> dict[str, str]:
    return {name: cls.spec().contact_kind for name, cls in app.registry.channels.items() if name != "outbox"}


@click.command(name="debtor")
@click.argument("debtor_id")
@click.option("--json", "as_json", is_flag=True, help="As the API answers it.")
@click.pass_obj
def debtor_cmd(app: App, debtor_id: str, as_json: bool) -> None:
    """A person's loans, contact points, and what each may be used for (opt-outs, wrong numbers)."""
    store = app.store()
    with store.read() as conn:
        found = store.standing_of(conn, debtor_id, _kinds(app))
        loans = store.cases_of_debtor(conn, debtor_id)
    if found is None:
        raise click.ClickException(f"no debtor {debtor_id!r}")
    body = {**found.to_json(mask_address), "cases": [{"case_id": c, "status": s} for c, s in loans]}
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    click.echo(f"debtor {debtor_id}: {len(loans)} loan(s): " + ", ".join(f"{c} ({s})" for c, s in loans))
    if body["ceased"]:
        click.echo("  ceased: no contact on any channel")
    elif body["opted_out"]:
        click.echo("  opted out of: " + ", ".join(body["opted_out"]))
    for point in body["contact_points"]:
        shared = f" (shared with {', '.join(point['shared_with'])})" if point["shared_with"] else ""
        states = ", ".join(f"{channel} {state}" for channel, state in point["channels"].items())
        click.echo(f"  {point['kind']} {point['address']}{shared}: {states or 'no channel uses it'}")
    for right in body["rights"]:
        click.echo(f"  {right['at'][:16]} {right['kind']} {right['channel'] or 'all'} ({right['source']})")


@click.command(name="number")
@click.argument("phone")
@click.option("--region", help="Country for a number without +code (e.g. CN).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_cmd(app: App, phone: str, region: str | None, as_json: bool) -> None:
    """Who a phone number belongs to, and what each of them may be contacted on there."""
    try:
        address = normalise_phone(phone, region)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    store = app.store()
    kinds = _kinds(app)
    rows: list[dict[str, Any]] = []
    with store.read() as conn:
        for debtor_id in store.debtors_at(conn, address):
            found = store.standing_of(conn, debtor_id, kinds)
            if found is None:
                continue
            point = next((p for p in found.points if p.address == address), None)
            rows.append({"debtor_id": debtor_id, "channels": dict(point.channels) if point else {}})
    if not rows:
        raise click.ClickException(f"no debtor has {mask_address(address)}")
    if as_json:
        click.echo(json.dumps({"address": mask_address(address), "debtors": rows}, ensure_ascii=False))
        return
    click.echo(f"{mask_address(address)}: {len(rows)} debtor(s)")
    for row in rows:
        states = ", ".join(f"{c} {s}" for c, s in row["channels"].items())
        click.echo(f"  {row['debtor_id']}: {states}")
