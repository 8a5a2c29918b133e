"""``dunning channels list`` and ``dunning channels test``: which channels exist, and does one work."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dunning.core.channel import Channel, OutboundMessage
from dunning.core.cli.app import App
from dunning.core.content.masking import mask_address
from dunning.core.errors import DeliveryError, DunningError, TransientDeliveryError
from dunning.core.sections import shown_values

#: The test message, per language and template part.
TEST_TEXT = {
    "en": {"title": "dunning test", "body": "This is a test message from dunning. No action is needed."},
    "zh": {"title": "dunning 测试", "body": "这是一条来自 dunning 的测试消息，无需任何操作。"},
}


@click.group()
def channels() -> None:
    """See the installed channels, and send one test message through a provider."""


@channels.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per channel and line.")
@click.pass_obj
def list_cmd(app: App, as_json: bool) -> None:
    """Every registered channel: its plugin, queue, kind, contact point, set-up and whether it is configured."""
    rows = [_describe(app, name, cls) for name, cls in sorted(app.registry.channels.items())]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table(title="dunning channels")
    for column in ("channel", "plugin", "queue", "kind", "contact", "configured", "details"):
        table.add_column(column)
    for row in rows:
        configured = "yes" if row["configured"] else "no" + (f" ({row['problem']})" if row["problem"] else "")
        table.add_row(
            row["name"],
            row["plugin"],
            row["queue"],
            row["kind"],
            row["contact_kind"],
            configured,
            Text(_details_text(row.get("details", {}))),
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _details_text(details: dict[str, Any]) -> str:
    """``voices: en=Polly.Joanna (en-US), zh=...``: one line per detail, mappings as key=value.

    Settings get a line each, ``DUNNING_X_Y=value`` (secrets already masked, unset ones as ``-``).
    """
    lines = []
    for label, value in details.items():
        if label == "settings" and isinstance(value, dict):
            lines += [f"{k}={'-' if v is None else v}" for k, v in value.items()]
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"{label}: {value}")
    return "\n".join(lines)


@channels.command(name="test")
@click.argument("name", metavar="CHANNEL")
@click.option("--to", "address", required=True, help="Where to send: a phone number, push token, ...")
@click.option("--locale", default="en", show_default=True, help="Language of the test message.")
@click.pass_obj
def test_cmd(app: App, name: str, address: str, locale: str) -> None:
    """Send one short test message through CHANNEL's configured provider; print its id and status."""
    cls = app.registry.channels.get(name)
    if cls is None:
        known = ", ".join(sorted(app.registry.channels)) or "none"
        raise click.ClickException(f"no channel {name!r} is installed (installed: {known})")
    try:
        channel = cls.from_settings(app.settings)
    except DunningError as exc:
        raise click.ClickException(f"channel {name!r} is misconfigured: {exc}") from exc
    if channel is None:
        raise click.ClickException(f"channel {name!r} is not configured: see its DUNNING_* settings")
    message = _test_message(cls, address, locale)
    try:
        receipt = channel.send(message)
    except DeliveryError as exc:
        click.echo(f"{type(exc).__name__}: code={exc.code or '-'}: {exc}", err=True)
        for what in _consequences(exc):
            click.echo(f"  {what}", err=True)
        sys.exit(1)
    finally:
        channel.close()
    click.echo(
        f"sent {name} test to {mask_address(address)}: provider id {receipt.provider_id}, status {receipt.status}"
    )


def _describe(app: App, name: str, cls: type[Channel]) -> dict[str, Any]:
    spec = cls.spec()
    configured, problem = False, ""
    details: dict[str, Any] = {}
    section = app.registry.settings.get(cls.settings_namespace or "")
    try:
        if section is not None:
            details["settings"] = shown_values(section.of(app.settings))
        details.update(cls.describe(app.settings))
        channel = cls.from_settings(app.settings)
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    else:
        if channel is not None:
            configured = True
            channel.close()
    return {
        "name": name,
        "plugin": app.registry.source_of("channel", name),
        "queue": spec.queue_name,
        "kind": spec.kind,
        "contact_kind": spec.contact_kind,
        "configured": configured,
        "problem": problem,
        **({"details": details} if details else {}),
    }


def _test_message(cls: type[Channel], address: str, locale: str) -> OutboundMessage:
    texts = TEST_TEXT["zh" if locale.lower().startswith("zh") else "en"]
    parts = {part: texts.get(part, texts["body"]) for part in cls.template_parts}
    return OutboundMessage(
        intent_id=f"test-{uuid.uuid4().hex}",
        case_id="channel-test",
        channel=cls.name,
        to=address,
        parts=parts,
        locale=locale,
    )


def _consequences(exc: DeliveryError) -> list[str]:
    lines = []
    if exc.invalidates:
        lines.append(f"the provider says the {exc.invalidates} is unusable")
    if exc.opt_out:
        lines.append("the recipient has opted out")
    if isinstance(exc, TransientDeliveryError) and exc.retry_after is not None:
        lines.append(f"retry after {exc.retry_after:g} s")
    return lines
