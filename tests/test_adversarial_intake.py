"""Adversarial intake: whatever a debtor texts, a provider posts or a lender's system sends.

Hypothesis drives *signed* Twilio webhooks with arbitrary form fields and
bodies, and the events API with hostile but well-formed bodies (reused ids,
dates at the edges of the calendar, loosely named channels, odd text). The
promises: no 5xx, nothing half-recorded, no personal data echoed in an
error, and the portfolio still ticks afterwards without a case failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dunning.core.api import create_app
from dunning.core.runtime import Runtime, build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import events
from dunning.testing.api import bearer, post_signed_form
from dunning.testing.factories import make_case

POLICY = """
name: adversarial
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: voice, template: overdue_call, wait: 2d}
"""
TOKEN = "adv-token"
AUTH = "adv-twilio"
PUBLIC = "http://testserver"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
PHONES = ("+8613800138000", "+8613900139002")
NAMES = ("王芳", "李雷")
RUN = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def runtime(tmp_path, database_url) -> Iterator[Runtime]:
    (tmp_path / "p.yaml").write_text(POLICY)
    config = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        api_tokens=[TOKEN],
        public_url=PUBLIC,
        twilio_auth_token=AUTH,
    )
    rt = build_runtime(config, clock=lambda: NOW, dry_run=True)
    with rt.store.write() as conn:
        seeded = [
            make_case(case_id="C-1", debtor_id="D-1", name=NAMES[0], phone=PHONES[0]),
            make_case(case_id="C-2", debtor_id="D-2", name=NAMES[1], phone=PHONES[1]),
        ]
        rt.store.upsert_cases(conn, seeded, NOW - timedelta(days=1))
    tick(rt, NOW)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), base_url=PUBLIC, raise_server_exceptions=False) as c:
        yield c


def _still_ticks(rt: Runtime) -> None:
    report = tick(rt, NOW + timedelta(days=3))
    assert report.quarantined == 0, report


#: What a handset or a provider can put in a form field: any text, keywords, digits, dates.
FIELD = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        ["STOP", "START", "HELP", "退订", "T", "明天还", "我9999年1月1日还", "已还款", "不是我的"]
    ),
    st.from_regex(r"\+?[0-9]{0,20}", fullmatch=True),
    st.sampled_from(["delivered", "undelivered", "failed", "completed", "busy", "no-answer", "", "bogus"]),
)
FORMS = st.fixed_dictionaries(
    {},
    optional={
        "MessageSid": st.one_of(st.just("SM" + "c" * 32), st.text(max_size=40)),
        "CallSid": st.text(max_size=40),
        "From": st.one_of(st.sampled_from(PHONES), FIELD),
        "To": FIELD,
        "Body": FIELD,
        "MessageStatus": FIELD,
        "CallStatus": FIELD,
        "ErrorCode": FIELD,
        "AnsweredBy": FIELD,
        "Digits": FIELD,
        "OptOutType": st.sampled_from(["STOP", "START", "HELP", "stop", "", "UNKNOWN"]),
    },
)
PATHS = st.sampled_from(
    [
        "/webhooks/twilio/sms/inbound",
        "/webhooks/twilio/sms/status",
        "/webhooks/twilio/voice/status",
        "/webhooks/twilio/voice/gather",
        "/webhooks/twilio/voice/gather?intent_id=nope",
    ]
)


def _clean(form: dict[str, str]) -> dict[str, str]:
    # Form encoding cannot carry lone surrogates; everything else goes as typed.
    return {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in form.items()}


@given(path=PATHS, form=FORMS)
@RUN
def test_signed_webhooks_with_any_content_never_fail_the_server(client, runtime, path, form):
    response = post_signed_form(client, PUBLIC, path, _clean(form), AUTH)
    assert response.status_code < 500, (path, form, response.text[:300])
    if path.endswith(("inbound", "gather", "nope")):
        assert response.headers["content-type"].startswith(("application/xml", "text/xml"))


@given(path=PATHS, form=FORMS)
@RUN
def test_after_any_webhooks_the_portfolio_still_ticks(client, runtime, path, form):
    post_signed_form(client, PUBLIC, path, _clean(form), AUTH)
    _still_ticks(runtime)


#: Event bodies that pass the schema's shape but probe the meaning.
EVENTS = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(["E-1", "E-2", "SM" + "c" * 32, "x" * 128]),
        "case_id": st.sampled_from(["C-1", "C-2"]),
        "kind": st.sampled_from(["payment", "promise", "dispute", "opt_out", "ack", "reply", "resume"]),
    },
    optional={
        "amount": st.sampled_from(["0.01", "1", "3200.00", "9999999999999999.9999", "1e3"]),
        "full": st.booleans(),
        "date": st.sampled_from(["2026-12-01", "2026-12-02", "2026-12-31", "2027-06-01", "2999-12-31"]),
        "channel": st.sampled_from(["sms", "SMS", "text", "voice", "call", "push", "all", "fax", "", "邮件"]),
        "text": FIELD,
        "at": st.sampled_from(
            ["2026-12-02T03:00:00Z", "1900-01-01T00:00:00+14:00", "2999-12-31T23:59:59-12:00"]
        ),
    },
)


@given(body=st.one_of(EVENTS, st.lists(EVENTS, min_size=1, max_size=4).map(lambda b: {"events": b})))
@RUN
def test_hostile_event_bodies_are_recorded_whole_or_refused_whole(client, runtime, body):
    with runtime.store.read() as conn:
        before = conn.scalar(select(func.count()).select_from(events))
    response = client.post("/v1/events", json=body, headers=bearer(TOKEN))
    assert response.status_code in (200, 409, 422), response.text[:300]
    with runtime.store.read() as conn:
        after = conn.scalar(select(func.count()).select_from(events))
    if response.status_code != 200:
        assert after == before  # a refusal records nothing
        text = response.text
        assert not any(p in text for p in PHONES) and not any(n in text for n in NAMES)
    else:
        assert all(r["status"] in ("recorded", "duplicate") for r in response.json())
    _still_ticks(runtime)


def _raw(text: str) -> Any:
    return text


@pytest.mark.parametrize(
    "raw",
    [
        '{"event_id":"N","case_id":"C-1","kind":"payment","amount":NaN}',
        '{"event_id":"N","case_id":"C-1","kind":"payment","amount":Infinity}',
        '{"event_id":"N","case_id":"C-1","kind":"payment","amount":-Infinity}',
        '{"event_id":"N","case_id":"C-1","kind":"payment","amount":1e309}',
        '{"event_id":"N","case_id":"C-1","kind":"payment","amount":1' + "0" * 400 + "}",
        '{"events":[' + ",".join(['{"event_id":"N","case_id":"C-1","kind":"ack"}'] * 2000) + "]}",
        "[" * 5000 + "]" * 5000,
    ],
    ids=["nan", "inf", "-inf", "1e309", "400-digits", "2000-events", "deep-nesting"],
)
def test_numbers_json_cannot_hold_are_a_422_not_a_500(client, runtime, raw):
    response = client.post(
        "/v1/events", content=raw, headers={**bearer(TOKEN), "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text[:300]
    with runtime.store.read() as conn:
        assert conn.scalar(select(func.count()).select_from(events)) == 0
