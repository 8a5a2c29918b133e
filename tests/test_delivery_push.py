"""Push end to end through the delivery actor: the real firebase-admin SDK against the fake FCM.

The embedded runtime runs on a simulated clock with the push and voice
channels pointed at the fakes; a ladder of push, then a call, restarting.
Each FCM error of DOMAIN.md must do what the table says: drop the token,
retry, or fall back while keeping it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dunning.core.store.schema import attempts
from dunning.testing.factories import make_case
from dunning.testing.fake_fcm import INVALID_TOKEN_MESSAGE
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
      - {channel: push, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 1d}
    then: restart
"""


@pytest.fixture
def make_world(
    tmp_path, database_url, fake_twilio, fake_fcm, fcm_service_account
) -> Iterator[Callable[..., World]]:
    """Build the world with ``cases`` due (one by default); keywords override settings."""
    built: list[World] = []

    def make(cases: int = 1, **overrides: Any) -> World:
        debtors = [make_case()] if cases == 1 else [_debtor(i) for i in range(cases)]
        world = start_world(
            tmp_path,
            database_url,
            POLICY,
            debtors,
            [T0],
            threads=4,
            min_backoff_ms=20,
            max_backoff_ms=2000,
            **{**fake_twilio.settings(), **fake_fcm.settings(fcm_service_account), **overrides},
        )
        built.append(world)
        return world

    yield make
    for world in built:
        world.close()


def _debtor(i: int) -> Any:
    return make_case(
        case_id=f"C-{i:03}", debtor_id=f"D-{i:03}", phone=f"+86138001{i:05}", push_token=f"tok-{i}"
    )


def sends_to_fcm(fake_fcm) -> int:
    return sum(1 for r in fake_fcm.requests if r.path.endswith("/messages:send"))


# ------------------------------------------------------------------ dead tokens


@pytest.mark.parametrize(
    ("error", "how"),
    [
        ("UNREGISTERED", {}),
        ("SENDER_ID_MISMATCH", {}),
        # FCM blames the token of an INVALID_ARGUMENT in a field violation, or in so many words
        ("INVALID_ARGUMENT", {"field": "message.token"}),
        ("INVALID_ARGUMENT", {"message": INVALID_TOKEN_MESSAGE}),
    ],
)
def test_given_a_dead_push_token_then_it_is_dropped_and_the_call_follows_at_once(
    make_world, fake_fcm, fake_twilio, error, how
):
    fake_fcm.fail(TOKEN, error, **how)
    w = make_world()
    w.step()
    # Then the push failed and the token is recorded as unusable for push
    [push] = w.intents()
    assert (push.channel, push.state, push.error_code) == ("push", "failed", error)
    assert w.events() == [("invalid_contact", "push", TOKEN)]
    # And the call goes at once
    w.step()
    assert w.sends() == [("push", "failed"), ("voice", "sent")]
    assert [c.to for c in fake_twilio.calls] == [PHONE]
    # And through the ladder's restarts, the token is never tried again; the calls go on
    w.run(days=4)
    assert sends_to_fcm(fake_fcm) == 1
    assert {c for c, state in w.sends() if state == "sent"} == {"voice"}
    assert len(fake_twilio.calls) >= 2


# ------------------------------------------------------------------ retried


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [("QUOTA_EXCEEDED", 0.3), ("UNAVAILABLE", None), ("INTERNAL", None)],
)
def test_given_fcm_asks_to_retry_then_the_push_is_retried_and_arrives_once(
    make_world, fake_fcm, fake_twilio, error, retry_after
):
    fake_fcm.outage(error, requests=2, retry_after=retry_after)
    w = make_world()
    w.step()
    [push] = w.intents()
    assert push.state == "sent" and fake_fcm.count_for(push.intent_id) == 1
    assert w.attempts(push.intent_id) == [("retry", error)] * 2 + [("sent", None)]
    # And nothing fell back: no call, the token is kept
    assert fake_twilio.calls == [] and w.events() == []
    if retry_after is not None:
        with w.rt.store.read() as conn:
            retried = conn.scalar(
                select(attempts.c.at)
                .where(attempts.c.intent_id == push.intent_id, attempts.c.outcome == "retry")
                .order_by(attempts.c.id.desc())
            )
        assert push.enqueued_at == retried + timedelta(seconds=retry_after)


# ------------------------------------------------------------------ permanent, token kept


@pytest.mark.parametrize("field", [None, "message.android.ttl"])
def test_given_an_invalid_argument_then_the_push_fails_without_retry_and_the_call_follows(
    make_world, fake_fcm, fake_twilio, field
):
    # Given FCM refuses the push for its payload (it names no token field, nor says the token is bad)
    fake_fcm.fail(TOKEN, "INVALID_ARGUMENT", field=field)
    w = make_world()
    w.step()
    [push] = w.intents()
    assert (push.state, push.error_code) == ("failed", "INVALID_ARGUMENT")
    assert w.attempts(push.intent_id) == [("failed", "INVALID_ARGUMENT")]
    assert sends_to_fcm(fake_fcm) == 1
    w.step()
    assert w.sends() == [("push", "failed"), ("voice", "sent")]
    # And the token is not dropped for it
    assert w.events() == []


def test_given_a_third_party_auth_error_then_the_push_fails_alerts_and_the_token_is_kept(
    make_world, fake_fcm, fake_twilio, caplog
):
    fake_fcm.fail(TOKEN, "THIRD_PARTY_AUTH_ERROR")
    w = make_world()
    w.step()
    [push] = w.intents()
    assert (push.state, push.error_code) == ("failed", "THIRD_PARTY_AUTH_ERROR")
    assert "ALERT" in caplog.text
    w.step()
    assert w.sends() == [("push", "failed"), ("voice", "sent")]
    assert w.events() == []
    # When the lender fixes its APNs credential, Then the next cycle pushes to the same token
    fake_fcm.reset()
    w.run(days=1)
    assert [(m.target, m.intent_id) for m in fake_fcm.messages] == [(TOKEN, w.intents()[-1].intent_id)]
    assert w.sends()[-1] == ("push", "sent")


# ------------------------------------------------------------------ ambiguous


def test_given_fcm_answers_after_the_timeout_then_the_push_is_unknown_and_never_resent(
    make_world, fake_fcm, fake_twilio
):
    fake_fcm.slow(3.0)
    w = make_world(fcm_timeout=0.5)
    w.step()
    [push] = w.intents()
    assert push.state == "unknown"
    assert fake_fcm.count_for(push.intent_id) == 1
    # When the sweeper and the scheduler run on for days (FCM cannot be asked what it delivered)
    for _ in range(3):
        w.step()
    w.run(days=3)
    # Then that push was never sent again, and the ladder carried on with the call
    assert fake_fcm.count_for(push.intent_id) == 1
    assert w.intents()[0].state == "unknown"
    assert w.sends()[1] == ("voice", "sent")


# ------------------------------------------------------------------ a burst


def test_a_burst_of_push_reminders_through_an_fcm_hiccup_reaches_each_debtor_exactly_once(
    make_world, fake_fcm, fake_twilio, caplog
):
    caplog.set_level(logging.INFO, logger="dunning")
    # Given 40 debtors due at once, and FCM unavailable for a few of their pushes
    fake_fcm.outage("UNAVAILABLE", requests=5)
    w = make_world(cases=40)
    w.step()
    # Then each debtor's push went exactly once, to that debtor's token
    pushes = w.intents()
    assert len(pushes) == 40 and {p.state for p in pushes} == {"sent"}
    assert len(fake_fcm.messages) == 40
    assert all(fake_fcm.count_for(p.intent_id) == 1 for p in pushes)
    by_intent = {m.intent_id: m.target for m in fake_fcm.messages}
    assert {p.intent_id: p.address for p in pushes} == by_intent
    assert sum(p.attempts for p in pushes) == 45
    # And no call was needed, and no token appears in the log
    assert fake_twilio.calls == []
    assert "tok-1" not in caplog.text
