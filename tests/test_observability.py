"""What an operator reads about a running deployment: log lines, metrics, traces, health.

Real parts throughout: the embedded runtime on SQLite, the Twilio SDK against
the fake Twilio server, the API through its ASGI app, the OpenTelemetry SDK.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest

from dunning.core.api import create_app
from dunning.core.runtime import tracing
from dunning.core.runtime.logs import log_handler
from dunning.core.runtime.redaction import scrub
from dunning.core.runtime.scheduler import run_round
from dunning.core.settings import Settings
from dunning.testing.factories import make_case
from dunning.testing.fake_twilio import FakeTwilio
from dunning.testing.world import World, start_world

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
GOOD, BAD = "+8613800138000", "+8613900139000"
POLICY = """
name: t
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l: {start_after: 1d, steps: [{channel: sms, template: overdue_notice, wait: 2d}]}
"""


@pytest.fixture
def world(tmp_path, fake_twilio: FakeTwilio) -> Iterator[World]:
    """Two debtors: one Twilio takes, one whose number Twilio refuses (21211, invalid)."""
    clock = [T0]
    fake_twilio.clock = lambda: clock[0].timestamp()
    fake_twilio.fail(BAD, 21211)
    cases = [make_case(), make_case(case_id="C-2", debtor_id="D-2", phone=BAD, name="李雷")]
    made = start_world(
        tmp_path, f"sqlite:///{tmp_path / 'd.db'}", POLICY, cases, clock, **fake_twilio.settings()
    )
    yield made
    made.close()


def one_round(world: World) -> None:
    """One scheduler round, as the scheduler loop runs it, then every delivery it handed over."""
    run_round(world.rt)
    world.runner.drain()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """dunning's JSON log handler on the ``dunning`` loggers, writing into a buffer."""
    stream = io.StringIO()
    handler = log_handler(stream, "json")
    logger = logging.getLogger("dunning")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# ---------------------------------------------------------------- logs


def test_given_json_logs_then_a_delivery_line_carries_its_ids_and_no_phone_number(world, json_log):
    # When a round plans and delivers two reminders
    one_round(world)
    # Then every line is a JSON object with the required fields
    logged = lines(json_log)
    assert logged and all({"time", "level", "logger", "message", "process", "pid"} <= set(e) for e in logged)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]) for e in logged)
    # And the line of the send names its intent, case, channel and tick, with the number masked
    [sent] = [e for e in logged if " sent by sms to " in e["message"]]
    intent = next(r for r in world.intents() if r.case_id == "C-1")
    assert (sent["intent_id"], sent["case_id"], sent["channel"]) == (intent.intent_id, "C-1", "sms")
    assert sent["message"].endswith("+86*******8000")
    # And no line anywhere carries a whole phone number or a debtor's name
    text = json_log.getvalue()
    for secret in (GOOD, BAD, "13800138000", "王芳", "李雷"):
        assert secret not in text


def test_the_log_filter_masks_what_looks_personal_and_keeps_dates_and_ids():
    # Given a line quoting a phone, an account, a bearer token, a push token and a secret pair
    line = (
        "to +8613800138000 acct 6222 0200 1234 5678 Authorization: Bearer sk_live_abcdefghijklmn "
        "fcm cXyZ1234567:APA91bHun4MxP5egoKMwt2KZFBaFUH1RYqx6ohPSAnotherLongStringHere123 "
        "auth_token=f00dfeedcafe on 2026-12-01T08:00:00Z intent 3fa9c0d1234567890abcdef12345678"
    )
    masked = scrub(line)
    # Then none of them survives, while the time and the intent id do
    for secret in ("13800138000", "1234 5678", "sk_live", "APA91b", "f00dfeedcafe"):
        assert secret not in masked, masked
    assert "+86*******8000" in masked and "2026-12-01T08:00:00Z" in masked
    assert "intent 3fa9c0d1234567890abcdef12345678" in masked


def test_given_an_exception_quoting_a_number_then_its_traceback_is_masked(json_log):
    try:
        raise ValueError("cannot parse +8613800138000")
    except ValueError:
        logging.getLogger("dunning.test").exception("import failed")
    [entry] = lines(json_log)
    assert "+86*******8000" in entry["exception"] and "13800138000" not in entry["exception"]


# ---------------------------------------------------------------- metrics


def metric(rt: Any, line: str) -> float | None:
    """The value of one sample line (``name{labels}``) in the runtime's exposition, None if absent."""
    for text in generate_latest(rt.metrics.registry).decode().splitlines():
        if text.startswith(line + " "):
            return float(text.rsplit(" ", 1)[1])
    return None


def test_given_real_deliveries_then_the_process_counts_them_by_outcome_and_provider_code(world):
    # When a round delivers one text and Twilio refuses the other number
    one_round(world)
    rt = world.rt
    # Then the reminders, the refusal with its code and the timings are counted
    assert metric(rt, 'dunning_reminders_total{channel="sms",outcome="sent"}') == 1.0
    assert metric(rt, 'dunning_reminders_total{channel="sms",outcome="failed"}') == 1.0
    assert metric(rt, 'dunning_provider_errors_total{channel="sms",code="21211",kind="permanent"}') == 1.0
    assert metric(rt, 'dunning_delivery_duration_seconds_count{channel="sms"}') == 2.0
    assert metric(rt, 'dunning_provider_request_duration_seconds_count{channel="sms"}') == 2.0
    assert metric(rt, "dunning_tick_duration_seconds_count") == 1.0
    assert metric(rt, "dunning_cases_decided_total") == 2.0
    assert metric(rt, "dunning_reminders_planned_total") == 2.0


def test_the_api_serves_the_counters_and_cheap_gauges_and_counts_events(world):
    one_round(world)
    settings = world.rt.settings.model_copy(update={"api_tokens": [Settings(api_tokens="t").api_tokens[0]]})
    world.rt.settings = settings
    with TestClient(create_app(world.rt)) as client:
        event = {"event_id": "p-1", "case_id": "C-1", "kind": "payment"}
        assert client.post("/v1/events", json=event, headers={"Authorization": "Bearer t"}).status_code == 200
        text = client.get("/metrics").text
    assert 'dunning_events_total{kind="payment"} 1.0' in text
    assert 'dunning_reminders_total{channel="sms",outcome="sent"} 1.0' in text
    assert "dunning_cases_quarantined 0.0" in text
    # The in-process broker's queues: both reminders were taken
    assert 'dunning_queue_backlog_messages{queue="dunning.sms"} 0.0' in text


# ---------------------------------------------------------------- tracing


@pytest.fixture
def spans(monkeypatch) -> Iterator[Any]:
    """Tracing started by the standard variables (console exporter), plus an in-memory copy.

    The console exporter writes to the ``sys.stdout`` of when its module was
    imported: this file imports it up front, while pytest's own capture is in
    place for the session. The worker test reads its printed spans.
    """
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "dunning-test")
    assert tracing.start_tracing("test")
    memory = InMemorySpanExporter()
    tracing.tracer_provider().add_span_processor(SimpleSpanProcessor(memory))
    try:
        yield memory
    finally:
        tracing.stop_tracing()


def test_given_otel_settings_then_a_delivery_is_traced_from_its_tick_to_the_provider(
    spans, tmp_path, fake_twilio
):
    # Given tracing on (started before the runtime, as the commands do) and one debtor
    clock = [T0]
    fake_twilio.clock = lambda: clock[0].timestamp()
    world = start_world(
        tmp_path, f"sqlite:///{tmp_path / 'd.db'}", POLICY, [make_case()], clock, **fake_twilio.settings()
    )
    try:
        # When a round plans and delivers the reminder
        one_round(world)
    finally:
        world.close()
    finished = {s.name: s for s in spans.get_finished_spans()}
    tick, deliver, send = (
        finished["dunning.tick"],
        finished["dunning.deliver"],
        finished["dunning.provider.send"],
    )
    # Then the provider call is inside the delivery, and the delivery inside the tick, across the broker
    assert send.parent.span_id == deliver.context.span_id
    assert deliver.parent.span_id == tick.context.span_id
    assert len({tick.context.trace_id, deliver.context.trace_id, send.context.trace_id}) == 1
    # And the delivery names its case, intent, channel and outcome
    (intent,) = world.intents()
    assert deliver.attributes["dunning.case_id"] == "C-1"
    assert deliver.attributes["dunning.intent_id"] == intent.intent_id
    assert (deliver.attributes["dunning.channel"], deliver.attributes["dunning.outcome"]) == ("sms", "sent")
    assert tick.resource.attributes["service.name"] == "dunning-test"
    # And no span carries the phone number or the name
    for span in finished.values():
        for value in span.attributes.values():
            assert "13800138000" not in str(value) and "王芳" not in str(value)


def test_given_no_otel_settings_then_nothing_is_traced(monkeypatch):
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing.start_tracing("test") and not tracing.active()
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"})


def test_given_an_unknown_exporter_then_tracing_refuses_to_start_naming_the_variable(monkeypatch):
    from dunning.core.errors import ConfigError

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkinish")
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER: no span exporter named 'zipkinish'"):
        tracing.start_tracing("test")
    assert not tracing.active()


# ---------------------------------------------------------------- requests and health


def test_each_request_has_an_id_in_its_response_and_in_its_log_lines(world, json_log):
    with TestClient(create_app(world.rt)) as client:
        # When a webhook arrives unsigned, once with the caller's request id and once without
        given = client.post("/webhooks/twilio/sms/status", data={"x": "1"}, headers={"X-Request-ID": "lb-42"})
        fresh = client.post("/webhooks/twilio/sms/status", data={"x": "1"})
    # Then each answer names its id, the caller's kept, and the rejection's log line carries it
    assert given.status_code == fresh.status_code == 403
    assert given.headers["X-Request-ID"] == "lb-42"
    assert re.fullmatch(r"[0-9a-f]{16}", fresh.headers["X-Request-ID"])
    rejected = [e for e in lines(json_log) if "rejected an unsigned" in e["message"]]
    assert [e["request_id"] for e in rejected] == ["lb-42", fresh.headers["X-Request-ID"]]


def test_given_a_store_without_its_schema_then_the_api_is_live_but_not_ready(tmp_path):
    from dunning.core.runtime import build_runtime

    (tmp_path / "policy.yaml").write_text(POLICY)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'empty.db'}", policy=str(tmp_path / "policy.yaml")
    )
    rt = build_runtime(settings, dry_run=True, migrate=False)
    try:
        with TestClient(create_app(rt)) as client:
            live, ready, old = client.get("/livez"), client.get("/readyz"), client.get("/healthz")
    finally:
        rt.close()
    assert live.status_code == 200
    assert ready.status_code == old.status_code == 503
    assert ready.json() == {"store": "ok", "schema": "down", "broker": "ok"}


# ---------------------------------------------------------------- secrets from files


def test_given_secrets_mounted_as_files_then_settings_read_them(tmp_path, monkeypatch):
    from dunning.channels.twilio_settings import TwilioSettings
    from dunning.core.errors import ConfigError
    from dunning.core.settings import load_settings

    # Given the API tokens (one a line) and the Twilio auth token as files, as compose mounts them
    (tmp_path / "api_tokens").write_text("tok-a\ntok-b\n")
    (tmp_path / "twilio_auth_token").write_text("s3cret\n")
    monkeypatch.setenv("DUNNING_API_TOKENS_FILE", str(tmp_path / "api_tokens"))
    monkeypatch.setenv("DUNNING_TWILIO_AUTH_TOKEN_FILE", str(tmp_path / "twilio_auth_token"))
    monkeypatch.delenv("DUNNING_API_TOKENS", raising=False)
    monkeypatch.delenv("DUNNING_TWILIO_AUTH_TOKEN", raising=False)
    # Then the settings hold their content
    settings = load_settings()
    assert [t.get_secret_value() for t in settings.api_tokens] == ["tok-a", "tok-b"]
    token = TwilioSettings.of(settings).auth_token  # a plugin's own settings section reads files too
    assert token is not None and token.get_secret_value() == "s3cret"
    # And naming the value too, or a file that is not there, is refused naming the variable
    monkeypatch.setenv("DUNNING_TWILIO_AUTH_TOKEN", "other")
    with pytest.raises(ConfigError, match="DUNNING_TWILIO_AUTH_TOKEN and DUNNING_TWILIO_AUTH_TOKEN_FILE"):
        TwilioSettings.of(load_settings())
    monkeypatch.delenv("DUNNING_TWILIO_AUTH_TOKEN")
    monkeypatch.setenv("DUNNING_API_TOKENS_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="DUNNING_API_TOKENS_FILE: cannot read"):
        load_settings()
