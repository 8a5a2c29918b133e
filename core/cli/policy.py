"""``dunning policy check`` and ``dunning policy explain``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dunning.core.cli.app import App
from dunning.core.content.lint import lint_templates
from dunning.core.domain.assignment import strategy_of
from dunning.core.domain.model import Case, Event
from dunning.core.errors import InputError, PolicyError
from dunning.core.intake.records import load_json_object, parse_case, parse_event
from dunning.core.policy.attributes import AttributeType, typed
from dunning.core.policy.compile import compile_policy
from dunning.core.policy.explain import explain
from dunning.core.policy.model import Policy
from dunning.core.policy.yamlbounds import read_bounded


@click.group()
def policy() -> None:
    """Check a policy, and see what it would do to a debtor."""


@policy.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.pass_obj
def check(app: App, path: str, strict: bool) -> None:
    """Check POLICY.yaml: errors and warnings as FILE:LINE: field: message.

    Also renders every template the policy uses with a sample case, reporting
    SMS encoding and segment count, and flags a template in a locale its
    channel cannot deliver (a call in a language no voice speaks). Exits
    non-zero on any error.
    """
    try:
        text = read_bounded(path)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    compiled, problems = compile_policy(
        text,
        file=path,
        channels=app.registry.channel_specs(),
        presets=app.registry.presets,
        templates=app.templates.exists,
    )
    lint_lines = []
    if compiled is not None:
        findings = lint_templates(compiled, app.templates, app.registry.channels, app.settings)
        problems += [f.problem for f in findings if f.problem is not None]
        lint_lines = [f.summary for f in findings]
    for line in lint_lines:
        click.echo(line)
    for problem in problems:
        click.echo(str(problem), err=problem.severity == "error")
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if errors or (strict and warnings):
        click.echo(f"{path}: {errors} error(s), {warnings} warning(s)", err=True)
        sys.exit(1)
    click.echo(f"{path}: ok ({warnings} warning(s))")


def _read_case(path: str, attributes: Mapping[str, AttributeType]) -> Case:
    try:
        text = Path(path).read_text(encoding="utf-8")
        return parse_case(load_json_object(text, "case"), attributes=attributes)
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror}") from exc
    except InputError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


def _read_events(path: str | None, case_id: str) -> list[Event]:
    if not path:
        return []
    events = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(load_json_object(line, "event"), case_id=case_id))
        except InputError as exc:
            raise click.ClickException(f"{path}:{number}: {exc}") from exc
    return events


def _attribute_values(policy: Policy, case: Case) -> dict[str, Any]:
    """The case's declared attributes as the policy reads them, in JSON's terms (none: null)."""
    values = typed(policy.attributes, case.attributes)
    return {name: str(v) if isinstance(v, Decimal | date) else v for name, v in values.items()}


def _parse_start(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@policy.command(name="explain")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--case", "case_path", required=True, type=click.Path(dir_okay=False), help="Case JSON.")
@click.option("--events", "events_path", type=click.Path(dir_okay=False), help="Events JSONL.")
@click.option("--start", help="Start of the dry run (ISO 8601; default now).")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 366))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def explain_cmd(
    app: App,
    path: str,
    case_path: str,
    events_path: str | None,
    start: str | None,
    days: int,
    as_json: bool,
) -> None:
    """Dry-run one case through POLICY.yaml: every contact, deferral and stop, with reasons.

    Shows the debtor's strategy (where the policy splits debtors) and the
    values of the attributes the policy declares.
    """
    try:
        compiled = app.policy(path)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    case = _read_case(case_path, compiled.attributes)
    events = _read_events(events_path, case.case_id)
    lines = explain(case, compiled, _parse_start(start), days, events)
    values = _attribute_values(compiled, case)
    if as_json:
        for line in lines:
            shown = line.to_json() | ({"attributes": values} if compiled.attributes else {})
            click.echo(json.dumps(shown, ensure_ascii=False))
        return
    caption = ", ".join(f"{name}={'none' if v is None else v}" for name, v in values.items())
    strategy = strategy_of(case, compiled)
    title = f"{compiled.name}: case {case.case_id}" + (f", strategy {strategy.name}" if strategy else "")
    table = Table(title=title, caption=f"attributes: {caption}" if caption else None)
    for column in ("at (UTC)", "local", "action", "channel", "step", "template", "rule / until"):
        table.add_column(column)
    for line in lines:
        a = line.action
        detail = a.rule or ""
        if a.until:
            detail += f" until {a.until.astimezone(line.local.tzinfo):%Y-%m-%d %H:%M}"
        table.add_row(
            f"{a.at:%Y-%m-%d %H:%M}",
            f"{line.local:%Y-%m-%d %H:%M %Z}",
            a.kind,
            a.channel or "",
            "" if a.step is None else str(a.step + 1),
            (a.template or "") + (f" [{a.variant}]" if a.variant else ""),
            detail,
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)
