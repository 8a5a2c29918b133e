"""Settling ambiguous Twilio sends by reading Twilio's Messages and Calls lists back.

Twilio has no idempotency key: after a read timeout or a reset connection the
text may or may not have left. The sweeper asks the channel, which lists what
Twilio holds for the number since the attempt began: found means sent (never
send it again), none means surely not sent (send it now), and a failed read
means ask again later. All through the real SDK against the fake Twilio.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from twilio.base.exceptions import TwilioException

from dunning.channels.push import PushChannel
from dunning.channels.sms import SmsChannel
from dunning.channels.twilio_common import LIST_PAGE
from dunning.channels.voice import VoiceChannel
from dunning.core.channel import OutboundMessage
from dunning.core.errors import TransientDeliveryError
from dunning.core.intake.service import Intake
from dunning.core.settings import load_settings
from dunning.testing.factories import make_case
from dunning.testing.world import World, start_world

#: 10:00 in Shanghai on 2 December 2026, the day after the case fell due.
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
PHONE = "+8613800138000"
OTHER = "+8613900139000"


def text(intent_id: str = "intent-1", to: str = PHONE) -> OutboundMessage:
    return OutboundMessage(
        intent_id, "C-1", "sms", to, {"body": "您好，请于12月4日前还款。回T退订"}, locale="zh-CN"
    )


@pytest.fixture
def clock(fake_twilio) -> list[datetime]:
    """Our clock, which the fake Twilio shares unless a test skews it."""
    now = [T0]
    fake_twilio.clock = lambda: now[0].timestamp()
    return now


@pytest.fixture
def sms(fake_twilio) -> Iterator[SmsChannel]:
    channel = SmsChannel.from_settings(load_settings(**fake_twilio.settings(public_url="http://127.0.0.1:9")))
    assert channel is not None
    yield channel
    channel.close()


@pytest.fixture
def voice(fake_twilio) -> Iterator[VoiceChannel]:
    channel = VoiceChannel.from_settings(
        load_settings(**fake_twilio.settings(public_url="http://127.0.0.1:9"))
    )
    assert channel is not None
    yield channel
    channel.close()


# ------------------------------------------------------------------ the channel's answer


def test_a_text_twilio_took_after_the_attempt_began_reconciles_to_its_receipt(sms, fake_twilio, clock):
    began = clock[0]
    clock[0] += timedelta(seconds=1)
    receipt = sms.send(text())
    found = sms.reconcile("intent-1", PHONE, began)
    assert found is not None and found.provider_id == receipt.provider_id
    # And the question was asked through Twilio's list API, by recipient, never by sending
    reads = [r for r in fake_twilio.requests if r.method == "GET"]
    assert reads and all(r.query["To"] == [PHONE] for r in reads)
    assert len(fake_twilio.messages) == 1


def test_no_text_to_the_number_since_the_attempt_began_means_surely_not_sent(sms, fake_twilio, clock):
    # Given an earlier reminder to the number, and a later one to someone else
    sms.send(text("earlier"))
    clock[0] += timedelta(hours=2)
    began = clock[0]
    clock[0] += timedelta(seconds=5)
    sms.send(text("other", to=OTHER))
    # Then neither is mistaken for the ambiguous text
    assert sms.reconcile("intent-1", PHONE, began) is None


def test_twilio_clock_a_little_behind_ours_still_finds_the_text(sms, fake_twilio, clock):
    began = clock[0]
    fake_twilio.clock = lambda: (clock[0] - timedelta(minutes=2)).timestamp()
    receipt = sms.send(text())
    found = sms.reconcile("intent-1", PHONE, began)
    assert found is not None and found.provider_id == receipt.provider_id


def test_when_twilio_cannot_be_read_the_answer_is_ask_again_later(sms, fake_twilio, clock):
    fake_twilio.fail_lists(503)
    with pytest.raises(TransientDeliveryError):
        sms.reconcile("intent-1", PHONE, clock[0])
    assert fake_twilio.messages == []
    # And once Twilio answers again, so does the channel
    assert sms.reconcile("intent-1", PHONE, clock[0]) is None


def test_a_call_still_queued_and_a_call_that_rang_are_both_found(voice, fake_twilio, clock):
    began = clock[0]
    queued = voice.send(text("call-1"))  # no progress scripted: still queued, no start time yet
    found = voice.reconcile("call-1", PHONE, began)
    assert found is not None and found.provider_id == queued.provider_id
    # Given a call to another debtor that rang out
    fake_twilio.on_call(OTHER, "no-answer")
    rang = voice.send(text("call-2", to=OTHER))
    fake_twilio.wait_for_callbacks(2)
    found = voice.reconcile("call-2", OTHER, began)
    assert found is not None and found.provider_id == rang.provider_id
    assert voice.reconcile("call-3", "+8613700137000", began) is None


def test_rate_keys_name_the_provider_account_and_sender(fake_twilio, fake_fcm, fcm_service_account):
    settings = {**fake_twilio.settings(), **fake_fcm.settings(fcm_service_account)}
    sms, voice = (
        SmsChannel.from_settings(load_settings(**settings)),
        VoiceChannel.from_settings(load_settings(**settings)),
    )
    pool = SmsChannel.from_settings(
        load_settings(**{**settings, "twilio_from": None, "twilio_messaging_service_sid": "MG" + "1" * 32})
    )
    push = PushChannel.from_settings(load_settings(**settings))
    assert sms and voice and pool and push
    try:
        sid = fake_twilio.account_sid
        assert sms.rate_key() == f"twilio:{sid}:sms:{fake_twilio.from_}"  # a number's own throughput
        assert pool.rate_key() == f"twilio:{sid}:sms:MG" + "1" * 32  # a messaging service's pool
        assert voice.rate_key() == f"twilio:{sid}:voice"  # calls per second are per account
        assert push.rate_key() == f"fcm:{fake_fcm.project_id}"  # FCM's quota is per project
    finally:
        for channel in (sms, voice, pool, push):
            channel.close()


# ------------------------------------------------------------------ the fake's list resources


def test_the_fake_lists_newest_first_by_recipient_and_sent_day_in_pages_the_sdk_follows(
    sms, fake_twilio, clock
):
    fake_twilio.on_sms("*", "sent")
    for i in range(5):
        clock[0] += timedelta(minutes=1)
        sms.send(text(f"i-{i}"))
    sms.send(text("other", to=OTHER))
    clock[0] += timedelta(days=1)
    sms.send(text("tomorrow"))
    fake_twilio.wait_for_callbacks(7)
    client = sms.twilio.client
    listed = client.messages.list(to=PHONE, date_sent_after=T0, page_size=2)
    assert [m.sid for m in listed] == [r.sid for r in reversed(fake_twilio.messages) if r.to == PHONE]
    assert sum(1 for r in fake_twilio.requests if r.method == "GET") == 3  # three pages of two
    tomorrow = datetime(2026, 12, 3, tzinfo=UTC)
    assert [m.sid for m in client.messages.list(to=PHONE, date_sent_after=tomorrow)] == [
        fake_twilio.messages[-1].sid
    ]
    assert client.messages.list(to=PHONE, date_sent_before=T0 - timedelta(days=1)) == []
    # And a text still in Twilio's queue has no date sent: only an unfiltered list shows it
    fake_twilio.on_sms("*")
    queued = sms.send(text("queued"))
    assert queued.provider_id not in {m.sid for m in client.messages.list(to=PHONE, date_sent_after=T0)}
    assert client.messages.list(to=PHONE, limit=1)[0].sid == queued.provider_id


def test_a_sent_text_behind_a_full_page_of_newer_ones_is_still_found(sms, fake_twilio, clock):
    # Given the ambiguous text went out, then (improbably) a page and more of texts to the same number
    fake_twilio.on_sms("*", "sent")
    began = clock[0]
    first = sms.send(text())
    for i in range(LIST_PAGE):
        clock[0] += timedelta(seconds=1)
        sms.send(text(f"later-{i}"))
    fake_twilio.wait_for_callbacks(LIST_PAGE + 1)
    found = sms.reconcile("intent-1", PHONE, began)
    # Then the earliest since the attempt began is the one found, on the date query's second page
    assert found is not None and found.provider_id == first.provider_id


def test_the_fake_filters_calls_by_status_and_refuses_filters_twilio_does_not_have(voice, fake_twilio):
    voice.send(text("call-1"))
    client = voice.twilio.client
    assert len(client.calls.list(to=PHONE, status="queued")) == 1
    assert client.calls.list(to=PHONE, status="completed") == []
    assert client.calls.list(to=PHONE, start_time_after=T0 - timedelta(days=1)) == []  # not started
    with pytest.raises(TwilioException):
        client.messages.list(to="+1", date_sent_after="not a date")  # type: ignore[arg-type]


# ------------------------------------------------------------------ through the sweeper

POLICY = """
name: t
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 1d}
    then: stop
"""


@pytest.fixture
def make_world(tmp_path, database_url, fake_twilio, clock) -> Iterator[Callable[..., World]]:
    built: list[World] = []

    def make(**overrides: Any) -> World:
        world = start_world(
            tmp_path,
            database_url,
            POLICY,
            [make_case(push_token=None)],
            clock,
            min_backoff_ms=20,
            ambiguous_after_seconds=600,
            **{**fake_twilio.settings(), **overrides},
        )
        built.append(world)
        return world

    yield make
    for world in built:
        world.close()


#: Long enough after an ambiguous send for the sweeper to stop waiting for a status callback.
OVERDUE = timedelta(minutes=11)


def test_a_timed_out_text_twilio_took_is_marked_sent_by_the_sweeper_and_never_sent_twice(
    make_world, fake_twilio
):
    fake_twilio.slow(3.0)
    w = make_world(twilio_timeout=0.5)
    w.step()
    [sms] = w.intents()
    assert sms.state == "unknown" and fake_twilio.count_for(sms.intent_id) == 1
    # When no status callback came, and the sweeper asks Twilio
    w.step(OVERDUE)
    [sms] = w.intents()
    assert (sms.state, sms.reason, sms.provider_id) == ("sent", "reconciled", fake_twilio.messages[0].sid)
    assert w.outcomes(sms.intent_id)[-1] == "reconciled_sent"
    # Then more sweeps and ticks never send it again; the ladder goes on to the call
    for _ in range(4):
        w.step(timedelta(hours=12))
    assert fake_twilio.count_for(sms.intent_id) == 1 and len(fake_twilio.messages) == 1
    assert [(i.channel, i.state) for i in w.intents()] == [("sms", "sent"), ("voice", "sent")]


def test_a_text_lost_before_twilio_read_it_is_reconciled_as_unsent_and_delivered_once(
    make_world, fake_twilio
):
    # Given the connection is reset before Twilio read the request
    fake_twilio.hang_up_unread()
    w = make_world()
    w.step()
    [sms] = w.intents()
    assert sms.state == "unknown" and fake_twilio.messages == []
    # While the status callback may still come, nothing is resent
    w.step(timedelta(minutes=5))
    assert fake_twilio.messages == []
    # When the sweeper asks Twilio and finds nothing, Then it goes now, once
    w.step(OVERDUE)
    [sms] = w.intents()
    assert sms.state == "sent" and fake_twilio.count_for(sms.intent_id) == 1
    assert w.outcomes(sms.intent_id)[-2:] == ["reconciled_unsent", "sent"]
    w.step(timedelta(hours=12))
    assert fake_twilio.count_for(sms.intent_id) == 1


def test_when_twilio_cannot_be_read_the_sweeper_asks_again_later_and_sends_nothing_meanwhile(
    make_world, fake_twilio
):
    fake_twilio.hang_up_unread()
    w = make_world()
    w.step()
    fake_twilio.fail_lists(503)
    w.step(OVERDUE)
    [sms] = w.intents()
    assert sms.state == "unknown" and fake_twilio.messages == []
    w.step(OVERDUE)
    [sms] = w.intents()
    assert sms.state == "sent" and fake_twilio.count_for(sms.intent_id) == 1


def lose_the_text_while_twilio_cannot_be_read(
    make_world: Callable[..., World], fake_twilio: Any, half_days: int
) -> World:
    """Send the text into a reset connection, then step 12 hours at a time while Twilio's lists fail."""
    fake_twilio.hang_up_unread()
    w = make_world()
    w.step()
    fake_twilio.fail_lists(503, requests=half_days)
    for _ in range(half_days):
        w.step(timedelta(hours=12))
    return w


def test_the_call_waits_for_a_text_in_doubt_and_follows_it_once_twilio_says_it_never_left(
    make_world, fake_twilio
):
    # Given the text was lost, and Twilio's list cannot be read for a day and a half
    w = lose_the_text_while_twilio_cannot_be_read(make_world, fake_twilio, half_days=3)
    # (the call step fell due a day after the text)
    # Then the ladder waits for the answer rather than call past a text that may never have left
    assert [(i.channel, i.state) for i in w.intents()] == [("sms", "unknown")]
    assert fake_twilio.records == []
    # When Twilio can be read again and says the text never left
    w.step(OVERDUE)
    # Then the text goes, once, and the call follows it a day later
    assert [(i.channel, i.state) for i in w.intents()] == [("sms", "sent")]
    w.step(timedelta(days=1))
    assert [(i.channel, i.state) for i in w.intents()] == [("sms", "sent"), ("voice", "sent")]
    assert [r.kind for r in fake_twilio.records] == ["message", "call"]
    assert fake_twilio.records[1].at - fake_twilio.records[0].at >= timedelta(days=1).total_seconds()


def test_a_text_in_doubt_past_a_day_of_grace_no_longer_holds_the_ladder_and_is_never_sent_late(
    make_world, fake_twilio
):
    # Given the text was lost, and Twilio's list cannot be read for three days
    w = lose_the_text_while_twilio_cannot_be_read(make_world, fake_twilio, half_days=6)
    # Then, a day past the text's wait, the ladder moves on and calls (counting the text as contact)
    assert [(i.channel, i.state) for i in w.intents()] == [("sms", "unknown"), ("voice", "sent")]
    # When Twilio can be read again and says the text never left
    w.step(OVERDUE)
    # Then it is closed as never sent, not sent late behind the call
    sms = w.intents()[0]
    assert (sms.state, sms.reason) == ("failed", "never_sent")
    assert fake_twilio.messages == []


def test_a_status_callback_settling_a_text_in_doubt_lets_the_waiting_call_go_at_once(make_world, fake_twilio):
    # Given a text Twilio took but whose answer timed out, and Twilio's list cannot be read
    fake_twilio.slow(3.0)
    w = make_world(twilio_timeout=0.5)
    w.step()
    [sms] = w.intents()
    fake_twilio.fail_lists(503, requests=1)
    w.step(timedelta(days=1, minutes=1))  # the call step is due, and waits for the text
    assert [(i.channel, i.state) for i in w.intents()] == [("sms", "unknown")]
    # When Twilio's status callback says the text was delivered
    w.clock[0] += timedelta(minutes=1)
    outcome = Intake(w.rt).delivery_status(
        intent_id=sms.intent_id, provider_id=fake_twilio.messages[0].sid, status="delivered"
    )
    assert outcome == "delivered"
    # Then the call goes at the next tick, not at the next periodic look at the case
    w.step()
    assert [(i.channel, i.state) for i in w.intents()] == [("sms", "delivered"), ("voice", "sent")]
    assert fake_twilio.count_for(sms.intent_id) == 1


def test_with_default_settings_a_text_left_in_doubt_is_settled_with_twilio_within_minutes(
    tmp_path, database_url, fake_twilio, clock
):
    # Given a deployment on default settings whose text timed out at Twilio (which took it)
    fake_twilio.slow(3.0)
    w = start_world(
        tmp_path,
        database_url,
        POLICY,
        [make_case(push_token=None)],
        clock,
        **fake_twilio.settings(twilio_timeout=0.5),
    )
    try:
        w.step()
        [sms] = w.intents()
        assert sms.state == "unknown"
        # When a minute passes, Then it still waits for Twilio's status callback
        w.step(timedelta(minutes=1))
        assert [i.state for i in w.intents()] == ["unknown"]
        # When three minutes have passed with no callback, Then Twilio has been asked, and it is sent
        w.step(timedelta(minutes=2))
        [sms] = w.intents()
        assert (sms.state, sms.reason) == ("sent", "reconciled")
        assert fake_twilio.count_for(sms.intent_id) == 1
    finally:
        w.close()
