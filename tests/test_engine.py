"""The engine's escalation semantics, scenario by scenario (DESIGN.md, "Escalation semantics")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dunning.core.domain.engine import decide
from dunning.core.domain.model import Contact, ContactStatus, Event, EventKind, History, intent_id_for
from dunning.core.policy.explain import explain
from dunning.testing.factories import make_case

UTC = UTC
SHANGHAI = timezone(timedelta(hours=8))

LADDER = """
name: t
preset: none
quiet_hours: {start: "21:00", end: "08:00"}
segments:
  - {name: big, when: "amount_due >= 5000", ladder: firm}
  - {name: default, ladder: gentle}
ladders:
  gentle:
    start_after: 1d
    steps:
      - {channel: sms,   template: overdue_notice, wait: 2d}
      - {channel: push,  template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call,   wait: 2d}
    then: %s
  firm:
    steps:
      - {channel: voice, template: overdue_call, wait: 1d}
    then: stop
responses: {promise_grace: 1d, reply_pause: 1d}
"""

START = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def policy(make_policy):
    return make_policy(LADDER % "stop")


def sends(lines):
    return [
        (line.action.channel, line.local.replace(tzinfo=None)) for line in lines if line.action.kind == "send"
    ]


def ev(kind, local: str, **kw) -> Event:
    return Event(kind=kind, at=datetime.fromisoformat(local).replace(tzinfo=SHANGHAI), case_id="C-1", **kw)


def test_no_response_escalates_sms_then_push_then_voice_with_the_waits(policy):
    # Given a debtor due on 1 December who never answers
    lines = explain(make_case(), policy, START, 14)
    # Then SMS at the first lawful moment after start_after, push 2 days later, a call a day later
    assert sends(lines) == [
        ("sms", datetime(2026, 12, 2, 8, 0)),
        ("push", datetime(2026, 12, 4, 8, 0)),
        ("voice", datetime(2026, 12, 5, 8, 0)),
    ]
    # And the first send was deferred out of the quiet hours, with the rule named
    first = lines[0].action
    assert (first.kind, first.rule) == ("defer", "quiet_hours:policy")
    assert lines[-1].action.kind == "stop" and lines[-1].action.rule == "ladder_end"


def test_full_payment_stops_everything_after_it(policy):
    events = [ev("payment", "2026-12-03T15:00:00", amount=Decimal("3200.00"))]
    lines = explain(make_case(), policy, START, 14, events)
    assert sends(lines) == [("sms", datetime(2026, 12, 2, 8, 0))]
    assert lines[-1].action.kind == "stop" and lines[-1].action.rule == "paid"


def test_partial_payment_continues_with_the_new_amount(policy):
    case = make_case(amount_due=Decimal("6000"))
    events = [ev("payment", "2026-12-01T10:00:00", amount=Decimal("1500"))]
    decision = decide(case, History(events=tuple(events)), policy, datetime(2026, 12, 2, 1, tzinfo=UTC))
    # The outstanding amount falls below 5000, so the gentle ladder is chosen, not the firm one
    assert decision.outstanding == Decimal("4500")
    assert decision.segment == "default" and decision.sends[0].channel == "sms"


def test_payments_already_reflected_in_the_imported_amount_are_not_subtracted_again(policy):
    case = make_case(amount_due=Decimal("100"), amount_as_of=datetime(2026, 12, 1, 12, tzinfo=UTC))
    events = (ev("payment", "2026-12-01T10:00:00", amount=Decimal("100")),)  # before the import
    decision = decide(case, History(events=events), policy, datetime(2026, 12, 2, 1, tzinfo=UTC))
    assert decision.status == "open" and decision.outstanding == Decimal("100")


def test_promise_pauses_until_date_plus_grace_then_re_escalates(policy):
    events = [ev("promise", "2026-12-02T12:00:00", date=date(2026, 12, 6))]
    lines = explain(make_case(), policy, START, 14, events)
    hold = next(line.action for line in lines if line.action.kind == "hold")
    assert hold.rule == "promise"
    # End of the promised day plus one day of grace, in the debtor's zone
    assert hold.until == datetime(2026, 12, 8, 0, 0, tzinfo=SHANGHAI)
    assert sends(lines) == [
        ("sms", datetime(2026, 12, 2, 8, 0)),
        ("sms", datetime(2026, 12, 6, 8, 0)),  # on the promised day, at the first lawful moment
        ("push", datetime(2026, 12, 8, 8, 0)),  # re-escalates to the next step, lawfully
        ("voice", datetime(2026, 12, 9, 8, 0)),
    ]
    reminder = next(line.action for line in lines if line.action.kind == "send" and line.action.ladder)
    assert reminder.template == "overdue_notice"
    on_the_day = [line.action for line in lines if line.action.kind == "send"][1]
    assert (on_the_day.ladder, on_the_day.template) == ("(promise)", "promise_due")


def test_kept_promise_means_no_more_contact(policy):
    events = [
        ev("promise", "2026-12-02T12:00:00", date=date(2026, 12, 6)),
        ev("payment", "2026-12-05T09:00:00", amount=Decimal("3200")),
    ]
    assert sends(explain(make_case(), policy, START, 14, events)) == [("sms", datetime(2026, 12, 2, 8, 0))]


def test_reply_pauses_for_the_pause_and_restarts_at_the_same_level(policy):
    events = [ev("reply", "2026-12-04T12:00:00", text="在外地，下周处理")]
    lines = explain(make_case(), policy, START, 8, events)
    assert sends(lines)[:4] == [
        ("sms", datetime(2026, 12, 2, 8, 0)),
        ("push", datetime(2026, 12, 4, 8, 0)),
        ("push", datetime(2026, 12, 5, 12, 0)),  # same level again, a day after the reply
        ("voice", datetime(2026, 12, 6, 12, 0)),
    ]


def test_dispute_holds_for_a_human_until_resumed(policy):
    events = [
        ev("dispute", "2026-12-02T10:00:00", text="不是我的"),
        ev("resume", "2026-12-09T10:00:00"),
    ]
    lines = explain(make_case(), policy, START, 12, events)
    held = [line for line in lines if line.action.kind == "hold"]
    assert held and held[0].action.rule == "dispute" and held[0].action.until is None
    assert [s for s in sends(lines) if datetime(2026, 12, 2, 10) <= s[1] < datetime(2026, 12, 9, 10)] == []
    assert sends(lines)[1] == ("push", datetime(2026, 12, 9, 10, 0))


def test_opt_out_of_one_channel_falls_through_to_the_next(policy):
    events = [ev("opt_out", "2026-12-01T09:00:00", channel="sms")]
    lines = explain(make_case(), policy, START, 6, events)
    assert sends(lines)[0] == ("push", datetime(2026, 12, 2, 8, 0))
    skipped = [line.action for line in lines if line.action.kind == "suppress"]
    assert skipped[0].channel == "sms" and skipped[0].rule == "opt_out:sms"


def test_opt_out_of_every_channel_stops_the_case(policy):
    events = [ev("opt_out", "2026-12-02T09:00:00", channel="all")]
    lines = explain(make_case(), policy, START, 10, events)
    assert sends(lines) == [("sms", datetime(2026, 12, 2, 8, 0))]
    assert lines[-1].action.kind == "stop" and lines[-1].action.rule == "opt_out"


def test_wrong_number_invalidates_the_phone_for_sms_and_voice(policy):
    events = [ev("wrong_number", "2026-12-02T09:00:00", channel="sms", address="+8613800138000")]
    lines = explain(make_case(), policy, START, 10, events)
    assert [s[0] for s in sends(lines)] == ["sms", "push"]
    assert any(line.action.rule == "invalid_contact:phone" for line in lines)
    # A new number (re-imported) is usable again
    fresh = explain(make_case(phone="+8613900139000"), policy, START, 10, events)
    assert [s[0] for s in sends(fresh)] == ["sms", "push", "voice"]


def test_missing_push_token_falls_through_to_the_call_at_once(policy):
    lines = explain(make_case(push_token=None), policy, START, 6)
    assert sends(lines) == [("sms", datetime(2026, 12, 2, 8, 0)), ("voice", datetime(2026, 12, 4, 8, 0))]
    assert any(line.action.rule == "no_address:push_token" for line in lines)


def first_text(status: ContactStatus) -> Contact:
    """The gentle ladder's text, sent (or tried) at 08:00 Shanghai on 2 December, in ``status``."""
    return Contact(
        intent_id="x",
        case_id="C-1",
        channel="sms",
        ladder="gentle",
        step=0,
        cycle=0,
        seq=0,
        at=datetime(2026, 12, 2, 0, 0, tzinfo=UTC),
        status=status,
    )


def test_permanent_failure_falls_back_to_the_next_step_at_once(policy):
    case = make_case()
    failed = first_text(ContactStatus.FAILED)
    decision = decide(case, History(contacts=(failed,)), policy, datetime(2026, 12, 2, 0, 5, tzinfo=UTC))
    assert [(a.kind, a.channel) for a in decision.actions] == [("send", "push")]


def test_a_pending_reminder_blocks_the_next_plan(policy):
    pending = first_text(ContactStatus.PENDING)
    later = datetime(2026, 12, 9, tzinfo=UTC)
    decision = decide(make_case(), History(contacts=(pending,)), policy, later)
    assert decision.actions == () and decision.next_check == later


def test_a_text_in_doubt_holds_the_ladder_for_a_day_past_its_wait_and_an_unknown_one_does_not(policy):
    doubt = first_text(ContactStatus.IN_DOUBT)
    sent_at = doubt.at
    push_due = sent_at + timedelta(days=2)  # the text's wait
    # While Twilio is asked whether the text left, the push waits, looked at again every 15 minutes
    held = decide(make_case(), History(contacts=(doubt,)), policy, push_due + timedelta(hours=2))
    assert held.actions == () and held.next_check == push_due + timedelta(hours=2, minutes=15)
    early = decide(make_case(), History(contacts=(doubt,)), policy, sent_at + timedelta(hours=1))
    assert early.actions == () and early.next_check == push_due
    last = decide(make_case(), History(contacts=(doubt,)), policy, push_due + timedelta(hours=23, minutes=50))
    assert last.actions == () and last.next_check == push_due + timedelta(days=1)
    # A day past the wait, the ladder moves on, counting the text as contact
    moved = decide(make_case(), History(contacts=(doubt,)), policy, push_due + timedelta(days=1, hours=2))
    assert [(a.kind, a.channel) for a in moved.actions] == [("send", "push")]
    # A promise made meanwhile is held as a promise, whatever the text's fate
    promised = ev("promise", "2026-12-04T09:00:00", date=date(2026, 12, 10))
    promise = decide(
        make_case(), History(events=(promised,), contacts=(doubt,)), policy, push_due + timedelta(hours=4)
    )
    assert promise.status == "held" and [(a.kind, a.rule) for a in promise.actions] == [("hold", "promise")]
    # An ambiguous send no provider can settle holds nothing
    unknown = replace(doubt, status=ContactStatus.UNKNOWN)
    went = decide(make_case(), History(contacts=(unknown,)), policy, push_due + timedelta(hours=2))
    assert [(a.kind, a.channel) for a in went.actions] == [("send", "push")]


@pytest.mark.parametrize(
    ("then", "expected_tail"),
    [("repeat_last", ["voice", "voice"]), ("restart", ["sms", "push"])],
)
def test_ladder_end_repeats_or_restarts(make_policy, then, expected_tail):
    lines = explain(make_case(), make_policy(LADDER % then), START, 10)
    channels = [s[0] for s in sends(lines)]
    assert channels[:3] == ["sms", "push", "voice"] and channels[3:5] == expected_tail


def test_ladder_end_with_handoff_holds_for_an_agent(make_policy):
    lines = explain(make_case(), make_policy(LADDER % "handoff"), START, 12)
    assert lines[-1].action.kind == "hold" and lines[-1].action.rule == "handoff"


def test_segment_is_chosen_by_amount(policy):
    decision = decide(
        make_case(amount_due=Decimal("9000")), History(), policy, datetime(2026, 12, 1, 2, tzinfo=UTC)
    )
    assert decision.segment == "big" and decision.sends[0].channel == "voice"


def test_intent_ids_are_deterministic_and_distinct(policy):
    case = make_case()
    at = datetime(2026, 12, 2, 1, tzinfo=UTC)
    first = decide(case, History(), policy, at).sends[0]
    again = decide(case, History(), policy, at).sends[0]
    assert first.intent_id == again.intent_id == intent_id_for("C-1", "gentle", 0, 0, 0)
    lines = explain(case, make_policy_repeat(policy), START, 20)
    ids = [line.action.intent_id for line in lines if line.action.kind == "send"]
    assert len(ids) == len(set(ids))


def make_policy_repeat(policy):
    from dataclasses import replace

    ladder = replace(policy.ladders["gentle"], then="repeat_last")
    return replace(policy, ladders={**policy.ladders, "gentle": ladder})


def test_a_debtor_with_two_loans_is_capped_as_one_person(make_policy):
    policy = make_policy(
        """
        name: t
        preset: none
        caps: [{channel: any, max: 1, per: 1d, scope: debtor}]
        segments: [{name: d, ladder: l}]
        ladders:
          l: {steps: [{channel: sms, template: overdue_notice, wait: 1d}]}
        """
    )
    other = Contact(
        intent_id="o",
        case_id="C-OTHER",
        channel="sms",
        ladder="l",
        step=0,
        cycle=0,
        seq=0,
        at=datetime(2026, 12, 2, 3, 0, tzinfo=UTC),
    )
    decision = decide(make_case(), History(contacts=(other,)), policy, datetime(2026, 12, 2, 4, tzinfo=UTC))
    assert decision.actions[0].kind == "defer"
    assert decision.actions[0].until == datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    assert decision.actions[0].rule.startswith("cap:any:1/1d:debtor")


def test_ab_variants_are_stable_per_debtor_and_follow_the_weights(make_policy):
    policy = make_policy(
        """
        name: t
        preset: none
        segments: [{name: d, ladder: l}]
        ladders:
          l:
            steps:
              - channel: sms
                variants:
                  - {name: soft, template: overdue_notice, weight: 3}
                  - {name: firm, template: overdue_firm, weight: 1}
                wait: 1d
        """
    )
    at = datetime(2026, 12, 2, 4, tzinfo=UTC)
    chosen = [
        decide(make_case(debtor_id=f"D-{i}"), History(), policy, at).sends[0].variant for i in range(2000)
    ]
    again = [
        decide(make_case(debtor_id=f"D-{i}"), History(), policy, at).sends[0].variant for i in range(2000)
    ]
    assert chosen == again
    share = chosen.count("soft") / len(chosen)
    assert 0.70 < share < 0.80


def test_an_unanswered_case_in_a_conversation_cooldown_is_not_called(make_policy):
    policy = make_policy(
        """
        name: t
        preset: us_reg_f
        segments: [{name: d, ladder: l}]
        ladders:
          l: {steps: [{channel: voice, template: overdue_call, wait: 1h}], then: repeat_last}
        """
    )
    case = make_case(timezone="America/New_York", phone="+12125551234", locale="en", currency="USD")
    talk = Event(kind=EventKind.CONVERSATION, at=datetime(2026, 12, 2, 15, tzinfo=UTC), case_id="C-1")
    decision = decide(case, History(events=(talk,)), policy, datetime(2026, 12, 3, 15, tzinfo=UTC))
    defer = decision.actions[0]
    assert defer.kind == "defer" and defer.rule.startswith("cooldown:conversation:1w")
    # Day of the conversation is day 1: calls may resume at local midnight seven days later, then 8:00.
    assert defer.until == datetime(2026, 12, 9, 8, 0, tzinfo=timezone(timedelta(hours=-5)))


def test_a_channel_only_invalidation_keeps_the_other_channels_of_that_number(policy):
    # A landline: Twilio refuses SMS to it (21614), but it can still be called.
    events = [ev("invalid_contact", "2026-12-01T09:00:00", channel="sms", address="+8613800138000")]
    lines = explain(make_case(push_token=None), policy, START, 6, events)
    assert [s[0] for s in sends(lines)] == ["voice"]
    assert any(line.action.rule == "invalid_contact:sms" for line in lines)
