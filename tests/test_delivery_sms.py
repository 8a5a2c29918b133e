"""SMS end to end through the delivery actor: the real twilio SDK against the fake Twilio.

Each test runs the embedded runtime (scheduler tick, sweeper, in-process
Dramatiq worker) on a simulated clock, with the sms, push and voice channels
built from settings that point at the fake Twilio and the fake FCM, and
checks what DOMAIN.md's table says each Twilio error must do: what the debtor
receives, what the store records, and what the ladder does next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dunning.core.intake.service import Intake
from dunning.core.store.schema import attempts
from dunning.testing.factories import make_case
from dunning.testing.world import World, start_world

#: 10:00 in Shanghai on 2 December 2026, the day after the case fell due.
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
PHONE = "+8613800138000"
TOKEN = "tok-1"

POLICY = """
name: t
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: push, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 2d}
    then: restart
"""


@pytest.fixture
def make_world(
    tmp_path, database_url, fake_twilio, fake_fcm, fcm_service_account
) -> Iterator[Callable[..., World]]:
    """Build the world (``make_world(max_retries=3, twilio_timeout=1.0)``) with one case due."""
    built: list[World] = []

    def make(**overrides: Any) -> World:
        clock = [T0]
        fake_twilio.clock = lambda: clock[0].timestamp()  # Twilio dates what it takes by our clock
        world = start_world(
            tmp_path,
            database_url,
            POLICY,
            [make_case()],
            clock,
            min_backoff_ms=20,
            max_backoff_ms=2000,
            ambiguous_after_seconds=600,
            **{**fake_twilio.settings(), **fake_fcm.settings(fcm_service_account), **overrides},
        )
        built.append(world)
        assert sorted(world.rt.channels) == ["push", "sms", "voice"] and not world.rt.dry_run
        return world

    yield make
    for world in built:
        world.close()


def sms_posts(fake_twilio) -> int:
    return sum(1 for r in fake_twilio.requests if r.method == "POST" and r.path.endswith("/Messages.json"))


def call_posts(fake_twilio) -> int:
    return sum(1 for r in fake_twilio.requests if r.method == "POST" and r.path.endswith("/Calls.json"))


# ------------------------------------------------------------------ refusals at send time


def test_given_an_invalid_number_21211_then_the_text_fails_the_number_is_wrong_and_only_push_follows(
    make_world, fake_twilio, fake_fcm
):
    # Given Twilio refuses the debtor's number for texts and calls alike
    fake_twilio.fail(PHONE, 21211)
    w = make_world()
    # When the first reminder is due
    w.step()
    # Then the text failed with 21211, and the number is recorded as wrong
    [sms] = w.intents()
    assert (sms.channel, sms.state, sms.error_code) == ("sms", "failed", "21211")
    assert ("wrong_number", "sms", PHONE) in w.events()
    # And the engine falls back at once: the next tick sends the push
    w.step()
    assert w.sends() == [("sms", "failed"), ("push", "sent")]
    # And through a whole cycle of the ladder and more, nothing is even tried on that number again
    w.run(days=7)
    assert sms_posts(fake_twilio) == 1 and call_posts(fake_twilio) == 0
    assert {channel for channel, state in w.sends() if state == "sent"} == {"push"}
    assert len(fake_fcm.messages) >= 2  # the push step still works, every cycle


@pytest.mark.parametrize(
    ("code", "event"),
    [
        (21610, "opt_out"),  # the debtor texted STOP to our number
        (21614, "invalid_contact"),  # not a mobile number
        (21635, "invalid_contact"),  # a landline
    ],
)
def test_given_a_number_that_cannot_take_texts_then_sms_stops_for_good_but_push_and_voice_go_on(
    make_world, fake_twilio, fake_fcm, code, event
):
    # Given Twilio refuses texts (only texts) to the number
    fake_twilio.fail(PHONE, code, kind="message")
    w = make_world()
    w.step()
    # Then the text failed, and what the provider said is recorded for sms only
    [sms] = w.intents()
    assert (sms.state, sms.error_code) == ("failed", str(code))
    # Both rights are recorded on the number itself (a number that refuses texts does so for anyone)
    assert [e for e in w.events() if e[0] == event] == [(event, "sms", PHONE)]
    # And the next step proceeds at once
    w.step()
    assert w.sends()[-1] == ("push", "sent")
    # And a day later the call still rings that same number
    w.run(days=1)
    [call] = fake_twilio.calls
    assert call.to == PHONE
    # And through the ladder's restart, no text is tried again
    w.run(days=6)
    assert fake_twilio.messages == [] and sms_posts(fake_twilio) == 1
    assert [c for c, state in w.sends() if state == "sent"].count("voice") >= 2


# ------------------------------------------------------------------ transient failures


def test_given_twilio_rate_limits_with_retry_after_then_the_text_goes_after_the_delay_exactly_once(
    make_world, fake_twilio
):
    fake_twilio.rate_limit(retry_after=0.5)
    w = make_world()
    w.step()
    [sms] = w.intents()
    # Then the debtor got the text once, on the second request
    assert sms.state == "sent" and fake_twilio.count_for(sms.intent_id) == 1
    assert sms_posts(fake_twilio) == 2
    assert w.attempts(sms.intent_id) == [("retry", "20429"), ("sent", None)]
    # And it was handed back to go again no sooner than Twilio's Retry-After
    retry_at = _attempt_time(w, sms.intent_id, "retry")
    assert sms.enqueued_at == retry_at + timedelta(seconds=0.5)


def test_given_a_twilio_outage_for_a_stretch_then_the_text_is_retried_with_backoff_and_sent_once(
    make_world, fake_twilio
):
    fake_twilio.outage(503, requests=3)
    w = make_world()
    w.step()
    [sms] = w.intents()
    assert sms.state == "sent" and fake_twilio.count_for(sms.intent_id) == 1
    assert w.attempts(sms.intent_id) == [("retry", "20503")] * 3 + [("sent", None)]
    assert sms.attempts == 4
    # And each retry waited twice as long as the one before: 20, 40, then 80 ms
    assert sms.enqueued_at == _attempt_time(w, sms.intent_id, "retry") + timedelta(milliseconds=80)


def test_given_an_outage_longer_than_the_retries_then_the_text_fails_and_the_ladder_moves_on(
    make_world, fake_twilio
):
    fake_twilio.outage(500, requests=20)
    w = make_world(max_retries=3)
    w.step()
    [sms] = w.intents()
    assert (sms.state, sms.reason) == ("failed", "retries_exhausted")
    assert fake_twilio.messages == []
    # And nothing about the number is concluded from an outage; the push goes now
    assert w.events() == []
    w.step()
    assert w.sends() == [("sms", "failed"), ("push", "sent")]


# ------------------------------------------------------------------ ambiguous sends


def test_given_a_read_timeout_after_twilio_took_the_text_then_it_is_unknown_and_never_resent(
    make_world, fake_twilio
):
    # Given Twilio takes the text but answers after the client gave up
    fake_twilio.slow(3.0)
    w = make_world(twilio_timeout=0.5)
    w.step()
    [sms] = w.intents()
    assert sms.state == "unknown" and sms.reason == "ambiguous"
    assert fake_twilio.count_for(sms.intent_id) == 1
    # When the scheduler and the sweeper run again and again, at once and for days
    for _ in range(3):
        w.step()
    w.run(days=2)
    # Then the debtor has exactly one copy, and the ladder moved on to push instead
    assert fake_twilio.count_for(sms.intent_id) == 1
    assert sms_posts(fake_twilio) == 1
    assert [c for c, _ in w.sends()][:2] == ["sms", "push"]


# ------------------------------------------------------------------ delivery statuses


def deliver_first_text(w: World, fake_twilio) -> Any:
    w.step()
    [sms] = w.intents()
    assert sms.state == "sent"
    assert sms.provider_id == fake_twilio.messages[0].sid
    return sms


def test_status_30003_handset_unreachable_redelivers_the_text_later(make_world, fake_twilio):
    w = make_world()
    sms = deliver_first_text(w, fake_twilio)
    outcome = Intake(w.rt).delivery_status(
        intent_id=sms.intent_id, provider_id=sms.provider_id, status="undelivered", code="30003"
    )
    assert outcome == "redeliver"
    # Then it is not sent again at once
    w.step()
    assert fake_twilio.count_for(sms.intent_id) == 1
    # But half an hour later it is, once, and the ladder still waits on that text
    w.clock[0] += timedelta(minutes=31)
    w.step()
    assert fake_twilio.count_for(sms.intent_id) == 2
    assert w.sends() == [("sms", "sent")]


def test_status_30008_is_retried_a_limited_number_of_times_then_the_ladder_falls_back(
    make_world, fake_twilio
):
    w = make_world(max_retries=3)
    sms = deliver_first_text(w, fake_twilio)
    outcomes = []
    for _ in range(3):
        sid = fake_twilio.messages[-1].sid
        outcomes.append(
            Intake(w.rt).delivery_status(
                intent_id=sms.intent_id, provider_id=sid, status="undelivered", code="30008"
            )
        )
        w.clock[0] += timedelta(minutes=31)
        w.step()
    # Then three texts were tried in all; the third failure gave up and push followed
    assert outcomes == ["redeliver", "redeliver", "failed"]
    assert fake_twilio.count_for(sms.intent_id) == 3
    assert w.sends() == [("sms", "failed"), ("push", "sent")]
    assert w.intents()[0].reason == "retries_exhausted"


@pytest.mark.parametrize(
    ("code", "event", "voice_calls"),
    [
        ("30005", "wrong_number", 0),  # unknown destination: the number is dead for every channel
        ("30006", "invalid_contact", 1),  # landline: texts cannot reach it, a call can
        ("30007", None, 1),  # carrier filtering: this content, not the number
    ],
)
def test_a_permanent_delivery_status_fails_the_text_and_falls_back_at_once(
    make_world, fake_twilio, caplog, code, event, voice_calls
):
    w = make_world()
    sms = deliver_first_text(w, fake_twilio)
    outcome = Intake(w.rt).delivery_status(
        intent_id=sms.intent_id, provider_id=sms.provider_id, status="undelivered", code=code
    )
    assert outcome == "failed"
    assert w.intents()[0].state == "failed"
    assert [e[0] for e in w.events()] == ([event] if event else [])
    if code == "30007":
        assert "ALERT" in caplog.text and "30007" in caplog.text
    # And the push goes at once, then the call only if the number can take one
    w.step()
    assert w.sends() == [("sms", "failed"), ("push", "sent")]
    w.run(days=1)
    assert len(fake_twilio.calls) == voice_calls


def test_the_log_of_a_failed_text_masks_the_number(make_world, fake_twilio, caplog):
    caplog.set_level(logging.INFO, logger="dunning")
    fake_twilio.fail(PHONE, 21211)
    w = make_world()
    w.step()
    assert "+86*******8000" in caplog.text and PHONE not in caplog.text


def _attempt_time(w: World, intent_id: str, outcome: str) -> datetime:
    with w.rt.store.read() as conn:
        at = conn.scalar(
            select(attempts.c.at).where(attempts.c.intent_id == intent_id, attempts.c.outcome == outcome)
        )
    assert at is not None
    return at
