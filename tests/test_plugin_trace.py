"""``DUNNING_PLUGIN_TRACE`` sees every hook call: the core never calls an implementation directly.

A deployment is started with tracing on and driven through what calls each
hook (start-up, the API, a tick with an A/B step, a reply); every hook of
``core/hookspecs.py`` must show in the trace, with the plugins it reached.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from pathlib import Path

from dunning.core import hookspecs
from dunning.core.api.app import create_app
from dunning.core.hookspecs import hookimpl
from dunning.core.intake.service import Intake
from dunning.core.plugins import make_registry
from dunning.core.runtime import build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.testing.factories import make_case

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("dunning_"))
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
POLICY = """
name: t
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - channel: sms
        variants: [{name: soft, template: overdue_notice}, {name: firm, template: overdue_firm}]
        wait: 2d
"""


class Observer:
    """A plugin that fails to observe events: the others must hear of them all the same."""

    @hookimpl
    def dunning_on_event(self, event):
        raise RuntimeError("observer down")


class Listener:
    """A plugin that listens to events and brings templates and a filter (hooks no built-in implements)."""

    def __init__(self, templates: Path) -> None:
        self.seen: list[str] = []
        self.templates = templates

    @hookimpl
    def dunning_on_event(self, event):
        self.seen.append(str(event.kind))

    @hookimpl
    def dunning_register_templates(self, register):
        register(self.templates)

    @hookimpl
    def dunning_template_filters(self):
        return {"shout": str.upper}


def traced(text: str) -> dict[str, list[str]]:
    """Hook name -> the plugin lists it was called with, from the trace log."""
    calls: dict[str, list[str]] = {}
    for name, plugins in re.findall(r"hook (dunning_\w+) -> (\[.*?\])", text):
        calls.setdefault(name, []).append(plugins)
    return calls


def test_given_tracing_on_when_a_deployment_runs_then_every_hook_call_is_traced(
    tmp_path: Path, caplog, monkeypatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="dunning.core.plugins")
    (tmp_path / "p.yaml").write_text(POLICY)
    # Given DUNNING_PLUGIN_TRACE=true, and two observers of events, the first of them failing
    monkeypatch.setenv("DUNNING_PLUGIN_TRACE", "true")
    failing, listening = Observer(), Listener(tmp_path / "templates")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", policy=str(tmp_path / "p.yaml"))
    registry = make_registry(settings.plugins, trace=settings.plugin_trace, extra=[failing, listening])
    # When it starts, serves its API, plans a reminder and hears a reply
    rt = build_runtime(settings, registry=registry, clock=lambda: NOW, dry_run=True)
    try:
        create_app(rt)
        case = make_case(due_date=date(2026, 11, 30))
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, [case], NOW)
        tick(rt, NOW)
        Intake(rt).reply(case, "明天还", at=NOW, channel="sms", event_id="sms:R1")
    finally:
        rt.close()
    calls = traced(caplog.text)
    # Then every hook shows in the trace
    assert sorted(calls) == HOOKS, f"hooks never traced: {sorted(set(HOOKS) - set(calls))}"
    # And the registration hooks name each plugin as it registered, one call per plugin
    assert "['sms']" in calls["dunning_register_channels"]
    assert "['presets']" in calls["dunning_register_presets"]
    # And each observer of events was called on its own: the failing one did not stop the other
    assert len(calls["dunning_on_event"]) >= 2
    assert listening.seen and listening.seen[0] == "reply"
