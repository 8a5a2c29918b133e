"""Events that cannot be lost: idempotency keys, conflicts, atomic replies, channel names, promises.

Driven through the HTTP API and signed Twilio webhooks, as the lender's
systems and Twilio call them, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.core.api import create_app
from dunning.core.runtime import build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import cases, events, intents, outbox_messages
from dunning.testing.api import bearer, post_signed_form
from dunning.testing.factories import make_case

POLICY = """
name: intake
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: voice, template: overdue_call, wait: 2d}
responses: {promise_horizon: 30d}
"""
TOKEN = "api-token"
AUTH = "twilio-auth-token"
PUBLIC = "https://dunning.example.com"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
INBOUND = "/webhooks/twilio/sms/inbound"


@pytest.fixture
def runtime(tmp_path, database_url):
    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        api_tokens=[TOKEN],
        public_url=PUBLIC,
        twilio_auth_token=AUTH,
    )
    clock = [NOW]
    rt = build_runtime(settings, clock=lambda: clock[0], dry_run=True)
    rt.clock_cell = clock  # type: ignore[attr-defined]
    with rt.store.write() as conn:
        rt.store.upsert_cases(conn, [make_case(case_id="C-1", debtor_id="D-1")], NOW - timedelta(days=1))
    yield rt
    rt.close()


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime), base_url=PUBLIC, raise_server_exceptions=False) as c:
        yield c


def post(client, body):
    return client.post("/v1/events", json=body, headers=bearer(TOKEN))


def kinds(runtime) -> list[tuple[str, str | None]]:
    with runtime.store.read() as conn:
        return [
            (r.kind, r.channel)
            for r in conn.execute(select(events.c.kind, events.c.channel).order_by(events.c.id))
        ]


def inbound(client, body: str, sid: str = "SM" + "a" * 32, **extra: str):
    params = {"MessageSid": sid, "From": "+8613800138000", "To": "+10000000000", "Body": body, **extra}
    return post_signed_form(client, PUBLIC, INBOUND, params, AUTH)


# ------------------------------------------------------------------ idempotency


def test_given_an_event_id_reused_for_another_event_when_posted_then_409_names_the_stored_one(
    client, runtime
):
    promise = {"event_id": "E-1", "case_id": "C-1", "kind": "promise", "date": "2026-12-05"}
    assert post(client, promise).json()[0]["status"] == "recorded"
    # The lender's system reuses the id for a payment: it must hear that it was not recorded.
    payment = {"event_id": "E-1", "case_id": "C-1", "kind": "payment", "amount": "3200.00"}
    response = post(client, payment)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 409 and "already recorded" in problem["detail"]
    assert problem["stored"]["kind"] == "promise" and problem["stored"]["event_id"] == "E-1"
    assert problem["field"] == "event_id"
    assert kinds(runtime) == [("promise", None)]
    # The same promise again is a harmless retry, even without its time (the server stamps it).
    assert post(client, promise).json()[0]["status"] == "duplicate"


def test_given_a_batch_with_a_conflicting_id_when_posted_then_none_of_it_is_recorded(client, runtime):
    post(client, {"event_id": "E-2", "case_id": "C-1", "kind": "ack"})
    batch = {
        "events": [
            {"event_id": "E-3", "case_id": "C-1", "kind": "payment", "amount": "10.00"},
            {"event_id": "E-2", "case_id": "C-1", "kind": "dispute"},
        ]
    }
    assert post(client, batch).status_code == 409
    assert kinds(runtime) == [("ack", None)]


def test_given_a_lender_id_that_looks_like_a_twilio_sid_then_both_events_are_recorded(client, runtime):
    sid = "SM" + "b" * 32
    assert post(client, {"event_id": sid, "case_id": "C-1", "kind": "ack"}).json()[0]["status"] == "recorded"
    assert inbound(client, "ok", sid=sid).status_code == 200
    assert [k for k, _ in kinds(runtime)] == ["ack", "reply"]


def _refuse_opt_outs(runtime) -> None:
    """A store that refuses opt-out rows for a while (a failing disk, a full table)."""
    with runtime.store.write() as conn:
        if runtime.store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 'opt_out' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.kind = 'opt_out' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def _allow_opt_outs(runtime) -> None:
    with runtime.store.write() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER refuse" + ("" if runtime.store.dialect == "sqlite" else " ON events")
        )


def test_given_a_stop_whose_opt_out_fails_when_twilio_retries_then_the_opt_out_is_recorded(client, runtime):
    tick(runtime, NOW)
    _refuse_opt_outs(runtime)
    # The reply and its opt-out are one transaction: the failure records neither, and says so.
    assert inbound(client, "STOP").status_code == 500
    assert kinds(runtime) == []
    _allow_opt_outs(runtime)
    # Twilio retries the same MessageSid: now both land, and the texts stop.
    assert inbound(client, "STOP").status_code == 200
    # On the person and on the number the STOP came from.
    assert kinds(runtime) == [("reply", "sms"), ("opt_out", "sms"), ("opt_out", "sms")]
    with runtime.store.read() as conn:
        assert set(conn.scalars(select(intents.c.state).where(intents.c.channel == "sms"))) == {"cancelled"}


# ------------------------------------------------------------------ channels named loosely


@pytest.mark.parametrize("written", ["SMS", "text", " Sms "])
def test_given_an_opt_out_naming_texts_loosely_then_texts_stop(client, runtime, written):
    tick(runtime, NOW)
    body = {"event_id": "O-1", "case_id": "C-1", "kind": "opt_out", "channel": written}
    assert post(client, body).json()[0]["cancelled"] == 1
    assert kinds(runtime) == [("opt_out", "sms")]
    tick(runtime, NOW + timedelta(minutes=5))
    with runtime.store.read() as conn:
        planned = conn.execute(select(intents.c.channel, intents.c.state)).all()
    # The ladder falls through to the call; no text is planned again.
    assert sorted(planned) == [("sms", "cancelled"), ("voice", "planned")]


def test_given_an_unknown_channel_when_posted_then_422_names_the_field_and_nothing_lands(client, runtime):
    response = post(client, {"event_id": "O-2", "case_id": "C-1", "kind": "opt_out", "channel": "fax"})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "channel"] and "fax" in error["msg"]
    assert kinds(runtime) == []


# ------------------------------------------------------------------ promises


def test_given_a_promise_dated_in_the_past_when_posted_then_422_names_the_date(client, runtime):
    response = post(client, {"event_id": "P-1", "case_id": "C-1", "kind": "promise", "date": "2026-11-30"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "date"]
    assert kinds(runtime) == []


def test_given_a_promise_beyond_the_horizon_then_the_ladder_pauses_only_as_for_a_reply(client, runtime):
    tick(runtime, NOW)
    far = {"event_id": "P-2", "case_id": "C-1", "kind": "promise", "date": "2027-06-30"}
    assert post(client, far).status_code == 200
    tick(runtime, NOW + timedelta(minutes=1))
    with runtime.store.read() as conn:
        row = conn.execute(
            select(cases.c.status, cases.c.next_check_at).where(cases.c.case_id == "C-1")
        ).one()
    # Not silence until June: the reply pause (the step's wait, 2 days), then the same level again.
    assert row.status == "open"
    assert row.next_check_at <= NOW + timedelta(days=2, minutes=1)


def test_given_a_reply_promising_a_far_year_then_every_tick_still_decides_the_portfolio(client, runtime):
    with runtime.store.write() as conn:
        runtime.store.upsert_cases(
            conn, [make_case(case_id="C-2", debtor_id="D-2", phone="+8613900139002")], NOW
        )
    assert inbound(client, "我9999年12月31日还").status_code == 200
    report = tick(runtime, NOW + timedelta(minutes=1))
    assert report.cases == 2 and report.quarantined == 0


# ------------------------------------------------------------------ Twilio's own opt-out keywords


def test_given_twilio_handled_stop_then_start_when_received_then_texts_resume_with_no_second_confirmation(
    client, runtime
):
    tick(runtime, NOW)
    assert inbound(client, "STOP", sid="SM" + "1" * 32, OptOutType="STOP").status_code == 200
    # Twilio's Advanced Opt-Out confirmed it: no confirmation of ours (one only is allowed).
    with runtime.store.read() as conn:
        assert conn.execute(select(outbox_messages)).first() is None
    runtime.clock_cell[0] = NOW + timedelta(hours=1)
    assert inbound(client, "START", sid="SM" + "2" * 32, OptOutType="START").status_code == 200
    assert kinds(runtime) == [
        ("reply", "sms"),
        ("opt_out", "sms"),
        ("opt_out", "sms"),
        ("opt_in", "sms"),
        ("opt_in", "sms"),
    ]
    tick(runtime, NOW + timedelta(days=3))
    with runtime.store.read() as conn:
        sms = conn.execute(select(intents.c.state).where(intents.c.channel == "sms")).scalars().all()
    assert "planned" in sms  # texts go out again after START


@pytest.mark.parametrize("provider_answered", [True, False])
def test_given_help_when_received_then_it_is_answered_and_the_ladder_does_not_pause(
    client, runtime, provider_answered
):
    tick(runtime, NOW)
    with runtime.store.read() as conn:
        before = conn.execute(select(intents.c.state)).scalars().all()
    extra = {"OptOutType": "HELP"} if provider_answered else {}
    response = inbound(client, "HELP", **extra)
    assert response.status_code == 200
    if provider_answered:
        assert "<Message>" not in response.text  # Twilio answered HELP itself
    else:
        assert "<Message>" in response.text and "回T退订" in response.text
    assert kinds(runtime) == [("help", "sms")]
    tick(runtime, NOW + timedelta(minutes=1))
    with runtime.store.read() as conn:
        assert conn.execute(select(intents.c.state)).scalars().all() == before  # nothing withdrawn
        row = conn.execute(select(cases.c.next_check_at).where(cases.c.case_id == "C-1")).one()
    assert row.next_check_at >= NOW + timedelta(days=1)  # the step's wait still runs, no new pause


def test_promise_horizon_bounds_are_checked(make_policy):
    with pytest.raises(AssertionError, match="promise_horizon"):
        make_policy(POLICY.replace("promise_horizon: 30d", "promise_horizon: 5000d"))
    assert make_policy(POLICY).responses.promise_horizon == timedelta(days=30)
