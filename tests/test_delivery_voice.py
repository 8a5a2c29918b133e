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
from click.testing import CliRunner

from dunning.core.cli import cli
from dunning.core.intake.service import Intake
from dunning.core.reporting.timeline import timeline
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


# ------------------------------------------------------------------ conversations (Reg F)


def conversations(w: World) -> list[str | None]:
    return [channel for kind, channel, _ in w.events() if kind == "conversation"]


@pytest.mark.parametrize(
    ("answered_by", "person"),
    [
        ("human", True),
        ("machine_start", False),  # voicemail: an attempt, not a conversation
        ("machine_end_beep", False),
        ("fax", False),
        ("unknown", False),
        (None, False),  # machine detection off: nobody knows who answered
    ],
)
def test_only_a_call_a_person_answered_counts_as_a_conversation(make_world, answered_by, person):
    # Given a reminder call placed
    w = make_world()
    w.step()
    [call] = w.intents()
    # When Twilio reports it completed, answered by ...
    outcome = Intake(w.rt).delivery_status(
        intent_id=call.intent_id, provider_id=call.provider_id, status="completed", answered_by=answered_by
    )
    # Then it is delivered either way, but only a person starts Reg F's 7-day cool-down
    [call] = w.intents()
    assert (outcome, call.state) == ("delivered", "delivered")
    assert call.connected is person
    assert conversations(w) == (["voice"] if person else [])


def test_a_key_pressed_proves_a_person_once_however_the_call_then_ends(make_world):
    # Given a call with machine detection off, on which the debtor pressed 1
    w = make_world()
    w.step()
    [call] = w.intents()
    intake = Intake(w.rt)
    assert intake.keypress(call.intent_id, "1", at=w.clock[0], event_id="twilio-gather:CA1:1") == "promise"
    # Then the call counts as a conversation at once
    assert w.intents()[0].connected and conversations(w) == ["voice"]
    # And neither the call's completion (a person again) nor a second key records another
    intake.delivery_status(
        intent_id=call.intent_id, provider_id=call.provider_id, status="completed", answered_by="human"
    )
    assert intake.keypress(call.intent_id, "1", at=w.clock[0], event_id="twilio-gather:CA1:1") == "promise"
    assert conversations(w) == ["voice"]
    assert [kind for kind, _, _ in w.events()] == ["conversation", "promise"]


# ------------------------------------------------------------------ repeated callbacks


def test_a_repeated_failure_callback_changes_nothing_and_adds_nothing(make_world):
    w = make_world()
    w.step()
    [call] = w.intents()
    intake = Intake(w.rt)
    first = intake.delivery_status(
        intent_id=call.intent_id, provider_id=call.provider_id, status="failed", code="13224"
    )
    before = (w.intents(), w.events(), w.attempts(call.intent_id), timeline_actions(w))
    # When Twilio posts the same callback again
    again = intake.delivery_status(
        intent_id=call.intent_id, provider_id=call.provider_id, status="failed", code="13224"
    )
    # Then it is recognised and nothing changes: no second attempt, event or timeline row
    assert (first, again) == ("failed", "duplicate")
    assert (w.intents(), w.events(), w.attempts(call.intent_id), timeline_actions(w)) == before


def test_callbacks_with_the_same_status_but_another_sequence_number_are_both_applied(make_world):
    w = make_world()
    w.step()
    [call] = w.intents()
    intake = Intake(w.rt)
    outcomes = [
        intake.delivery_status(
            intent_id=call.intent_id, provider_id=call.provider_id, status="in-progress", sequence=seq
        )
        for seq in ("2", "3", "3")
    ]
    assert outcomes == ["noted", "noted", "duplicate"]
    assert w.outcomes(call.intent_id).count("status:in-progress") == 2


# ------------------------------------------------------------------ the timeline


def timeline_actions(w: World) -> list[tuple[str, str]]:
    return [(e.kind, e.action) for e in timeline(w.rt.store, "C-1") or []]


def test_every_status_callback_of_a_call_shows_in_the_timeline_with_its_code_and_answerer(
    make_world, database_url
):
    w = make_world()
    w.step()
    [call] = w.intents()
    intake = Intake(w.rt)
    for status, answered_by, seq in (("ringing", None, "1"), ("completed", "machine_start", "3")):
        intake.delivery_status(
            intent_id=call.intent_id,
            provider_id=call.provider_id,
            status=status,
            answered_by=answered_by,
            sequence=seq,
        )
    # Then the case's timeline lists each callback after the send, with what Twilio said
    entries = [e for e in timeline(w.rt.store, "C-1") or [] if e.kind == "callback"]
    assert [(e.action, e.channel, e.intent_id) for e in entries] == [
        ("ringing", "voice", call.intent_id),
        ("completed", "voice", call.intent_id),
    ]
    assert entries[1].detail == {
        "status": "completed",
        "answered_by": "machine_start",
        "provider_id": call.provider_id,
    }
    # And `dunning timeline` shows them to an operator, with no phone number in sight
    result = CliRunner().invoke(cli, ["timeline", "C-1"], env={"DUNNING_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    assert "callback" in result.output and "answered by machine_start" in result.output
    assert PHONE not in result.output and PHONE[1:] not in result.output


def test_a_failed_calls_callback_shows_its_error_code_in_the_timeline(make_world):
    w = make_world()
    w.step()
    [call] = w.intents()
    Intake(w.rt).delivery_status(
        intent_id=call.intent_id, provider_id=call.provider_id, status="failed", code="13224"
    )
    [entry] = [e for e in timeline(w.rt.store, "C-1") or [] if e.kind == "callback"]
    assert (entry.action, entry.detail["code"]) == ("failed", "13224")
    assert entry.to_json()["detail"]["code"] == "13224"
