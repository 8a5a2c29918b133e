"""Voice calls end to end through the delivery actor: the real twilio SDK against the fake Twilio.

A ladder of a call, then a text, on the embedded runtime with a simulated
clock. A call attempt is what Regulation F counts, so a call must never be
placed twice for one reminder: an ambiguous call is read back from Twilio's
Calls list by the sweeper, never blindly placed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dunning.core.intake.service import Intake
from dunning.testing.factories import make_case
from dunning.testing.world import World, start_world

#: 10:00 in Shanghai on 2 December 2026, the day after the case fell due.
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
PHONE = "+8613800138000"

POLICY = """
name: t
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: voice, template: overdue_call, wait: 1d}
      - {channel: sms, template: overdue_notice, wait: 1d}
    then: stop
"""


@pytest.fixture
def make_world(tmp_path, database_url, fake_twilio) -> Iterator[Callable[..., World]]:
    """Build the world (sms and voice configured, one case due); keywords override settings."""
    built: list[World] = []

    def make(**overrides: Any) -> World:
        clock = [T0]
        fake_twilio.clock = lambda: clock[0].timestamp()
        world = start_world(
            tmp_path,
            database_url,
            POLICY,
            [make_case(push_token=None)],
            clock,
            min_backoff_ms=20,
            max_backoff_ms=2000,
            ambiguous_after_seconds=600,
            **{**fake_twilio.settings(), **overrides},
        )
        built.append(world)
        return world

    yield make
    for world in built:
        world.close()


def call_posts(fake_twilio) -> int:
    return sum(1 for r in fake_twilio.requests if r.method == "POST" and r.path.endswith("/Calls.json"))


def test_given_twilio_refuses_to_call_an_invalid_number_then_no_text_goes_to_it_either(
    make_world, fake_twilio
):
    # Given Twilio refuses calls (only calls) to the number as invalid
    fake_twilio.fail(PHONE, 21211, kind="call")
    w = make_world()
    w.step()
    [call] = w.intents()
    assert (call.state, call.error_code) == ("failed", "21211")
    assert [e[:2] for e in w.events()] == [("wrong_number", "voice")]
    # Then the engine, not Twilio, keeps the text from going to that number
    w.run(days=3)
    assert [c for c, _ in w.sends()] == ["voice"]
    assert fake_twilio.records == []


@pytest.mark.parametrize("script", ["rate_limit", "outage"])
def test_given_twilio_is_briefly_unavailable_then_the_call_is_placed_exactly_once(
    make_world, fake_twilio, script
):
    if script == "rate_limit":
        fake_twilio.rate_limit(retry_after=0.3)
    else:
        fake_twilio.outage(502, requests=2)
    w = make_world()
    w.step()
    [call] = w.intents()
    assert call.state == "sent" and fake_twilio.count_for(call.intent_id) == 1
    assert w.outcomes(call.intent_id)[-1] == "sent" and "retry" in w.outcomes(call.intent_id)
    assert [c.to for c in fake_twilio.calls] == [PHONE]


def test_given_the_call_request_times_out_after_twilio_took_it_then_the_sweeper_finds_the_call(
    make_world, fake_twilio
):
    fake_twilio.slow(3.0)
    w = make_world(twilio_timeout=0.5)
    w.step()
    [call] = w.intents()
    assert call.state == "unknown" and fake_twilio.count_for(call.intent_id) == 1
    # When the sweeper asks Twilio, once the status callback is overdue
    w.clock[0] += timedelta(minutes=11)
    w.step()
    # Then the call is recorded as placed, under Twilio's SID, and was placed once only
    [call] = w.intents()
    assert (call.state, call.reason) == ("sent", "reconciled")
    assert call.provider_id == fake_twilio.calls[0].sid
    assert w.outcomes(call.intent_id)[-1] == "reconciled_sent"
    w.run(days=2)
    assert fake_twilio.count_for(call.intent_id) == 1 and call_posts(fake_twilio) == 1
    assert [c for c, _ in w.sends()] == ["voice", "sms"]


def test_given_the_connection_is_reset_before_twilio_read_the_call_then_it_is_placed_once_later(
    make_world, fake_twilio
):
    fake_twilio.hang_up_unread()
    w = make_world()
    w.step()
    [call] = w.intents()
    assert call.state == "unknown" and fake_twilio.calls == []
    w.clock[0] += timedelta(minutes=11)
    w.step()
    [call] = w.intents()
    assert call.state == "sent" and fake_twilio.count_for(call.intent_id) == 1
    assert w.outcomes(call.intent_id)[-2:] == ["reconciled_unsent", "sent"]


@pytest.mark.parametrize(
    ("status", "code", "state", "texted"),
    [
        ("failed", "13224", "failed", False),  # Twilio could not dial: the number is invalid
        ("busy", None, "sent", True),  # an attempt that rang: the ladder waits, then texts
        ("no-answer", None, "sent", True),
    ],
)
def test_a_call_status_callback_settles_the_call_and_the_ladder_follows(
    make_world, fake_twilio, status, code, state, texted
):
    w = make_world()
    w.step()
    [call] = w.intents()
    outcome = Intake(w.rt).delivery_status(
        intent_id=call.intent_id, provider_id=call.provider_id, status=status, code=code
    )
    assert w.intents()[0].state == state
    assert outcome == ("failed" if state == "failed" else "noted")
    w.run(days=2)
    assert (len(fake_twilio.messages) == 1) is texted
    assert len(fake_twilio.calls) == 1
