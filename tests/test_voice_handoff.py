"""The agent keypress: the call is put through to a person with <Dial>, or the debtor hears why not.

The TwiML is checked against Twilio's <Dial> documentation: ``action`` (where
the leg's outcome is posted), ``method``, ``timeout`` (5-600 seconds),
``callerId``, and the number as the verb's text; the action request carries
``DialCallStatus`` (completed, answered, busy, no-answer, failed, canceled)
and ``DialCallDuration``. SQLite and PostgreSQL.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.core.api import create_app
from dunning.core.runtime import build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import intents
from dunning.testing.api import bearer, post_signed_form
from dunning.testing.factories import make_case

POLICY = """
name: handoff
preset: none
segments:
  - {name: vip, when: "'vip' in tags", ladder: l}
  - {name: all, ladder: l}
ladders:
  l:
    steps:
      - {channel: voice, template: overdue_call, wait: 2d}
handoff:
  numbers: {zh-CN: "+861088886666", en: "+14155550100"}
  segments: {vip: "+861099990000"}
  timeout: 25s
"""
AUTH_TOKEN = "twilio-auth-token"
PUBLIC = "https://dunning.example.com"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TOKEN = "tok"


@pytest.fixture
def app_and_runtime(tmp_path, database_url):
    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        public_url=PUBLIC,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from="+14155550199",
        api_tokens=[TOKEN],
    )
    clock = [NOW]
    rt = build_runtime(settings, clock=lambda: clock[0], dry_run=True)
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn,
            [
                make_case(case_id="C-ZH", debtor_id="D-1"),
                make_case(
                    case_id="C-EN",
                    debtor_id="D-2",
                    locale="en-US",
                    phone="+14155550123",
                    timezone="America/New_York",
                ),
                make_case(
                    case_id="C-FR",
                    debtor_id="D-3",
                    locale="fr",
                    phone="+33612345678",
                    timezone="Europe/Paris",
                ),
                make_case(case_id="C-VIP", debtor_id="D-4", phone="+8613800138004", tags=("vip",)),
            ],
            NOW - timedelta(days=2),
        )
    tick(rt, NOW)
    with TestClient(create_app(rt), base_url=PUBLIC) as client:
        yield client, rt, clock
    rt.close()


def intent_of(rt, case_id: str) -> str:
    with rt.store.read() as conn:
        return conn.scalar(select(intents.c.intent_id).where(intents.c.case_id == case_id))


def press(client, intent_id: str, locale: str, digits: str = "2") -> ElementTree.Element:
    path = f"/webhooks/twilio/voice/gather?intent_id={intent_id}&locale={locale}"
    response = post_signed_form(client, PUBLIC, path, {"CallSid": "CA1", "Digits": digits}, AUTH_TOKEN)
    assert response.status_code == 200 and response.headers["content-type"] == "application/xml"
    return ElementTree.fromstring(response.text)


def dial_ended(client, action: str, status: str, duration: str | None = None) -> ElementTree.Element:
    parts = urlsplit(action)
    path = f"{parts.path}?{parts.query}"
    form = {"CallSid": "CA1", "DialCallSid": "CA2", "DialCallStatus": status}
    if duration is not None:
        form["DialCallDuration"] = duration
    response = post_signed_form(client, PUBLIC, path, form, AUTH_TOKEN)
    assert response.status_code == 200, response.text
    return ElementTree.fromstring(response.text)


def test_given_a_chinese_debtor_pressing_2_then_the_call_dials_the_chinese_agent_line(app_and_runtime):
    client, rt, _ = app_and_runtime
    intent = intent_of(rt, "C-ZH")
    twiml = press(client, intent, "zh-CN")
    # Then: a line in Mandarin, read by the Mandarin voice, then <Dial> to the zh-CN agent
    say, dial = list(twiml)
    assert (say.tag, say.get("voice"), say.get("language")) == ("Say", "Polly.Zhiyu", "cmn-CN")
    assert "人工客服" in (say.text or "")
    assert dial.tag == "Dial" and (dial.text or "").strip() == "+861088886666"
    assert (dial.get("method"), dial.get("timeout"), dial.get("callerId")) == ("POST", "25", "+14155550199")
    action = urlsplit(dial.get("action") or "")
    assert f"{action.scheme}://{action.netloc}{action.path}" == f"{PUBLIC}/webhooks/twilio/voice/dial"
    assert parse_qs(action.query) == {"intent_id": [intent], "locale": ["zh-CN"]}


def test_given_a_segment_with_its_own_agents_then_their_number_wins_over_the_locale(app_and_runtime):
    client, rt, _ = app_and_runtime
    twiml = press(client, intent_of(rt, "C-VIP"), "zh-CN")
    assert (twiml.find("Dial").text or "").strip() == "+861099990000"


def test_given_nobody_answers_the_agent_line_then_the_debtor_hears_the_fallback_and_the_item_records_it(
    app_and_runtime,
):
    client, rt, clock = app_and_runtime
    dial = press(client, intent_of(rt, "C-EN"), "en-US").find("Dial")
    # When the agent's phone rings out
    after = dial_ended(client, dial.get("action"), "no-answer")
    # Then the debtor hears, in English, that an agent will call back, and the call ends
    say, hangup = list(after)
    assert (say.get("voice"), say.get("language")) == ("Polly.Joanna", "en-US")
    assert "call you back" in (say.text or "") and hangup.tag == "Hangup"
    # And once the case is in the queue, its item shows the call's outcome
    tick(rt, clock[0])
    item = client.get("/v1/queue", headers=bearer(TOKEN)).json()["items"]
    assert [(i["case_id"], i["reason"], i["call_status"]) for i in item] == [("C-EN", "handoff", "no-answer")]


def test_given_the_agent_took_the_call_then_it_ends_quietly_and_its_length_is_recorded(app_and_runtime):
    client, rt, clock = app_and_runtime
    intent = intent_of(rt, "C-ZH")
    dial = press(client, intent, "zh-CN").find("Dial")
    tick(rt, clock[0])  # the item is open before the call ends this time
    after = dial_ended(client, dial.get("action"), "completed", "142")
    assert [child.tag for child in after] == ["Hangup"]
    (item,) = client.get("/v1/queue", headers=bearer(TOKEN)).json()["items"]
    assert (item["call_status"], item["call_seconds"]) == ("completed", 142)
    timeline = client.get("/v1/cases/C-ZH/timeline", headers=bearer(TOKEN)).json()
    assert any(e["action"] == "agent_call" and e["rule"] == "completed" for e in timeline)


def test_given_no_agent_number_for_the_locale_then_the_debtor_hears_the_fallback_in_their_voice(
    app_and_runtime,
):
    client, rt, _ = app_and_runtime
    # French has no number and no voice of its own: the English voice reads the English line
    twiml = press(client, intent_of(rt, "C-FR"), "fr")
    say, hangup = list(twiml)
    assert twiml.find("Dial") is None and hangup.tag == "Hangup"
    assert say.get("voice") == "Polly.Joanna" and "no agent is available" in (say.text or "")


def test_an_unsigned_dial_callback_is_refused_and_records_nothing(app_and_runtime):
    client, rt, _clock = app_and_runtime
    intent = intent_of(rt, "C-ZH")
    response = client.post(
        f"/webhooks/twilio/voice/dial?intent_id={intent}", data={"DialCallStatus": "completed"}
    )
    assert response.status_code == 403
    timeline = client.get("/v1/cases/C-ZH/timeline", headers=bearer(TOKEN)).json()
    assert not any(e["action"] == "agent_call" for e in timeline)
