"""``dunning import``, ``dunning event`` and ``dunning timeline``."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from dunning.core.cli.app import App
from dunning.core.errors import InputError, PolicyError
from dunning.core.intake.aliases import normalise_channel
from dunning.core.intake.amounts import DecimalMark
from dunning.core.intake.importer import ImportReport, import_file
from dunning.core.intake.keys import Namespace, fingerprint, namespaced
from dunning.core.intake.records import parse_event
from dunning.core.intake.service import Intake
from dunning.core.reporting.timeline import TimelineEntry, timeline

#: Exit statuses of ``dunning import``: every row landed, some were rejected, the file could not be read.
IMPORTED, SOME_REJECTED, NOT_READ = 0, 1, 2


@click.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--rejects", type=click.Path(dir_okay=False), help="Write rejected rows, with their error, here."
)
@click.option("--region", help="Country for phone numbers without +code (e.g. CN, US).")
@click.option(
    "--decimal",
    type=click.Choice([m.value for m in DecimalMark]),
    help="The file's decimal mark: comma (1.234,56) or point (1,234.56). "
    "Without it, an amount like 1,234 or 1,50 is rejected as ambiguous.",
)
@click.pass_obj
def import_cmd(app: App, path: str, rejects: str | None, region: str | None, decimal: str | None) -> None:
    """Import cases from a CSV or JSONL file: upsert by case_id, report bad rows by line.

    With a policy (DUNNING_POLICY), the attributes it declares are read from
    columns of their names and checked against their types. Exits 0 when
    every row landed, 1 when some rows were rejected (the good ones landed),
    2 when the file or the policy could not be read or the import stopped.
    """
    try:
        report = _import(app, path, rejects, region, DecimalMark(decimal) if decimal else None)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(NOT_READ)
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(NOT_READ)
    except OSError as exc:
        click.echo(f"error: {exc.filename or path}: {exc.strerror or type(exc).__name__}", err=True)
        sys.exit(NOT_READ)
    except Exception as exc:  # one line, never a traceback carrying row data
        click.echo(
            f"error: the import stopped: {type(exc).__name__}{_origin(exc)}; importing the file again is safe",
            err=True,
        )
        sys.exit(NOT_READ)
    for error in report.errors:
        click.echo(error, err=True)
    if report.rejected > len(report.errors):
        click.echo(f"... and {report.rejected - len(report.errors)} more (see --rejects)", err=True)
    click.echo(str(report))
    if report.rejected:
        sys.exit(SOME_REJECTED)


def _import(
    app: App, path: str, rejects: str | None, region: str | None, decimal: DecimalMark | None
) -> ImportReport:
    attributes = app.policy().attributes if app.settings.policy else None
    store = app.store()
    now = app.now()
    options: dict[str, Any] = {
        "now": now,
        "rejects": rejects,
        "default_region": region,
        "decimal": decimal,
        "attributes": attributes,
    }
    if not sys.stderr.isatty():
        return import_file(store, path, **options)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("importing", total=os.path.getsize(path))

        def advance(rows: int, read: int) -> None:
            bar.update(task, completed=read, description=f"importing: {rows:,} rows")

        return import_file(store, path, progress=advance, **options)


def _origin(exc: Exception) -> str:
    """The database driver's error class behind ``exc``, if any (its message may quote row values)."""
    original = getattr(exc, "orig", None)
    if original is None:
        return ""
    kind = type(original)
    return f" ({kind.__module__.split('.')[0]}.{kind.__name__})"


@click.command()
@click.argument("case_id")
@click.argument(
    "kind",
    type=click.Choice(
        [
            "payment",
            "promise",
            "dispute",
            "opt_out",
            "opt_in",
            "reply",
            "ack",
            "resume",
            "wrong_number",
            "handoff",
            "conversation",
        ]
    ),
)
@click.option("--amount", help="Payment amount (omit for payment in full).")
@click.option("--full", is_flag=True, help="The payment settles the case whatever its amount.")
@click.option("--date", "day", help="Promised date (YYYY-MM-DD).")
@click.option("--channel", help="Channel of an opt-out or wrong number (default: all / sms).")
@click.option("--text", help="Text of a reply.")
@click.option("--at", "at", help="When it happened (ISO 8601; default now).")
@click.option("--event-id", help="Idempotency key: an event id recorded twice counts once.")
@click.pass_obj
def event(
    app: App,
    case_id: str,
    kind: str,
    amount: str | None,
    full: bool,
    day: str | None,
    channel: str | None,
    text: str | None,
    at: str | None,
    event_id: str | None,
) -> None:
    """Record an event for CASE_ID: a payment stops every pending reminder at once."""
    body = {
        "kind": kind,
        "amount": amount,
        "date": day,
        "channel": channel,
        "text": text,
        "at": at,
        "full": True if full else None,
    }
    rt = app.runtime()
    intake = Intake(rt)
    known = [name for name in rt.registry.channels if name != "outbox"]
    try:
        parsed = parse_event({**body, "event_id": event_id}, case_id=case_id, default_at=rt.now())
        parsed = replace(
            parsed,
            channel=normalise_channel(parsed.channel, known),
            event_id=namespaced(Namespace.CLI, event_id),
            fingerprint=fingerprint({**body, "case_id": case_id}),
        )
        if kind == "reply" and text:
            with rt.store.read() as conn:
                loaded = rt.store.load_cases(conn, [case_id]).get(case_id)
            if loaded is None:
                raise InputError(f"unknown case {case_id!r}", field="case_id")
            recorded = intake.reply(
                loaded[0],
                text,
                at=parsed.at,
                channel=parsed.channel or "sms",
                event_id=parsed.event_id,
                fingerprint=parsed.fingerprint,
                source="cli",
            ).recorded
        else:
            recorded = [intake.record(parsed, source="cli")]
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    for item in recorded:
        note = " (already recorded)" if item.duplicate else ""
        cancelled = f", {len(item.cancelled)} pending reminder(s) cancelled" if item.cancelled else ""
        status = f", case {item.status}" if item.status else ""
        click.echo(f"{item.event.kind} recorded for {case_id}{note}{cancelled}{status}")


@click.command(name="timeline")
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def timeline_cmd(app: App, case_id: str, as_json: bool) -> None:
    """Every decision, reminder, attempt and event of CASE_ID, with reasons."""
    entries = timeline(app.store(), case_id)
    if entries is None:
        raise click.ClickException(f"no case {case_id!r}")
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.to_json(), ensure_ascii=False, default=str))
        return
    table = Table(title=f"case {case_id}")
    for column in ("at (UTC)", "local", "what", "action", "channel", "step", "rule / detail"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M}",
            f"{e.local:%m-%d %H:%M %Z}",
            e.kind,
            e.action,
            e.channel or "",
            "" if e.step is None else str(e.step + 1),
            Text(_detail(e)),
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _detail(entry: TimelineEntry) -> str:
    """The rule, then what the entry's detail adds: a deadline, a provider's id, code and answerer."""
    detail = entry.rule or ""
    if entry.detail.get("until"):
        detail += f" until {entry.detail['until'][:16]}"
    if entry.detail.get("provider_id"):
        detail += f" id {entry.detail['provider_id']}"
    if entry.detail.get("code"):
        detail += f" code {entry.detail['code']}"
    if entry.detail.get("answered_by"):
        detail += f" answered by {entry.detail['answered_by']}"
    if entry.detail.get("actor"):
        detail += f" by {entry.detail['actor']}"
    return detail
