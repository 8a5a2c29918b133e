"""Schemathesis fuzzes the HTTP API from its own OpenAPI description.

Given the API over a store with two cases and their planned reminders, when
schema-driven requests (valid and deliberately invalid) reach every lender
operation with the bearer token, then no request gets a 500, every status
code and body is the documented one, invalid data is refused with a 4xx, a
422 names the offending field, a refused request records nothing, and the
same request without the token is refused (schemathesis' ``ignored_auth``).
The requests that got a 500 before this file's fixes are kept in ``FOUND``.
Twilio's webhooks are left out of the schema-driven part: they take form
posts signed by Twilio, so they are fuzzed here with unsigned or mis-signed
forms, which must all get 403 and change nothing.

Schemathesis 4's pytest loaders need the app at import time (or its lazy
loader, which does not run under pytest 9), so each operation's Hypothesis
strategy is taken from the schema and run with ``@given`` here; requests go
to the app in-process through schemathesis' ASGI transport. The run is
deterministic (``derandomize``) and bounded by ``EXAMPLES`` per operation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from dunning.core.api import create_app
from dunning.core.runtime import Runtime, build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import cases, events, intents
from dunning.testing.factories import make_case

POLICY = """
name: fuzz
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: voice, template: overdue_call, wait: 2d}
responses: {keypress: {"1": promise, "2": handoff}, promise_days: 3, promise_grace: 1d}
"""
TOKEN = "fuzz-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TWILIO_TOKEN = "fuzz-twilio-token"
PUBLIC = "http://testserver"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
SEEDED = ("C-1", "C-2")
#: Hypothesis examples per operation and generation mode: enough to find the bugs this file
#: was written against, small enough that the file runs in seconds on both backends.
EXAMPLES = 30

#: Every lender-facing operation, with the generation modes that can produce its inputs
#: (the health checks take none, so they have no invalid form).
OPERATIONS = [
    ("POST", "/v1/events", GenerationMode.POSITIVE),
    ("POST", "/v1/events", GenerationMode.NEGATIVE),
    ("POST", "/v1/cases", GenerationMode.POSITIVE),
    ("POST", "/v1/cases", GenerationMode.NEGATIVE),
    ("POST", "/v1/push/ack", GenerationMode.POSITIVE),
    ("POST", "/v1/push/ack", GenerationMode.NEGATIVE),
    ("GET", "/v1/cases/{case_id}", GenerationMode.POSITIVE),
    ("GET", "/v1/cases/{case_id}", GenerationMode.NEGATIVE),
    ("GET", "/v1/cases/{case_id}/timeline", GenerationMode.POSITIVE),
    ("GET", "/v1/cases/{case_id}/timeline", GenerationMode.NEGATIVE),
    ("GET", "/v1/debtors/{debtor_id}", GenerationMode.POSITIVE),
    ("GET", "/v1/debtors/{debtor_id}", GenerationMode.NEGATIVE),
    ("GET", "/v1/cases", GenerationMode.POSITIVE),
    ("GET", "/v1/cases", GenerationMode.NEGATIVE),
    ("GET", "/v1/queue", GenerationMode.POSITIVE),
    ("GET", "/v1/queue", GenerationMode.NEGATIVE),
    ("POST", "/v1/cases/{case_id}/claim", GenerationMode.POSITIVE),
    ("POST", "/v1/cases/{case_id}/claim", GenerationMode.NEGATIVE),
    ("POST", "/v1/cases/{case_id}/assign", GenerationMode.POSITIVE),
    ("POST", "/v1/cases/{case_id}/assign", GenerationMode.NEGATIVE),
    ("POST", "/v1/cases/{case_id}/notes", GenerationMode.POSITIVE),
    ("POST", "/v1/cases/{case_id}/notes", GenerationMode.NEGATIVE),
    ("POST", "/v1/cases/{case_id}/resolve", GenerationMode.POSITIVE),
    ("POST", "/v1/cases/{case_id}/resolve", GenerationMode.NEGATIVE),
    ("GET", "/healthz", GenerationMode.POSITIVE),
    ("GET", "/livez", GenerationMode.POSITIVE),
    ("GET", "/readyz", GenerationMode.POSITIVE),
]
WEBHOOKS = [
    "/webhooks/twilio/sms/status",
    "/webhooks/twilio/sms/inbound",
    "/webhooks/twilio/voice/status",
    "/webhooks/twilio/voice/gather",
    "/webhooks/twilio/voice/dial",
]
TWILIO_FIELDS = (
    "MessageSid",
    "MessageStatus",
    "ErrorCode",
    "From",
    "To",
    "Body",
    "CallSid",
    "CallStatus",
    "AnsweredBy",
    "Digits",
    "DialCallStatus",
    "DialCallDuration",
    "AccountSid",
)

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # Function-scoped fixtures are shared by the examples on purpose: the store accumulates.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def runtime(tmp_path, database_url) -> Iterator[Runtime]:
    (tmp_path / "p.yaml").write_text(POLICY)
    settings_ = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        api_tokens=[TOKEN],
        public_url=PUBLIC,
        twilio_auth_token=TWILIO_TOKEN,
    )
    rt = build_runtime(settings_, clock=lambda: NOW, dry_run=True)
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn,
            [
                make_case(case_id="C-1", debtor_id="D-1"),
                make_case(case_id="C-2", debtor_id="D-2", phone="+8613900139002"),
            ],
            NOW - timedelta(days=1),
        )
    tick(rt, NOW)  # the first reminders are planned (the dry run keeps them pending)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
def api_schema(app: FastAPI) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261202,
            "generation": {"deterministic": True, "database": "none", "max-examples": EXAMPLES},
            # The schema cannot say that a case must exist or that a phone number must parse:
            # a schema-valid body may rightly be refused with 422, or 409 when it reuses an event id
            # for another event (never with a 5xx or a 400).
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}},
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def intent_ids(rt: Runtime) -> list[str]:
    with rt.store.read() as conn:
        return sorted(conn.scalars(select(intents.c.intent_id)))


def snapshot(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a request could record: events, cases and the state of every reminder."""
    with rt.store.read() as conn:
        return {
            "events": [tuple(r) for r in conn.execute(select(events).order_by(events.c.id))],
            "cases": [tuple(r) for r in conn.execute(select(cases).order_by(cases.c.case_id))],
            "intents": [
                tuple(r)
                for r in conn.execute(
                    select(intents.c.intent_id, intents.c.state, intents.c.reason).order_by(
                        intents.c.intent_id
                    )
                )
            ],
        }


def _plausible(value: Any) -> bool:
    """An id the schema accepts (so replacing it cannot turn an invalid example into a valid one)."""
    return isinstance(value, str) and 0 < len(value) <= 64 and "\x00" not in value


def aim(case: Any, pick: int, known_cases: list[str], known_intents: list[str]) -> None:
    """Point some schema-valid ids at seeded cases and intents, so examples reach past the
    unknown-case check into recording. Only a plausible id is replaced, so an example that is
    invalid stays invalid (its mutation was elsewhere, or on that id and is kept)."""
    if pick >= len(known_cases):
        return
    if "case_id" in (case.path_parameters or {}) and _plausible(case.path_parameters["case_id"]):
        case.path_parameters["case_id"] = known_cases[pick]
    if "debtor_id" in (case.path_parameters or {}) and _plausible(case.path_parameters["debtor_id"]):
        case.path_parameters["debtor_id"] = f"D-{known_cases[pick].removeprefix('C-')}"
    body = case.body
    items = body.get("events") or body.get("cases") if isinstance(body, dict) else None
    for item in [body, *(items if isinstance(items, list) else [])]:
        if not isinstance(item, dict):
            continue
        if _plausible(item.get("case_id")):
            item["case_id"] = known_cases[pick]
        if _plausible(item.get("intent_id")) and known_intents:
            item["intent_id"] = known_intents[pick % len(known_intents)]


def assert_names_the_field(response: Any) -> None:
    """A 422 is problem details listing each problem with its location: where it is and which field."""
    media = response.headers["content-type"]
    media = media[0] if isinstance(media, list) else media  # schemathesis keeps every value of a header
    assert media.startswith("application/problem+json"), response.text
    errors = response.json()["errors"]
    assert isinstance(errors, list) and errors, response.text
    for problem in errors:
        loc = problem["loc"]
        assert loc and loc[0] in ("body", "path", "query", "header"), response.text
        assert problem["msg"], response.text


def test_the_fuzzed_operations_are_every_lender_operation(api_schema):
    """Given the API's schema, then every operation but Twilio's webhooks is fuzzed below."""
    described = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    lender = {(method, path) for method, path in described if not path.startswith("/webhooks/")}
    assert lender == {(method, path) for method, path, _ in OPERATIONS}
    assert {(method, path) for method, path, mode in OPERATIONS if mode == GenerationMode.NEGATIVE} == {
        (method, path) for method, path in lender if path not in ("/healthz", "/livez", "/readyz")
    }
    assert {path for _, path in described if path.startswith("/webhooks/")} == set(WEBHOOKS)


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS, ids=lambda v: str(v))
def test_fuzzed_requests_never_fail_the_server_and_refusals_record_nothing(
    api_schema, runtime, method, path, mode
):
    operation = api_schema[path][method]
    known_intents = intent_ids(runtime)
    assert known_intents

    @FUZZ
    @given(case=operation.as_strategy(mode), pick=st.integers(0, len(SEEDED)))
    def fuzz(case: Any, pick: int) -> None:
        aim(case, pick, list(SEEDED), known_intents)
        before = snapshot(runtime)
        response = case.call(headers=AUTH)
        # No 500, documented status codes and bodies, invalid data refused, auth enforced.
        # A query parameter generated as null is not sent at all: what arrives may be valid.
        dropped = any(value is None for value in (case.query or {}).values())
        excluded = [negative_data_rejection] if dropped else []
        case.validate_response(response, headers=AUTH, excluded_checks=excluded)
        if response.status_code == 422:
            assert_names_the_field(response)
        if 400 <= response.status_code < 500:
            assert snapshot(runtime) == before, f"{response.status_code} yet something was recorded"

    fuzz()


#: Requests that got a 500 before the fixes that came with this file: what each was, then the
#: request (``INTENT`` stands for a planned reminder's id) and the field its 422 must name.
FOUND = [
    (
        "a time whose UTC form falls before year 1 (OverflowError)",
        "POST",
        "/v1/events",
        {"events": [{"event_id": "r-1", "case_id": "C-1", "kind": "ack", "at": "0001-01-01T00:00:00+00:01"}]},
        "at",
    ),
    (
        "NUL in an id (PostgreSQL refuses NUL in text)",
        "POST",
        "/v1/events",
        {"event_id": "\x00r", "case_id": "C-2", "kind": "opt_out"},
        "event_id",
    ),
    ("NUL in a push acknowledgement", "POST", "/v1/push/ack", {"intent_id": "\x00"}, "intent_id"),
    (
        "an empty event id on a push acknowledgement (the second broke the unique index)",
        "POST",
        "/v1/push/ack",
        {"intent_id": "INTENT", "event_id": ""},
        "event_id",
    ),
    (
        "a push acknowledgement time without a UTC offset (it could not be stored)",
        "POST",
        "/v1/push/ack",
        {"intent_id": "INTENT", "at": "2026-12-02T10:00:00"},
        "at",
    ),
    (
        "a Unix time where ISO 8601 text is documented (it was taken as a 1990 date)",
        "POST",
        "/v1/events",
        {"event_id": "r-2", "case_id": "C-1", "kind": "payment", "at": 651216867},
        "at",
    ),
    (
        "an unpaired surrogate (the 422 that echoed it could not be encoded)",
        "POST",
        "/v1/events",
        {"event_id": "r-3", "case_id": "C-1", "kind": "reply", "text": "\ud800"},
        "text",
    ),
    (
        "a reply on 31 December 9999 (the promise date it implies overflowed)",
        "POST",
        "/v1/events",
        {
            "event_id": "r-4",
            "case_id": "C-1",
            "kind": "reply",
            "text": "明天还",
            "at": "9999-12-31T23:00:00Z",
        },
        "at",
    ),
    ("NUL in a case id in the path (PostgreSQL)", "GET", "/v1/cases/C%00-1", None, "case_id"),
]


@pytest.mark.parametrize(("what", "method", "path", "body", "field"), FOUND, ids=[f[0] for f in FOUND])
def test_inputs_that_once_failed_the_server_are_refused_by_name(
    app, runtime, what, method, path, body, field
):
    """Given a request that used to get a 500, when it is sent (twice), then a 422 names the field."""
    intent = intent_ids(runtime)[0]
    content = json.dumps(body).replace('"INTENT"', json.dumps(intent)) if body is not None else None
    before = snapshot(runtime)
    with TestClient(app, base_url=PUBLIC) as client:
        for _ in range(2):
            headers = {**AUTH, "Content-Type": "application/json"}
            response = client.request(method, path, content=content, headers=headers)
            assert response.status_code == 422, f"{what}: {response.status_code} {response.text}"
            assert any(field in problem["loc"] for problem in response.json()["errors"]), response.text
    assert snapshot(runtime) == before


@pytest.mark.parametrize("path", WEBHOOKS)
def test_unsigned_or_mis_signed_webhooks_get_403_and_change_nothing(app, runtime, path):
    forged = RequestValidator("not-the-twilio-token")
    known = intent_ids(runtime)

    @FUZZ
    @given(
        form=st.dictionaries(st.sampled_from(TWILIO_FIELDS) | st.text(max_size=12), st.text(max_size=40)),
        signature=st.none() | st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
        other_token=st.booleans(),
        intent=st.none() | st.sampled_from(known) | st.text(max_size=20),
        raw=st.none() | st.binary(max_size=64),
    )
    def fuzz(
        form: dict[str, str], signature: str | None, other_token: bool, intent: str | None, raw: bytes | None
    ) -> None:
        target = path + (f"?intent_id={quote(intent, safe='')}" if intent is not None else "")
        if other_token:  # a well-formed signature, made with someone else's token
            signature = forged.compute_signature(PUBLIC + target, form)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        before = snapshot(runtime)
        response = client.post(target, content=raw if raw is not None else urlencode(form), headers=headers)
        assert response.status_code == 403, response.text
        assert snapshot(runtime) == before

    with TestClient(app, base_url=PUBLIC) as client:
        fuzz()
