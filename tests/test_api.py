"""The HTTP API and the Twilio webhooks, as the lender's systems and Twilio call them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from dunning.core.api import create_app
from dunning.core.runtime import build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import events, intents, outbox_messages
from dunning.testing.factories import make_case

POLICY = """
name: api
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: voice, template: overdue_call, wait: 2d}
responses: {keypress: {"1": promise, "2": handoff}, promise_days: 3, promise_grace: 1d}
"""
TOKEN = "s3cret-token"
AUTH_TOKEN = "twilio-auth-token"
PUBLIC = "https://dunning.example.com"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def runtime(tmp_path, database_url):
    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        api_tokens=[TOKEN],
        public_url=PUBLIC,
        twilio_auth_token=AUTH_TOKEN,
    )
    clock = [NOW]
    rt = build_runtime(settings, clock=lambda: clock[0], dry_run=True)
    rt.clock_cell = clock  # type: ignore[attr-defined]
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn,
            [
                make_case(case_id="C-1", debtor_id="D-1"),
                make_case(case_id="C-2", debtor_id="D-2", phone="+8613900139002"),
            ],
            NOW - timedelta(days=1),
        )
    yield rt
    rt.close()


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime), base_url=PUBLIC) as c:
        yield c


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def plan(runtime) -> list[str]:
    """Let the scheduler plan the first reminders (the dry run keeps them pending)."""
    tick(runtime, NOW)
    with runtime.store.read() as conn:
        return list(conn.scalars(select(intents.c.intent_id).where(intents.c.case_id == "C-1")))


def count(runtime, table) -> int:
    with runtime.store.read() as conn:
        return conn.scalar(select(func.count()).select_from(table)) or 0


# ------------------------------------------------------------------ /v1/events


def test_a_payment_cancels_every_pending_reminder_of_the_case_at_once(client, runtime):
    pending = plan(runtime)
    assert pending
    response = client.post(
        "/v1/events",
        json={"event_id": "pay-1", "case_id": "C-1", "kind": "payment", "amount": "3200.00"},
        headers=bearer(),
    )
    assert response.status_code == 200, response.text
    (result,) = response.json()
    assert result == {
        "event_id": "pay-1",
        "case_id": "C-1",
        "kind": "payment",
        "status": "recorded",
        "cancelled": len(pending),
        "case_status": "paid",
    }
    with runtime.store.read() as conn:
        states = set(conn.scalars(select(intents.c.state).where(intents.c.case_id == "C-1")))
    assert states == {"cancelled"}


def test_the_same_event_id_twice_is_recorded_once(client, runtime):
    body = {"event_id": "pay-2", "case_id": "C-1", "kind": "payment", "amount": "100.00"}
    first = client.post("/v1/events", json=body, headers=bearer()).json()[0]
    second = client.post("/v1/events", json=body, headers=bearer()).json()[0]
    assert (first["status"], second["status"]) == ("recorded", "duplicate")
    assert count(runtime, events) == 1


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Basic abc"}])
def test_without_a_valid_token_nothing_is_recorded(client, runtime, headers):
    response = client.post(
        "/v1/events", json={"event_id": "x", "case_id": "C-1", "kind": "payment"}, headers=headers
    )
    assert response.status_code == 401
    assert count(runtime, events) == 0


def test_a_batch_with_one_bad_event_records_none_and_names_it(client, runtime):
    batch = {
        "events": [
            {"event_id": "b-1", "case_id": "C-1", "kind": "promise", "date": "2026-12-05"},
            {"event_id": "b-2", "case_id": "C-404", "kind": "payment"},
            {"event_id": "b-3", "case_id": "C-2", "kind": "dispute", "at": "2026-12-02T10:00:00"},
        ]
    }
    response = client.post("/v1/events", json=batch, headers=bearer())
    assert response.status_code == 422
    problems = {tuple(d["loc"]): d["msg"] for d in response.json()["errors"]}
    assert problems == {("body", "events", 2, "at"): "at: needs a UTC offset, e.g. 2026-12-03T10:00:00+08:00"}
    batch["events"][2]["at"] = "2026-12-02T10:00:00+08:00"
    response = client.post("/v1/events", json=batch, headers=bearer())
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["errors"]] == [["body", "events", 1, "case_id"]]
    assert count(runtime, events) == 0
    del batch["events"][1]
    response = client.post("/v1/events", json=batch, headers=bearer())
    assert response.status_code == 200 and [r["status"] for r in response.json()] == ["recorded", "recorded"]


def test_bad_fields_are_named(client, runtime):
    for body, field in [
        ({"event_id": "e", "case_id": "C-1", "kind": "payment", "amount": "-3"}, "amount"),
        ({"event_id": "e", "case_id": "C-1", "kind": "teleport"}, "kind"),
        ({"event_id": "e", "case_id": "C-1", "kind": "promise", "date": "soon"}, "date"),
        ({"event_id": "e", "case_id": "C-1", "kind": "payment", "colour": "red"}, "colour"),
    ]:
        response = client.post("/v1/events", json=body, headers=bearer())
        assert response.status_code == 422, body
        assert any(field in d["loc"] for d in response.json()["errors"]), response.json()
    assert count(runtime, events) == 0


def test_a_reply_through_the_api_is_classified(client, runtime):
    response = client.post(
        "/v1/events",
        json={"event_id": "r-1", "case_id": "C-1", "kind": "reply", "text": "明天还"},
        headers=bearer(),
    )
    assert response.status_code == 200
    with runtime.store.read() as conn:
        kinds = [
            (row.kind, row.date)
            for row in conn.execute(select(events.c.kind, events.c.date).order_by(events.c.id))
        ]
    assert kinds == [("reply", None), ("promise", (NOW + timedelta(hours=8)).date() + timedelta(days=1))]


# ------------------------------------------------------------------ /v1/cases


def test_cases_upsert_get_and_timeline(client):
    case = {
        "case_id": "C-9",
        "debtor_id": "D-9",
        "name": "Jordan Lee",
        "account": "4111111111111111",
        "amount_due": "845.20",
        "currency": "USD",
        "due_date": "2026-11-30",
        "phone": "+1 (415) 555-2671",
        "locale": "en",
    }
    assert client.post("/v1/cases", json=case, headers=bearer()).json() == {"inserted": 1, "updated": 0}
    got = client.get("/v1/cases/C-9", headers=bearer()).json()
    assert (
        got["case"]["phone"] == "+14155552671" and got["outstanding"] == "845.20" and got["status"] == "open"
    )
    bad = client.post(
        "/v1/cases", json={"cases": [case, {**case, "case_id": "C-10", "currency": "XYZ"}]}, headers=bearer()
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "cases", 1, "currency"]
    assert client.get("/v1/cases/C-10", headers=bearer()).status_code == 404
    assert client.get("/v1/cases/C-9/timeline", headers=bearer()).json() == []


# ------------------------------------------------------------------ Twilio webhooks


def signed(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> tuple[str, dict[str, str]]:
    signature = RequestValidator(token).compute_signature(PUBLIC + path, params)
    return path, {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}


def post_form(client, path: str, params: dict[str, str], token: str = AUTH_TOKEN):
    url, headers = signed(path, params, token)
    return client.post(url, content=urlencode(params), headers=headers)


def test_inbound_stop_opts_out_at_once_and_confirms_once(client, runtime):
    params = {
        "MessageSid": "SM1",
        "From": "+8613800138000",
        "To": "+10000000000",
        "Body": "退订",
        "NumSegments": "1",
    }
    response = post_form(client, "/webhooks/twilio/sms/inbound", params)
    assert response.status_code == 200 and "<Response" in response.text
    with runtime.store.read() as conn:
        kinds = [
            (r.kind, r.channel)
            for r in conn.execute(select(events.c.kind, events.c.channel).order_by(events.c.id))
        ]
        confirmations = conn.scalar(select(func.count()).select_from(outbox_messages))
    assert kinds == [("reply", "sms"), ("opt_out", "sms"), ("opt_out", "sms")]  # the person, the number
    assert confirmations == 1
    # Twilio retries the same webhook: nothing new, no second confirmation
    post_form(client, "/webhooks/twilio/sms/inbound", params)
    assert count(runtime, outbox_messages) == 1


@pytest.mark.parametrize(
    "forge",
    [
        lambda p, h: (p, {**h, "X-Twilio-Signature": "AAAA"}),
        lambda p, h: (p, {k: v for k, v in h.items() if k != "X-Twilio-Signature"}),
        lambda p, h: (
            p,
            {**h, "X-Twilio-Signature": signed(p, {"Body": "STOP"}, "other-token")[1]["X-Twilio-Signature"]},
        ),
    ],
)
def test_forged_webhooks_get_403_and_change_nothing(client, runtime, forge):
    params = {"MessageSid": "SM2", "From": "+8613800138000", "To": "+10000000000", "Body": "STOP"}
    path, headers = forge(*signed("/webhooks/twilio/sms/inbound", params))
    response = client.post(path, content=urlencode(params), headers=headers)
    assert response.status_code == 403
    assert count(runtime, events) == 0
    assert (
        'dunning_webhook_rejections_total{endpoint="/webhooks/twilio/sms/inbound"} 1.0'
        in client.get("/metrics").text
    )


def test_a_signature_over_another_host_is_refused(client, runtime):
    params = {"MessageSid": "SM3", "From": "+8613800138000", "To": "+1", "Body": "STOP"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://evil.example.com/webhooks/twilio/sms/inbound", params
    )
    response = client.post(
        "/webhooks/twilio/sms/inbound",
        content=urlencode(params),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403


def test_keypress_1_promises_and_2_hands_the_case_to_an_agent(client, runtime):
    (intent_id,) = plan(runtime)
    path = f"/webhooks/twilio/voice/gather?intent_id={intent_id}"
    response = post_form(client, path, {"CallSid": "CA1", "Digits": "1"})
    assert response.status_code == 200
    assert '<Say language="cmn-CN" voice="Polly.Zhiyu">' in response.text and "<Hangup" in response.text
    response = post_form(client, path, {"CallSid": "CA1", "Digits": "2"})
    with runtime.store.read() as conn:
        rows = conn.execute(select(events.c.kind, events.c.date).order_by(events.c.id)).all()
    # The first key proves a person took the call (a conversation), then each key means its event
    assert [r.kind for r in rows] == ["conversation", "promise", "handoff"]
    assert rows[1].date == (NOW + timedelta(hours=8)).date() + timedelta(days=3)
    got = client.get("/v1/cases/C-1", headers=bearer()).json()
    tick(runtime, NOW + timedelta(minutes=1))
    assert client.get("/v1/cases/C-1", headers=bearer()).json()["status"] == "held"
    assert got["case_id"] == "C-1"


def test_status_callbacks_settle_the_intent(client, runtime):
    (intent_id,) = plan(runtime)
    with runtime.store.write() as conn:
        runtime.store.update_intent(conn, intent_id, NOW, state="sent", provider_id="SM42")
    path = f"/webhooks/twilio/sms/status?intent_id={intent_id}"
    assert post_form(client, path, {"MessageSid": "SM42", "MessageStatus": "delivered"}).status_code == 204
    with runtime.store.read() as conn:
        assert conn.scalar(select(intents.c.state).where(intents.c.intent_id == intent_id)) == "delivered"


def test_push_ack_pauses_the_ladder(client, runtime):
    (intent_id,) = plan(runtime)
    response = client.post(
        "/v1/push/ack", json={"intent_id": intent_id, "event_id": "ack-1"}, headers=bearer()
    )
    assert response.status_code == 200 and response.json()["kind"] == "ack"
    assert client.post("/v1/push/ack", json={"intent_id": "nope"}, headers=bearer()).status_code == 422


def test_health_and_metrics(client, runtime):
    ready = {"store": "ok", "schema": "ok", "broker": "ok"}
    assert client.get("/healthz").json() == ready
    assert client.get("/readyz").json() == ready
    assert client.get("/livez").json() == {"status": "ok"}
    plan(runtime)
    # When a payment is recorded through the API
    posted = client.post(
        "/v1/events", json={"event_id": "pay-1", "case_id": "C-1", "kind": "payment"}, headers=bearer()
    )
    assert posted.status_code == 200, posted.text
    # Then /metrics counts it by kind, and shows the cheap gauges, without counting whole tables
    text = client.get("/metrics").text
    assert 'dunning_events_total{kind="payment"} 1.0' in text
    assert "dunning_cases_quarantined 0.0" in text
    assert "dunning_intents{" not in text


def test_plugins_observe_recorded_events_and_a_failing_observer_undoes_nothing(tmp_path):
    from dunning.core.hookspecs import hookimpl
    from dunning.core.plugins import make_registry

    seen = []

    class Observer:
        @hookimpl
        def dunning_on_event(self, event):
            seen.append((event.kind, event.case_id))

    class Broken:
        @hookimpl
        def dunning_on_event(self, event):
            raise RuntimeError("observer bug")

    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'o.db'}", policy=str(tmp_path / "p.yaml"), api_tokens=[TOKEN]
    )
    rt = build_runtime(settings, dry_run=True, registry=make_registry(extra=[Observer(), Broken()]))
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, [make_case()], NOW)
        with TestClient(create_app(rt), base_url=PUBLIC) as c:
            body = {"event_id": "p", "case_id": "C-1", "kind": "payment"}
            assert c.post("/v1/events", json=body, headers=bearer()).json()[0]["case_status"] == "paid"
            c.post("/v1/events", json=body, headers=bearer())  # a duplicate is not observed again
        assert seen == [("payment", "C-1")]
        assert count(rt, events) == 1
    finally:
        rt.close()


def test_a_channel_plugin_adds_its_webhooks_to_the_api(tmp_path):
    from fastapi import APIRouter

    from dunning.core.hookspecs import hookimpl
    from dunning.core.plugins import make_registry

    router = APIRouter(prefix="/webhooks/gateway")

    @router.post("/receipt")
    def receipt() -> dict[str, str]:
        return {"ok": "yes"}

    class Gateway:
        @hookimpl
        def dunning_register_routes(self, register):
            register(router)

    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", policy=str(tmp_path / "p.yaml"))
    rt = build_runtime(settings, dry_run=True, registry=make_registry(extra=[Gateway()]))
    try:
        with TestClient(create_app(rt)) as c:
            assert c.post("/webhooks/gateway/receipt").json() == {"ok": "yes"}
            assert "/webhooks/twilio/sms/inbound" in c.get("/openapi.json").json()["paths"]
    finally:
        rt.close()
