"""Any imported attribute: a lender's own columns, typed by the policy, for conditions and templates.

A strategist declares ``attributes: {score: number, band: text, last_login:
date, vip: boolean}``. What they and the lender rely on: the import and the
API check each value against its type (a bad one names its line and column,
or its field), store it with the case, and keep it across re-imports that do
not carry it; conditions, priority and templates read it typed; a case
without a value has none; ``policy check`` refuses a name no one declared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.core.api import create_app
from dunning.core.content.templating import TemplateLibrary, render_context
from dunning.core.domain.engine import decide
from dunning.core.domain.model import History
from dunning.core.domain.situation import facts_for
from dunning.core.intake.importer import import_file
from dunning.core.policy.compile import check_policy
from dunning.core.runtime import build_runtime
from dunning.core.runtime.delivery import deliver
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store import open_store
from dunning.core.store.schema import intents, outbox_messages
from dunning.testing.factories import make_case

POLICY = """\
name: attributes
preset: none
attributes: {score: number, band: text, last_login: date, vip: boolean}
priority: "score if score is not none else 0"
segments:
  - {name: vip, when: "vip", ladder: l}
  - {name: dormant, when: "last_login is not none and today - last_login > 30", ladder: l}
  - {name: risky, when: "score is not none and score < 600 and band in ['C', 'D']", ladder: l}
  - {name: default, ladder: l}
ladders:
  l:
    steps: [{channel: sms, template: overdue_notice, wait: 2d}]
"""
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
TOKEN = "t0ken"
HEADER = "case_id,debtor_id,name,phone,locale,account,amount_due,currency,due_date"


@pytest.fixture
def policy(make_policy):
    return make_policy(POLICY)


def segment_of(policy, **attributes) -> str | None:
    case = make_case(attributes=attributes)
    return decide(case, History(), policy, NOW).segment


# ---------------------------------------------------------------- conditions and priority


def test_conditions_choose_the_segment_by_the_lender_s_attributes_typed(policy):
    # Given cases whose attributes are stored as an import stores them
    assert segment_of(policy, vip=True, score="500", band="C") == "vip"
    assert segment_of(policy, last_login="2026-10-01") == "dormant"  # 62 days before NOW
    assert segment_of(policy, last_login="2026-11-20") == "default"
    assert segment_of(policy, score="580.5", band="D") == "risky"
    assert segment_of(policy, score="720", band="D") == "default"
    # And a case with no value for any of them is none everywhere: the open segment takes it
    assert segment_of(policy) == "default"


def test_priority_reads_an_attribute_and_a_case_without_it_comes_last(policy):
    high = facts_for(make_case(attributes={"score": "812"}), History(), policy, NOW)
    missing = facts_for(make_case(), History(), policy, NOW)
    assert policy.priority.value(high) == Decimal("812")
    assert policy.priority.value(missing) == 0
    assert missing["score"] is None and missing["vip"] is None and missing["today"] == date(2026, 12, 2)


def problems(registry, text: str) -> list[str]:
    found = check_policy(text, file="a.yaml", channels=registry.channel_specs(), presets=registry.presets)
    return [str(p) for p in found]


def test_policy_check_refuses_an_undeclared_or_misused_attribute_at_its_line(registry):
    undeclared = problems(registry, POLICY.replace('when: "vip"', 'when: "gold"'))
    assert any(p.startswith("a.yaml:6: segments[0].when: unknown name gold (known: ") for p in undeclared)
    misused = problems(registry, POLICY.replace('when: "vip"', 'when: "band > 3"'))
    assert (
        "a.yaml:6: segments[0].when: band > 3 compares text with number: write both sides of one kind"
        in misused
    )
    dated = problems(registry, POLICY.replace('when: "vip"', 'when: "last_login > 3"'))
    assert any("last_login > 3 compares date with number" in p for p in dated)
    unguarded = problems(registry, POLICY.replace("last_login is not none and ", ""))
    assert any(p.startswith("a.yaml:7: warning: segments[1].when: today - last_login") for p in unguarded)


def test_policy_check_refuses_attribute_names_and_types_it_cannot_use(registry):
    text = POLICY.replace("vip: boolean}", "vip: boolean, amount_due: number, Bad-Name: text, x: money}")
    found = problems(registry, text)
    assert any("attributes.x: Input should be 'number', 'text', 'date' or 'boolean'" in p for p in found), (
        found
    )
    text = POLICY.replace("vip: boolean}", "vip: boolean, amount_due: number, Bad-Name: text}")
    found = problems(registry, text)
    assert "a.yaml:3: attributes.amount_due: 'amount_due' is already a fact every case has" in found
    assert any(
        p.startswith("a.yaml:3: attributes.Bad-Name: an attribute's name is lower-case") for p in found
    )


# ---------------------------------------------------------------- import


def test_an_import_stores_declared_attributes_typed_and_rejects_a_bad_value_naming_line_and_column(
    tmp_path, database_url, policy
):
    # Given a CSV with the policy's attributes as extra columns, one row with a score that is not a number
    path = tmp_path / "cases.csv"
    path.write_text(
        f"{HEADER},score,band,last_login,vip,branch\n"
        "C-1,D-1,Wang,+8613800138000,zh-CN,6222021234,3200,CNY,2026-12-01,712.50,B,2026-10-01,yes,north\n"
        "C-2,D-2,Li,+8613900139002,zh-CN,6222025678,900,CNY,2026-12-01,7x,C,,no,south\n"
        "C-3,D-3,Zhao,+8613900139003,zh-CN,6222029999,500,CNY,2026-12-01,,,,,east\n"
        "C-4,D-4,Sun,+8613900139004,zh-CN,6222020000,500,CNY,2026-12-01,1,A,2026-13-01,,west\n",
        encoding="utf-8",
    )
    store = open_store(database_url)
    try:
        # When it is imported with the policy's attributes
        report = import_file(store, path, now=NOW, attributes=policy.attributes)
        # Then the good rows land, and the bad ones are named FILE:LINE: column: reason
        assert (report.inserted, report.rejected) == (2, 2)
        assert report.errors == [
            f"{path}:3: score: '7x' is not a number",
            f"{path}:5: last_login: '2026-13-01' is not a date (YYYY-MM-DD)",
        ]
        with store.read() as conn:
            loaded = store.load_cases(conn, ["C-1", "C-3"])
        # And the values come back exactly, in their stored form; undeclared columns are not kept
        assert loaded["C-1"][0].attributes == {
            "score": "712.50",
            "band": "B",
            "last_login": "2026-10-01",
            "vip": True,
        }
        assert loaded["C-3"][0].attributes == {}
    finally:
        store.dispose()


def test_a_re_import_replaces_the_attributes_it_carries_and_keeps_the_others(tmp_path, database_url, policy):
    store = open_store(database_url)
    try:
        first = tmp_path / "first.jsonl"
        row = {
            "case_id": "C-1",
            "debtor_id": "D-1",
            "name": "Wang",
            "phone": "+8613800138000",
            "account": "6222021234",
            "amount_due": "3200",
            "currency": "CNY",
            "due_date": "2026-12-01",
        }
        first.write_text(json.dumps({**row, "attributes": {"score": 650, "band": "B", "vip": False}}) + "\n")
        import_file(store, first, now=NOW, attributes=policy.attributes)
        # When a later file carries only the score (a blank band clears it), or no attribute at all
        second = tmp_path / "second.csv"
        second.write_text(
            f"{HEADER},score,band\nC-1,D-1,Wang,+8613800138000,en,6222021234,3200,CNY,2026-12-01,701,\n"
        )
        import_file(store, second, now=NOW, attributes=policy.attributes)
        third = tmp_path / "third.csv"
        third.write_text(f"{HEADER}\nC-1,D-1,Wang,+8613800138000,en,6222021234,3200,CNY,2026-12-01\n")
        import_file(store, third, now=NOW, attributes=policy.attributes)
        with store.read() as conn:
            (case, _status) = store.load_cases(conn, ["C-1"])["C-1"]
        # Then the score is the new one, the band is gone, and the flag is kept
        assert case.attributes == {"score": "701", "vip": False}
        # And a JSON line naming an attribute the policy does not declare is refused, naming it
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps({**row, "attributes": {"income": "high"}}) + "\n")
        report = import_file(store, bad, now=NOW, attributes=policy.attributes)
        assert report.errors == [
            f"{bad}:1: attributes.income: is not an attribute the policy declares (known: band, last_login, score, vip)"
        ]
    finally:
        store.dispose()


# ---------------------------------------------------------------- API and templates


@pytest.fixture
def runtime(tmp_path, database_url):
    (tmp_path / "p.yaml").write_text(POLICY)
    clock = [NOW]
    rt = build_runtime(
        Settings(database_url=database_url, policy=str(tmp_path / "p.yaml"), api_tokens=[TOKEN]),
        clock=lambda: clock[0],
        dry_run=True,
    )
    yield rt
    rt.close()


CASE = {
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


def test_the_api_stores_attributes_and_answers_422_naming_a_bad_or_undeclared_one(runtime):
    with TestClient(create_app(runtime)) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body = {**CASE, "attributes": {"score": 702.5, "vip": True, "last_login": "2026-11-02", "band": None}}
        assert client.post("/v1/cases", json=body, headers=auth).json() == {"inserted": 1, "updated": 0}
        got = client.get("/v1/cases/C-9", headers=auth).json()
        assert got["case"]["attributes"] == {"score": "702.5", "vip": True, "last_login": "2026-11-02"}
        # A value of the wrong type, and a name the policy does not declare: 422, nothing stored
        wrong = client.post("/v1/cases", json={**CASE, "attributes": {"vip": "maybe"}}, headers=auth)
        assert wrong.status_code == 422
        assert [(d["loc"], d["msg"]) for d in wrong.json()["errors"]] == [
            (
                ["body", "attributes", "vip"],
                "attributes.vip: 'maybe' is not true or false (true/false, yes/no, 1/0)",
            )
        ]
        unknown = client.post(
            "/v1/cases", json={"cases": [{**CASE, "attributes": {"income": 1}}]}, headers=auth
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["loc"] == ["body", "cases", 0, "attributes", "income"]
        assert client.get("/v1/cases/C-9", headers=auth).json()["case"]["attributes"]["vip"] is True


def test_a_reminder_s_template_reads_attributes_typed_and_a_missing_one_is_none(runtime, tmp_path):
    # Given a lender's template that greets VIPs and names the score, and two debtors
    (tmp_path / "t" / "sms").mkdir(parents=True)
    (tmp_path / "t" / "sms" / "overdue_notice.en.j2").write_text(
        "{% if attributes.vip %}Dear valued client{% else %}Hello{% endif %} {{ name }}: "
        "score {{ attributes.score if attributes.score is not none else 'unknown' }}, "
        "last seen {{ attributes.last_login | date if attributes.last_login else 'never' }}."
    )
    runtime.templates = TemplateLibrary([tmp_path / "t"])
    vip = make_case(case_id="C-V", debtor_id="D-V", locale="en", attributes={"vip": True, "score": "812"})
    plain = make_case(case_id="C-P", debtor_id="D-P", locale="en", phone="+8613900139002")
    with runtime.store.write() as conn:
        runtime.store.upsert_cases(conn, [vip, plain], NOW - timedelta(days=1))
    # When the scheduler plans their reminders and the worker delivers them
    tick(runtime, NOW)
    with runtime.store.read() as conn:
        planned = list(conn.execute(select(intents.c.intent_id, intents.c.case_id, intents.c.segment)))
    for intent_id, case_id, _segment in planned:
        deliver(runtime, intent_id, case_id)
    with runtime.store.read() as conn:
        bodies = {row.case_id: row.parts["body"] for row in conn.execute(select(outbox_messages))}
    # Then each message reads the debtor's own attributes, and none where there is none
    assert {case_id: segment for _i, case_id, segment in planned} == {"C-V": "vip", "C-P": "default"}
    assert bodies["C-V"].startswith("Dear valued client 王芳: score 812, last seen never.")
    assert bodies["C-P"] == "Hello 王芳: score unknown, last seen never."


def test_a_template_naming_an_undeclared_attribute_does_not_render(policy):
    library = TemplateLibrary()
    template = library.env.from_string("{{ attributes.income }}")
    context = render_context(make_case(), amount=Decimal(1), now=NOW, attributes=policy.attributes)
    with pytest.raises(Exception, match="income"):
        template.render(context)


def test_dunning_import_reads_the_attributes_of_the_configured_policy(tmp_path):
    # Given DUNNING_POLICY naming the challenger example (score, band, last_login, app_user)
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DUNNING_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
        "DUNNING_POLICY": str(root / "examples" / "policy-challenger.yaml"),
    }
    path = tmp_path / "cases.csv"
    path.write_text(
        f"{HEADER},score,app_user\n"
        "C-1,D-1,Wang,+8613800138000,zh-CN,6222021234,3200,CNY,2026-12-01,640,true\n"
        "C-2,D-2,Li,+8613900139002,zh-CN,6222025678,900,CNY,2026-12-01,high,false\n",
        encoding="utf-8",
    )
    exe = str(Path(sys.executable).with_name("dunning"))
    # When the file is imported from the command line
    result = subprocess.run([exe, "import", str(path)], env=env, capture_output=True, text=True, timeout=120)
    # Then the bad score is named by line and column, and the good row lands with its attributes
    assert result.returncode == 1, result.stderr
    assert f"{path}:3: score: 'high' is not a number" in result.stderr
    store = open_store(env["DUNNING_DATABASE_URL"])
    try:
        with store.read() as conn:
            assert store.load_cases(conn, ["C-1"])["C-1"][0].attributes == {"score": "640", "app_user": True}
    finally:
        store.dispose()
    # And a policy that does not load stops the import before a row is read, naming its line
    broken = tmp_path / "broken.yaml"
    broken.write_text(POLICY.replace("vip: boolean", "vip: flag"), encoding="utf-8")
    refused = subprocess.run(
        [exe, "import", str(path)], env={**env, "DUNNING_POLICY": str(broken)}, capture_output=True, text=True
    )
    assert refused.returncode == 2 and f"{broken}:3: attributes.vip:" in refused.stderr
