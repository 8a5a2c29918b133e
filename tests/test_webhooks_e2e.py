"""The whole loop over real HTTP: reminders out through Twilio, its webhooks back into the API.

The API runs under uvicorn on 127.0.0.1 (an ephemeral port, which is also
``DUNNING_PUBLIC_URL``, so that what the fake Twilio signs is what the API
checks); the in-process runner delivers through the real SMS, voice and push
channels (the twilio and firebase-admin SDKs) to the fake providers; the fake
Twilio calls the API back with signed status callbacks, keypresses and
inbound texts, exactly as Twilio would.
"""

from __future__ import annotations

import socket
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from dunning.core.api import create_app
from dunning.core.cli import cli
from dunning.core.runtime import Runtime, build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.settings import Settings
from dunning.core.store.schema import attempts, events, intents
from dunning.testing.factories import make_case
from dunning.testing.fake_fcm import FakeFcm
from dunning.testing.fake_server import post_form
from dunning.testing.fake_twilio import FakeTwilio

POLICY = """
name: e2e
preset: none
segments:
  - {name: large, when: "amount_due >= 5000", ladder: calls}
  - {name: all, ladder: texts}
ladders:
  texts:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: push, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 2d}
  calls:
    steps:
      - {channel: voice, template: overdue_call, wait: 2d}
      - {channel: sms, template: overdue_notice, wait: 2d}
responses: {keypress: {"1": promise, "2": handoff}, promise_days: 3, promise_grace: 1d}
"""
TOKEN = "e2e-api-token"
#: 11:00 in Shanghai on 2 December 2026, the day after the loans fell due.
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
PHONE = "+8613800138000"
CALLED = "+8613900139002"
#: Seconds any wait for the other side may take; nothing here should come close.
TIMEOUT = 10.0


class SimulatedClock:
    """The deployment's clock: a simulated date that runs on in real time.

    It runs (rather than standing still) so that a keypress is later than the
    call it answers, as in life; :meth:`set` jumps to another moment.
    """

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        self._at, self._since = at, time.monotonic()

    def __call__(self) -> datetime:
        return self._at + timedelta(seconds=time.monotonic() - self._since)


class ApiServer:
    """The API app under uvicorn in a background thread, on an ephemeral 127.0.0.1 port."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.socket]}, name="api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(TIMEOUT)
        self.socket.close()


@dataclass
class Loop:
    """Everything of one deployment under test, and its simulated clock."""

    rt: Runtime
    runner: Embedded
    api: httpx.Client
    url: str
    twilio: FakeTwilio
    fcm: FakeFcm
    clock: SimulatedClock

    def step(self, at: datetime | None = None) -> None:
        """One scheduler round at ``at`` (default: the current time): decide, then deliver."""
        if at is not None:
            self.clock.set(at)
        self.runner.step()

    def texts_to(self, number: str) -> list[Any]:
        return [m for m in self.twilio.messages if m.to == number]

    def calls_to(self, number: str) -> list[Any]:
        return [c for c in self.twilio.calls if c.to == number]

    def intents_of(self, case_id: str) -> list[Any]:
        with self.rt.store.read() as conn:
            return list(
                conn.execute(
                    select(intents)
                    .where(intents.c.case_id == case_id)
                    .order_by(intents.c.planned_at, intents.c.seq)
                )
            )

    def events_of(self, case_id: str) -> list[Any]:
        with self.rt.store.read() as conn:
            return list(conn.execute(select(events).where(events.c.case_id == case_id).order_by(events.c.id)))

    def count_events(self) -> int:
        with self.rt.store.read() as conn:
            return conn.scalar(select(func.count()).select_from(events)) or 0

    def callbacks(self, count: int) -> list[Any]:
        """Wait for the fake Twilio's first ``count`` webhook calls; each must have been accepted."""
        hooks = self.twilio.wait_for_callbacks(count, timeout=TIMEOUT)
        assert [(h.kind, h.status) for h in hooks if h.status is None or h.status >= 300] == [], hooks
        return hooks


@pytest.fixture
def loop(
    tmp_path: Path, database_url: str, fake_twilio: FakeTwilio, fake_fcm: FakeFcm, fcm_service_account: Path
) -> Iterator[Loop]:
    (tmp_path / "p.yaml").write_text(POLICY)
    server = ApiServer()
    settings = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        api_tokens=[TOKEN],
        public_url=server.url,
        worker_threads=2,
        **fake_twilio.settings(),
        **fake_fcm.settings(fcm_service_account),
    )
    clock = SimulatedClock(NOW)
    rt = build_runtime(settings, clock=clock)
    assert sorted(rt.channels) == ["push", "sms", "voice"] and not rt.dry_run
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn,
            [
                make_case(case_id="C-1", debtor_id="D-1", phone=PHONE),
                make_case(case_id="C-2", debtor_id="D-2", phone=CALLED, amount_due=Decimal("6000.00")),
            ],
            NOW - timedelta(days=1),
        )
    runner = Embedded(rt, threads=2)
    runner.start()
    server.start(create_app(rt))
    try:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT, trust_env=False) as api:
            yield Loop(rt, runner, api, server.url, fake_twilio, fake_fcm, clock)
    finally:
        server.stop()
        runner.stop()
        rt.close()


def local_day(moment: datetime) -> date:
    return (moment + timedelta(hours=8)).date()  # Asia/Shanghai has no daylight saving


# ------------------------------------------------------------------ delivery statuses


def test_a_delivered_callback_marks_the_text_delivered(loop: Loop) -> None:
    # Given Twilio will report the text sent, then delivered
    loop.twilio.on_sms(PHONE, "sent", "delivered")
    # When the first reminder goes out
    loop.step()
    # Then both callbacks reach the API, and the reminder is delivered
    loop.callbacks(2)
    (intent,) = loop.intents_of("C-1")
    assert (intent.channel, intent.state) == ("sms", "delivered")
    assert [m.intent_id for m in loop.texts_to(PHONE)] == [intent.intent_id]


def test_an_unknown_number_30005_invalidates_it_and_the_next_tick_falls_back_to_push(loop: Loop) -> None:
    # Given Twilio will report the text undelivered: unknown destination (30005)
    loop.twilio.on_sms(PHONE, "sent", ("undelivered", 30005))
    loop.step()
    loop.callbacks(2)
    (text,) = loop.intents_of("C-1")
    assert (text.state, text.error_code) == ("failed", "30005")
    assert [e.kind for e in loop.events_of("C-1")] == ["wrong_number"]
    # And the case's timeline shows both callbacks, with Twilio's error code, and no phone number
    timeline = loop.api.get("/v1/cases/C-1/timeline", headers={"Authorization": f"Bearer {TOKEN}"})
    callbacks = [e for e in timeline.json() if e["kind"] == "callback"]
    assert [(e["action"], e["detail"].get("code")) for e in callbacks] == [
        ("sent", None),
        ("undelivered", "30005"),
    ]
    assert PHONE not in timeline.text and PHONE[1:] not in timeline.text
    # When the scheduler ticks again, at once
    loop.step()
    # Then the number is not tried again (neither text nor call): the reminder goes by push
    after = [i for i in loop.intents_of("C-1") if i.intent_id != text.intent_id]
    assert [(i.channel, i.state) for i in after] == [("push", "sent")]
    assert [m.target for m in loop.fcm.messages] == ["tok-1"]
    assert len(loop.texts_to(PHONE)) == 1 and loop.calls_to(PHONE) == []


# ------------------------------------------------------------------ inbound texts


def test_an_inbound_opt_out_stops_texts_at_once_and_one_confirmation_goes_out(loop: Loop) -> None:
    loop.step()
    (reminder,) = loop.texts_to(PHONE)
    # When the debtor answers 退订 (unsubscribe)
    status = loop.twilio.inbound_sms(
        f"{loop.url}/webhooks/twilio/sms/inbound", from_=PHONE, to=loop.twilio.from_, body="退订"
    )
    # Then the opt-out is recorded before the webhook returns, and one confirmation is texted
    assert status == 200
    # The opt-out binds the person and the number it came from.
    assert [(e.kind, e.channel) for e in loop.events_of("C-1")] == [
        ("reply", "sms"),
        ("opt_out", "sms"),
        ("opt_out", "sms"),
    ]
    texts = loop.texts_to(PHONE)
    assert [t.sid for t in texts[:1]] == [reminder.sid] and len(texts) == 2
    assert "您已退订" in (texts[1].body or "")  # "you have unsubscribed"
    # Twilio retries the same webhook: nothing new, no second confirmation
    (inbound,) = [h for h in loop.twilio.callbacks if h.kind == "inbound"]
    assert post_form(inbound.url, inbound.params, {"X-Twilio-Signature": inbound.signature}) == 200
    assert len(loop.events_of("C-1")) == 3 and len(loop.texts_to(PHONE)) == 2
    # and no reminder is ever texted to the debtor again, though the ladder goes on
    for days in (2, 4, 7):
        loop.step(NOW + timedelta(days=days))
    assert len(loop.texts_to(PHONE)) == 2
    assert [m.target for m in loop.fcm.messages] == ["tok-1"]


# ------------------------------------------------------------------ calls and keypresses


def test_keypress_1_records_a_promise_that_pauses_the_ladder_until_the_date_plus_grace(loop: Loop) -> None:
    # Given a human answers the reminder call and presses 1
    loop.twilio.on_call(CALLED, "completed", answered_by="human", digits="1")
    loop.step()
    loop.callbacks(5)  # initiated, ringing, in-progress, the keypress, completed
    (call,) = loop.intents_of("C-2")
    assert (call.channel, call.state) == ("voice", "delivered")
    # The key proves a person answered (machine detection is off): one conversation, for Reg F
    assert call.connected and [e.kind for e in loop.events_of("C-2")].count("conversation") == 1
    promises = [e for e in loop.events_of("C-2") if e.kind == "promise"]
    promised = local_day(NOW) + timedelta(days=3)
    assert [e.date for e in promises] == [promised]
    # Then nothing is sent before the promised day; on it, one reminder of the promise;
    resume = datetime.combine(promised + timedelta(days=2), datetime.min.time(), UTC) - timedelta(hours=8)
    loop.step(NOW + timedelta(days=1))
    assert [i.intent_id for i in loop.intents_of("C-2")] == [call.intent_id]
    loop.step(resume - timedelta(days=1, hours=-1))  # the promised day, 09:00 in Shanghai
    loop.step(resume - timedelta(minutes=5))
    on_the_day = [i for i in loop.intents_of("C-2") if i.intent_id != call.intent_id]
    assert [(i.channel, i.template) for i in on_the_day] == [("sms", "promise_due")]
    assert len(loop.calls_to(CALLED)) == 1 and len(loop.texts_to(CALLED)) == 1
    # and once the grace day has passed unpaid, the ladder goes on: the next rung, a text
    loop.step(resume + timedelta(hours=2))
    assert [i.channel for i in loop.intents_of("C-2")] == ["voice", "sms", "sms"]
    assert len(loop.texts_to(CALLED)) == 2


def test_keypress_2_hands_the_case_to_an_agent_and_no_one_is_contacted_again(loop: Loop) -> None:
    loop.twilio.on_call(CALLED, "completed", answered_by="human", digits="2")
    loop.step()
    loop.callbacks(5)
    assert "handoff" in [e.kind for e in loop.events_of("C-2")]
    loop.step()
    got = loop.api.get("/v1/cases/C-2", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 200 and got.json()["status"] == "held"
    for days in (1, 3, 7, 14):
        loop.step(NOW + timedelta(days=days, hours=1))
    assert len(loop.intents_of("C-2")) == 1
    assert len(loop.calls_to(CALLED)) == 1 and loop.texts_to(CALLED) == []


# ------------------------------------------------------------------ forgeries


def test_a_callback_signed_with_another_token_gets_403_and_changes_nothing(loop: Loop) -> None:
    loop.step()
    (text,) = loop.texts_to(PHONE)
    (before,) = loop.intents_of("C-1")
    events_before = loop.count_events()
    url = text.status_callback or ""
    params = {"MessageSid": text.sid, "MessageStatus": "undelivered", "ErrorCode": "30005", "To": PHONE}
    forged = RequestValidator("not-our-token").compute_signature(url, params)
    assert post_form(url, params, {"X-Twilio-Signature": forged}) == 403
    assert post_form(url, params) == 403  # and unsigned
    assert loop.intents_of("C-1") == [before]
    assert loop.count_events() == events_before
    metrics = loop.api.get("/metrics").text
    assert 'dunning_webhook_rejections_total{endpoint="/webhooks/twilio/sms/status"} 2.0' in metrics


def test_with_machine_detection_off_a_call_ended_without_a_key_is_no_conversation(loop: Loop) -> None:
    # Given a call that is answered and completes, no key pressed, nobody detecting who answered
    loop.twilio.on_call(CALLED, "completed", answered_by="human")
    loop.step()
    loop.callbacks(4)
    (call,) = loop.intents_of("C-2")
    # Then it is delivered, but it may have been a voicemail: no conversation, no cool-down
    assert call.state == "delivered" and not call.connected
    assert [e.kind for e in loop.events_of("C-2")] == []


# ------------------------------------------------------------------ retried webhooks


def snapshot(loop: Loop, case_id: str) -> tuple[Any, ...]:
    timeline = loop.api.get(f"/v1/cases/{case_id}/timeline", headers={"Authorization": f"Bearer {TOKEN}"})
    with loop.rt.store.read() as conn:
        tries = conn.scalar(select(func.count()).select_from(attempts).where(attempts.c.case_id == case_id))
    return loop.intents_of(case_id), loop.events_of(case_id), tries, timeline.json()


def test_when_twilio_retries_every_callback_and_keypress_of_a_call_nothing_changes(loop: Loop) -> None:
    # Given a call answered by a person, who pressed 1 (a promise)
    loop.twilio.on_call(CALLED, "completed", answered_by="human", digits="1")
    loop.step()
    hooks = loop.callbacks(5)
    before = snapshot(loop, "C-2")
    assert [e.kind for e in before[1]] == ["conversation", "promise"]
    # When Twilio posts each of them again, as it does when it thinks one was lost
    assert [loop.twilio.repeat(hook) for hook in hooks] == [204, 204, 204, 200, 204]
    # Then they are all accepted, and nothing is applied twice: no second promise, attempt or timeline row
    assert snapshot(loop, "C-2") == before


def signed_post(loop: Loop, url: str, params: dict[str, str]) -> httpx.Response:
    return loop.api.post(url, data=params, headers={"X-Twilio-Signature": loop.twilio.signature(url, params)})


def spoken(response: httpx.Response) -> list[tuple[str | None, str | None, str | None]]:
    """(text, voice, language) of each <Say> of a TwiML answer."""
    root = ElementTree.fromstring(response.text)
    assert root.tag == "Response" and root[-1].tag == "Hangup"
    return [(say.text, say.get("voice"), say.get("language")) for say in root.iter("Say")]


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("zh-CN", ("谢谢，再见。", "Polly.Zhiyu", "cmn-CN")),
        ("en", ("Thank you. Goodbye.", "Polly.Joanna", "en-US")),
    ],
)
def test_a_key_pressed_on_a_channel_test_call_is_answered_with_a_spoken_goodbye(
    loop: Loop, locale: str, said: tuple[str, str, str]
) -> None:
    # Given an operator's test call (`dunning channels test voice`): no reminder stands behind it
    env = {f"DUNNING_{k.upper()}": str(v) for k, v in loop.twilio.settings().items()}
    env["DUNNING_PUBLIC_URL"] = loop.url
    result = CliRunner().invoke(
        cli, ["channels", "test", "voice", "--to", CALLED, "--locale", locale], env=env
    )
    assert result.exit_code == 0, result.output
    (call,) = loop.calls_to(CALLED)
    # When the person who picks up presses a key
    gather = ElementTree.fromstring(call.twiml or "").find("Gather")
    assert gather is not None
    params = {"CallSid": call.sid, "AccountSid": loop.twilio.account_sid, "Digits": "1", "To": CALLED}
    answer = signed_post(loop, gather.get("action") or "", params)
    # Then Twilio gets valid TwiML: thanks and goodbye, in the call's language, with a voice
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    assert spoken(answer) == [said]
    assert loop.count_events() == 0


def test_an_unknown_key_on_a_reminder_call_is_answered_in_the_debtors_language(loop: Loop) -> None:
    loop.step()
    (call,) = loop.calls_to(CALLED)
    gather = ElementTree.fromstring(call.twiml or "").find("Gather")
    assert gather is not None
    params = {"CallSid": call.sid, "AccountSid": loop.twilio.account_sid, "Digits": "9", "To": CALLED}
    answer = signed_post(loop, gather.get("action") or "", params)
    assert answer.status_code == 200
    assert spoken(answer) == [("抱歉，未能识别您的按键。", "Polly.Zhiyu", "cmn-CN")]
    # And the key is recorded as the debtor's reply, once however often Twilio posts it
    assert signed_post(loop, gather.get("action") or "", params).status_code == 200
    assert [(e.kind, e.text, e.event_id) for e in loop.events_of("C-2")] == [
        ("conversation", None, f"conversation:{call.intent_id}"),
        ("reply", "key 9", f"twilio-gather:{call.sid}:9"),
    ]


def test_a_keypress_without_a_valid_signature_is_still_refused(loop: Loop) -> None:
    loop.step()
    (call,) = loop.calls_to(CALLED)
    gather = ElementTree.fromstring(call.twiml or "").find("Gather")
    assert gather is not None
    answer = loop.api.post(gather.get("action") or "", data={"CallSid": call.sid, "Digits": "1"})
    assert answer.status_code == 403 and loop.count_events() == 0
