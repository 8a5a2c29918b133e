"""The work queue through the API: cases held for a person, claimed, assigned and resolved.

Run on SQLite and PostgreSQL. The agents are API tokens with names
(``alice:…``, ``bob:…``); what they do lands on the case's timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.core.api import create_app
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import intents
from dunning.testing.api import bearer
from dunning.testing.factories import make_case

POLICY = """
name: queue
preset: none
segments:
  - {name: short, when: "'short' in tags", ladder: brief}
  - {name: all, ladder: l}
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: voice, template: overdue_call, wait: 2d}
  brief:
    steps:
      - {channel: sms, template: overdue_notice, wait: 1d}
    then: handoff
queue:
  sla: {dispute: 2d, handoff: 4h}
"""
ALICE, BOB, PLAIN = "alice-token", "bob-token", "plain-token"
PUBLIC = "https://dunning.example.com"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def runtime(tmp_path, database_url):
    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        api_tokens=[f"alice:{ALICE}", f"bob:{BOB}", PLAIN],
        public_url=PUBLIC,
    )
    clock = [NOW]
    rt = build_runtime(settings, clock=lambda: clock[0], dry_run=True)
    rt.clock_cell = clock  # type: ignore[attr-defined]
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn,
            [
                make_case(case_id="C-1", debtor_id="D-1", phone="+8613800131111"),
                make_case(case_id="C-2", debtor_id="D-2", phone="+8613900132222"),
                make_case(case_id="C-3", debtor_id="D-3", phone="+8613700133333", tags=("short",)),
            ],
            NOW - timedelta(days=1),
        )
    yield rt
    rt.close()


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime), base_url=PUBLIC) as c:
        yield c


def dispute(client, case_id: str, event_id: str = "d-1") -> None:
    body = {"event_id": event_id, "case_id": case_id, "kind": "dispute", "text": "not my loan"}
    assert client.post("/v1/events", json=body, headers=bearer(PLAIN)).status_code == 200


def queue(client, **params) -> list[dict]:
    response = client.get("/v1/queue", params=params, headers=bearer(ALICE))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def pending(runtime, case_id: str) -> list[str]:
    with runtime.store.read() as conn:
        return list(
            conn.scalars(
                select(intents.c.state).where(
                    intents.c.case_id == case_id, intents.c.state.in_(["planned", "enqueued"])
                )
            )
        )


def timeline(client, case_id: str) -> list[dict]:
    return client.get(f"/v1/cases/{case_id}/timeline", headers=bearer(ALICE)).json()


def test_given_a_disputed_case_when_the_scheduler_ticks_then_it_waits_in_the_queue_with_its_sla(
    client, runtime
):
    # Given a dispute recorded by the lender's system
    tick(runtime, NOW)
    dispute(client, "C-1")
    # When the scheduler decides the case
    tick(runtime, NOW)
    # Then the queue shows it, with its reason, since when and the policy's SLA for disputes
    (item,) = queue(client)
    assert item["case_id"] == "C-1" and item["reason"] == "dispute" and item["state"] == "open"
    assert item["owner"] is None and item["overdue"] is False
    assert item["sla_due"].startswith((NOW + timedelta(days=2)).isoformat()[:16])
    assert item["phone"] == "+86*******1111"
    # And the case says why it is held, and since when
    case = client.get("/v1/cases/C-1", headers=bearer(ALICE)).json()
    assert (case["status"], case["hold_reason"]) == ("held", "dispute")
    assert case["held_since"].startswith(NOW.isoformat()[:16])
    assert case["work_item"]["reason"] == "dispute"


def test_given_a_ladder_ending_in_handoff_then_its_item_gets_the_handoff_sla_and_a_resume_runs_it_again(
    client, runtime
):
    # Given a case whose one-step ladder ends with a hand-off, its text sent (a dry run records it)
    runner = Embedded(runtime, threads=1)
    runner.start()
    try:
        runner.step()
        runtime.clock_cell[0] = NOW + timedelta(days=1, hours=1)
        runner.step()
    finally:
        runner.stop()
    (item,) = queue(client, reason="handoff")
    assert item["case_id"] == "C-3"
    assert item["sla_due"].startswith((runtime.clock_cell[0] + timedelta(hours=4)).isoformat()[:16])
    # When an agent resumes it
    response = client.post("/v1/cases/C-3/resolve", json={"outcome": "resumed"}, headers=bearer(ALICE))
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "resolved" and response.json()["resolved_by"] == "alice"
    # Then the ladder runs again: the next tick plans a reminder, and the queue is empty
    tick(runtime, runtime.clock_cell[0])
    assert pending(runtime, "C-3")
    assert queue(client) == []


def test_given_an_item_claimed_by_alice_then_bob_cannot_claim_it_but_may_be_assigned_it(client, runtime):
    dispute(client, "C-1")
    tick(runtime, NOW)
    # When alice claims it, she owns it
    claimed = client.post("/v1/cases/C-1/claim", headers=bearer(ALICE))
    assert claimed.status_code == 200 and claimed.json()["owner"] == "alice"
    assert claimed.json()["state"] == "claimed"
    # Then bob's claim is refused as problem details, and nothing changes
    refused = client.post("/v1/cases/C-1/claim", headers=bearer(BOB))
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "already claimed by alice" in refused.json()["detail"]
    assert queue(client, owner="alice")[0]["case_id"] == "C-1"
    # But bob may be assigned it (by a supervisor token), and the queue filters by owner
    moved = client.post("/v1/cases/C-1/assign", json={"owner": "bob"}, headers=bearer(PLAIN))
    assert moved.status_code == 200 and moved.json()["owner"] == "bob"
    assert queue(client, owner="alice") == [] and len(queue(client, owner="bob")) == 1
    # And every action is on the timeline with who did it
    actions = [(e["action"], e.get("detail", {}).get("actor")) for e in timeline(client, "C-1")]
    assert ("claim", "alice") in actions and ("assign", "api") in actions


def test_given_a_disputed_case_when_written_off_then_it_is_closed_for_good(client, runtime):
    tick(runtime, NOW)
    dispute(client, "C-1")
    tick(runtime, NOW)
    # When an agent resolves it as written off, with a note
    body = {"outcome": "written_off", "note": "debtor deceased, per family"}
    response = client.post("/v1/cases/C-1/resolve", json=body, headers=bearer(ALICE))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "written_off"
    # Then the case is closed with its outcome, nothing is pending, and it is out of the queue
    case = client.get("/v1/cases/C-1", headers=bearer(ALICE)).json()
    assert (case["status"], case["outcome"], case["hold_reason"]) == ("closed", "written_off", None)
    assert pending(runtime, "C-1") == [] and queue(client) == []
    # And no later tick or event reopens it
    runtime.clock_cell[0] = NOW + timedelta(days=5)
    tick(runtime, runtime.clock_cell[0])
    assert pending(runtime, "C-1") == []
    assert client.get("/v1/cases/C-1", headers=bearer(ALICE)).json()["status"] == "closed"
    # And the timeline shows the resolution, the note and the closing, each with the agent
    entries = {(e["action"], e.get("detail", {}).get("actor")) for e in timeline(client, "C-1")}
    assert {("resolve", "alice"), ("note", "alice"), ("close", "alice")} <= entries


def test_given_a_dispute_resolved_with_a_promise_then_the_ladder_waits_for_the_promised_day(client, runtime):
    dispute(client, "C-1")
    tick(runtime, NOW)
    runtime.clock_cell[0] = NOW + timedelta(minutes=20)  # the agent calls the debtor back
    day = (NOW + timedelta(days=3)).date().isoformat()
    response = client.post(
        "/v1/cases/C-1/resolve", json={"outcome": "promise", "date": day}, headers=bearer(ALICE)
    )
    assert response.status_code == 200, response.text
    tick(runtime, runtime.clock_cell[0])
    case = client.get("/v1/cases/C-1", headers=bearer(ALICE)).json()
    # Then the case waits for the promise (held, but not for a person), and nothing is sent meanwhile
    assert (case["status"], case["hold_reason"], case["work_item"]) == ("held", None, None)
    assert pending(runtime, "C-1") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "promise"}, "date"),
        ({"outcome": "promise", "date": "2026-11-01"}, "date"),
        ({"outcome": "arrangement", "date": "2027-12-01"}, "date"),
        ({"outcome": "opted_out", "channel": "fax"}, "channel"),
        ({"outcome": "maybe"}, "outcome"),
    ],
)
def test_given_a_bad_resolution_then_422_names_the_field_and_the_item_stays_open(
    client, runtime, body, field
):
    dispute(client, "C-1")
    tick(runtime, NOW)
    response = client.post("/v1/cases/C-1/resolve", json=body, headers=bearer(ALICE))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert queue(client)[0]["state"] == "open"


def test_given_a_case_not_held_then_claiming_or_resolving_it_is_a_conflict_and_an_unknown_case_404(
    client, runtime
):
    tick(runtime, NOW)
    for path in ("/v1/cases/C-2/claim", "/v1/cases/C-2/resolve"):
        response = client.post(path, json={"outcome": "resumed"}, headers=bearer(ALICE))
        assert response.status_code == 409, response.text
        assert "not in the work queue" in response.json()["detail"]
    missing = client.post("/v1/cases/NOPE/claim", headers=bearer(ALICE))
    assert missing.status_code == 404 and missing.json()["title"] == "Not Found"
    # And nothing was recorded for the refused actions
    assert not [e for e in timeline(client, "C-2") if e["kind"] == "event"]


def test_given_the_sla_passes_then_the_item_is_overdue_and_the_overdue_filter_finds_it(client, runtime):
    dispute(client, "C-1")
    tick(runtime, NOW)
    assert queue(client, overdue="true") == []
    runtime.clock_cell[0] = NOW + timedelta(days=2, minutes=1)
    (item,) = queue(client, overdue="true")
    assert item["case_id"] == "C-1" and item["overdue"] is True


def test_given_a_paid_held_case_then_its_item_is_released_as_paid(client, runtime):
    dispute(client, "C-1")
    tick(runtime, NOW)
    body = {"event_id": "p-1", "case_id": "C-1", "kind": "payment"}
    assert client.post("/v1/events", json=body, headers=bearer(PLAIN)).json()[0]["case_status"] == "paid"
    assert queue(client) == []
    case = client.get("/v1/cases/C-1", headers=bearer(ALICE)).json()
    assert (case["status"], case["hold_reason"]) == ("paid", None)


def test_cases_are_listed_and_searched_with_a_stable_cursor(client, runtime):
    dispute(client, "C-2")
    tick(runtime, NOW)

    def ids(**params) -> list[str]:
        response = client.get("/v1/cases", params=params, headers=bearer(ALICE))
        assert response.status_code == 200, response.text
        return [c["case_id"] for c in response.json()["items"]]

    # By the last digits of a phone, status, hold reason, debtor and case id
    assert ids(phone_last="2222") == ["C-2"]
    assert ids(status="held") == ["C-2"] and ids(hold_reason="dispute") == ["C-2"]
    assert ids(debtor_id="D-3") == ["C-3"] and ids(case_id="C-1") == ["C-1"]
    # Paged one at a time, every case comes once, in order
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/cases", params=params, headers=bearer(ALICE)).json()
        seen += [c["case_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["C-1", "C-2", "C-3"]
    # And the phone is masked in the list
    listed = client.get("/v1/cases", params={"case_id": "C-2"}, headers=bearer(ALICE)).json()
    assert listed["items"][0]["phone"] == "+86*******2222"


@pytest.mark.parametrize(
    ("params", "field"), [({"cursor": "garbage!"}, "cursor"), ({"phone_last": "12ab"}, "phone_last")]
)
def test_bad_list_parameters_are_a_422_naming_the_parameter(client, params, field):
    response = client.get("/v1/cases", params=params, headers=bearer(ALICE))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_the_openapi_description_names_every_operation_and_tags_it_by_resource(client):
    schema = client.get("/openapi.json").json()
    operations = {
        op["operationId"]: op.get("tags", []) for path in schema["paths"].values() for op in path.values()
    }
    assert {"list_cases", "list_queue", "claim_case", "assign_case", "add_case_note", "resolve_case"} <= set(
        operations
    )
    assert operations["list_queue"] == ["queue"] and operations["list_cases"] == ["cases"]
    assert all(tags for tags in operations.values())
