"""Outbound webhooks: the lender's systems hear of disputes, hand-offs, opt-outs and payments.

A real receiver on 127.0.0.1, the embedded runtime's Dramatiq worker, on
SQLite and PostgreSQL. Signatures are checked with a reference
implementation written here (hmac and hashlib), not with dunning's own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dunning.core.api import create_app
from dunning.core.errors import ConfigError
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.settings import Settings
from dunning.core.store.schema import webhook_deliveries
from dunning.testing.api import bearer
from dunning.testing.factories import make_case
from dunning.testing.webhook_receiver import WebhookReceiver, free_port

POLICY = """
name: hooks
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""
SECRET = "whsec-test-1"
TOKEN = "tok"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def reference_verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """Stripe's scheme, as a receiver would write it: HMAC-SHA256 over ``t.body``, compared in constant time."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    if abs(time.time() - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def start(tmp_path, database_url: str, hooks: str, **settings) -> tuple[Embedded, list[datetime]]:
    (tmp_path / "p.yaml").write_text(POLICY)
    clock = [NOW]
    rt = build_runtime(
        Settings(
            database_url=database_url,
            policy=str(tmp_path / "p.yaml"),
            api_tokens=[TOKEN],
            webhooks=hooks,
            webhook_secret=SECRET,
            **settings,
        ),
        clock=lambda: clock[0],
        dry_run=True,
    )
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn, [make_case(case_id="C-1"), make_case(case_id="C-2", debtor_id="D-2")], NOW
        )
    runner = Embedded(rt, threads=2)
    runner.start()
    return runner, clock


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def post(rt, body: dict) -> int:
    with TestClient(create_app(rt)) as client:
        return client.post("/v1/events", json=body, headers=bearer(TOKEN)).status_code


def deliveries(rt) -> list:
    with rt.store.read() as conn:
        return list(conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.created_at)))


def test_given_a_subscriber_when_a_debtor_disputes_then_it_hears_disputed_and_handed_off_signed(
    tmp_path, database_url, receiver
):
    # Given a receiver subscribed to disputes and hand-offs (not to opt-outs)
    runner, _clock = start(tmp_path, database_url, f"{receiver.url}/hooks=disputed,handed_off")
    try:
        # When a dispute arrives and the scheduler holds the case for a person
        assert post(runner.rt, {"event_id": "d-1", "case_id": "C-1", "kind": "dispute"}) == 200
        assert post(runner.rt, {"event_id": "o-1", "case_id": "C-2", "kind": "opt_out"}) == 200
        runner.step()
        runner.drain_webhooks()
    finally:
        runner.stop()
        runner.rt.close()
    # Then it heard both (deliveries travel in parallel: their created_at tells the order), and
    # nothing it did not subscribe to
    got = sorted(receiver.requests, key=lambda r: (r.json()["created_at"], r.json()["type"] != "disputed"))
    assert [r.json()["type"] for r in got] == ["disputed", "handed_off"]
    assert [r.json()["case_id"] for r in got] == ["C-1", "C-1"]
    assert got[1].json()["data"]["reason"] == "dispute"
    for request in got:
        # And each is signed: the reference implementation accepts it, a tampered body fails
        header = request.header("Dunning-Signature")
        assert reference_verify(SECRET, header, request.body)
        assert not reference_verify(SECRET, header, request.body + b" ")
        assert not reference_verify("another-secret", header, request.body)
        # And carries its delivery id, the same in the header and the body, for de-duplication
        assert request.header("Dunning-Delivery") == request.json()["id"]
        assert request.header("Dunning-Event") == request.json()["type"]


def test_given_a_receiver_that_is_down_when_it_comes_up_then_it_gets_the_delivery_later(
    tmp_path, database_url
):
    # Given a subscription to a receiver that is not running yet
    port = free_port()
    runner, _clock = start(
        tmp_path, database_url, f"http://127.0.0.1:{port}/in=paid", webhook_min_backoff_ms=200
    )
    rt = runner.rt
    try:
        # When a payment is recorded, the first attempt fails (connection refused)
        assert post(rt, {"event_id": "p-1", "case_id": "C-1", "kind": "payment"}) == 200
        runner.step()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (deliveries(rt) and deliveries(rt)[0].attempts >= 1):
            time.sleep(0.02)  # poll the store, with a timeout, for the first failure
        (first,) = deliveries(rt)
        assert first.attempts >= 1 and first.last_error and first.state == "enqueued"
        # Then once the receiver is up, a retry delivers it
        with WebhookReceiver(port) as late:
            runner.drain_webhooks()
            (request,) = late.requests
    finally:
        runner.stop()
        rt.close()
    assert request.json()["type"] == "paid" and request.json()["id"] == first.id
    assert reference_verify(SECRET, request.header("Dunning-Signature"), request.body)
    store_rows = _reread(tmp_path, database_url)
    assert [(r.state, r.id) for r in store_rows] == [("delivered", first.id)]


def _reread(tmp_path, database_url: str) -> list:
    from dunning.core.store import open_store

    store = open_store(database_url)
    try:
        with store.read() as conn:
            return list(conn.execute(select(webhook_deliveries)))
    finally:
        store.dispose()


def test_given_a_receiver_that_keeps_failing_then_the_delivery_fails_visibly(
    tmp_path, database_url, receiver
):
    runner, _clock = start(
        tmp_path,
        database_url,
        f"{receiver.url}/x=opted_out",
        webhook_min_backoff_ms=10,
        webhook_max_attempts=2,
    )
    receiver.fail_next(500, requests=5)
    rt = runner.rt
    try:
        assert post(rt, {"event_id": "o-1", "case_id": "C-1", "kind": "opt_out"}) == 200
        runner.step()
        runner.drain_webhooks()
        (row,) = deliveries(rt)
        assert (row.state, row.attempts, row.last_status) == ("failed", 2, 500)
        # And /metrics counts the failed attempts and the failed delivery
        with TestClient(create_app(rt)) as client:
            metrics = client.get("/metrics").text
    finally:
        runner.stop()
        rt.close()
    assert len(receiver.requests) == 2
    assert "dunning_webhook_failures_total 2.0" in metrics
    assert 'dunning_webhook_deliveries{state="failed"} 1.0' in metrics


def test_given_a_refused_batch_then_no_delivery_is_written(tmp_path, database_url, receiver):
    runner, _clock = start(tmp_path, database_url, f"{receiver.url}/x")
    rt = runner.rt
    try:
        batch = {
            "events": [
                {"event_id": "d-1", "case_id": "C-1", "kind": "dispute"},
                {"event_id": "d-2", "case_id": "NOPE", "kind": "dispute"},
            ]
        }
        assert post(rt, batch) == 422
        with rt.store.read() as conn:
            assert conn.scalar(select(func.count()).select_from(webhook_deliveries)) == 0
    finally:
        runner.stop()
        rt.close()


def test_subscriptions_without_a_secret_or_with_an_unknown_topic_are_refused_at_start(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    base = {"database_url": f"sqlite:///{tmp_path / 's.db'}", "policy": str(tmp_path / "p.yaml")}
    with pytest.raises(ConfigError, match="DUNNING_WEBHOOK_SECRET"):
        build_runtime(Settings(**base, webhooks="http://127.0.0.1:9/x=paid"))
    with pytest.raises(ConfigError, match="unknown topic 'payed'"):
        build_runtime(Settings(**base, webhooks="http://127.0.0.1:9/x=payed", webhook_secret="s"))


RISKY = """
name: risky
preset: none
segments:
  - {name: risky, when: "amount_due / (days_overdue - 5) > 1000", ladder: l}
  - {name: all, ladder: l}
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""


def test_given_a_case_that_cannot_be_decided_then_quarantined_is_heard_once_per_spell(
    tmp_path, database_url, receiver
):
    # Given a policy whose condition divides by zero for a case 5 days overdue
    (tmp_path / "p.yaml").write_text(RISKY)
    clock = [NOW]
    rt = build_runtime(
        Settings(
            database_url=database_url,
            policy=str(tmp_path / "p.yaml"),
            webhooks=f"{receiver.url}/q=quarantined",
            webhook_secret=SECRET,
        ),
        clock=lambda: clock[0],
        dry_run=True,
    )
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn, [make_case(case_id="C-5", due_date=(NOW.date() - timedelta(days=5)))], NOW
        )
    runner = Embedded(rt, threads=1)
    runner.start()
    try:
        # When the scheduler fails to decide it, twice (the second time after its retry pause)
        runner.step()
        clock[0] = NOW + timedelta(hours=1)
        runner.step()
        runner.drain_webhooks()
    finally:
        runner.stop()
        rt.close()
    # Then the subscriber heard of it once, with the stage and the (masked) error
    (request,) = receiver.requests
    body = request.json()
    assert (body["type"], body["case_id"], body["data"]["stage"]) == ("quarantined", "C-5", "decide")
    assert "DivisionByZero" in body["data"]["error"]
    assert reference_verify(SECRET, request.header("Dunning-Signature"), request.body)


def test_given_a_promise_that_runs_out_unpaid_then_promise_broken_is_heard(tmp_path, database_url, receiver):
    runner, clock = start(tmp_path, database_url, f"{receiver.url}/p=promise_broken")
    rt = runner.rt
    try:
        day = (NOW + timedelta(days=2)).date().isoformat()
        assert post(rt, {"event_id": "pr-1", "case_id": "C-1", "kind": "promise", "date": day}) == 200
        runner.step()
        clock[0] = NOW + timedelta(days=5)  # past the promised day and its grace, unpaid
        runner.step()
        runner.drain_webhooks()
    finally:
        runner.stop()
        rt.close()
    (request,) = receiver.requests
    assert (request.json()["type"], request.json()["case_id"]) == ("promise_broken", "C-1")
