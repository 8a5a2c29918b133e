"""What ``dunning simulate`` models: partial payments, provider failures, learned send hours, strategies.

Each test is a small simulation whose figures can be checked by hand: one
debtor who always pays half, a provider that refuses every text, a debtor who
always answers at 20:00, a holdout that is never contacted.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dunning.core.reporting.reports import ReportOptions, build_report
from dunning.core.simulation.behaviour import ResponseModelError, parse_model
from dunning.core.simulation.portfolio import PortfolioSource
from dunning.core.simulation.run import SimulationConfig, run_simulation
from dunning.core.simulation.simulate import simulate
from dunning.core.simulation.store import write_store
from dunning.core.store import open_store
from dunning.core.store.schema import cases, debtors, events, intents
from dunning.testing.factories import make_case

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
START = datetime(2026, 12, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANNELS = ("sms", "push", "voice")
#: Nobody answers, pays on their own or fails unless a test says so.
SILENT = "{delivered: 1, pay: 0, promise: 0, reply: 0, opt_out: 0, dispute: 0, self_cure: 0, fatigue: 1}"

TEXT_THEN_CALL = """
name: text-then-call
preset: china
default_timezone: Asia/Shanghai
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 1d}
    then: repeat_last
"""

TEXT_THEN_PUSH = """
name: text-then-push
preset: china
default_timezone: Asia/Shanghai
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 1d}
      - {channel: push, template: overdue_notice, wait: 1d}
    then: stop
"""

LEARNED = """
name: learned
preset: china
default_timezone: Asia/Shanghai
windows:
  sms: {hours: "09:00-21:00", send_at: SEND_AT}
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps: [{channel: sms, template: overdue_notice, wait: 1d}]
    then: repeat_last
responses: {reply_pause: 12h}
"""


def model(text: str):
    return parse_model(text, file="responses.yaml", channels=CHANNELS)


# ---------------------------------------------------------------- partial payments


def test_given_a_debtor_who_pays_half_after_a_text_and_the_rest_after_a_call_then_the_ladder_goes_on(
    make_policy, tmp_path
):
    # Given 1000.00 CNY owed, a debtor who pays half of it after a text and all that is left after a call
    responses = model(
        f"default: {SILENT}\n"
        "channels:\n"
        "  sms: {pay: 1, partial: 1, partial_size: {min: 0.5, mode: 0.5, max: 0.5}, delay: 1h, spread: 0}\n"
        "  voice: {pay: 1, partial: 0, delay: 1h, spread: 0}\n"
    )
    case = make_case(amount_due=Decimal("1000.00"))
    # When the text-then-call ladder runs for four days
    rows = simulate(make_policy(TEXT_THEN_CALL), responses, [case], start=START, days=4, seed=1)
    # Then 500.00 is paid an hour after the text, the ladder goes on to the call, and the rest closes the case
    paid = [(e["at"], e["amount"], e["full"]) for e in rows.events if e["kind"] == "payment"]
    text_at = datetime(2026, 12, 2, tzinfo=UTC)  # 08:00 in Shanghai, when the quiet hours end
    call_at = text_at + timedelta(days=1)
    assert paid == [
        (text_at + timedelta(hours=1), Decimal("500.00"), False),
        (call_at + timedelta(hours=1), None, True),
    ]
    assert [(r["channel"], r["contact_at"]) for r in rows.intents] == [("sms", text_at), ("voice", call_at)]
    assert rows.cases[0]["status"] == "paid"
    # And the report counts every yuan: 500 by the first day after the first reminder, 1000 by the third
    store = write_store(tmp_path / "partial.db", rows)
    try:
        with store.read() as conn:
            report = build_report(conn, ReportOptions(as_of=START + timedelta(days=4), curve_days=(1, 3)))
    finally:
        store.dispose()
    money = report.total.recovery["CNY"]
    assert (money.recovered, money.curve[1], money.curve[3]) == (Decimal(1000), Decimal(500), Decimal(1000))


def test_given_partial_payments_only_then_the_balance_halves_each_day_and_the_case_stays_open(make_policy):
    # Given a debtor who, after every text, pays half of what is still owed
    responses = model(
        f"default: {SILENT}\n"
        "channels:\n"
        "  sms: {pay: 1, partial: 1, partial_size: {min: 0.5, mode: 0.5, max: 0.5}, delay: 1h, spread: 0}\n"
    )
    ladder = TEXT_THEN_CALL.replace("      - {channel: voice, template: overdue_call, wait: 1d}\n", "")
    # When it runs for four days, a text each morning at 08:00
    rows = simulate(
        make_policy(ladder),
        responses,
        [make_case(amount_due=Decimal("1000.00"))],
        start=START,
        days=4,
        seed=1,
    )
    # Then they pay 500, 250 and 125: the outstanding amount drops and the texts go on
    assert [e["amount"] for e in rows.events if e["kind"] == "payment"] == [
        Decimal("500.00"),
        Decimal("250.00"),
        Decimal("125.00"),
    ]
    assert len(rows.intents) == 4  # the fourth at the run's last moment, its answer after the end
    assert rows.cases[0]["status"] == "open"


# ---------------------------------------------------------------- provider failures


def test_given_a_provider_that_refuses_every_text_then_the_ladder_falls_through_to_push_at_once(make_policy):
    # Given an SMS provider that refuses every text for good
    responses = model(f"default: {SILENT}\nchannels:\n  sms: {{permanent_failure: 1}}\n")
    # When the text-then-push ladder starts
    rows = simulate(make_policy(TEXT_THEN_PUSH), responses, [make_case()], start=START, days=2, seed=1)
    # Then the text fails as the worker records it, and the push goes at the next tick, not a day later
    text, push = rows.intents
    at = datetime(2026, 12, 2, tzinfo=UTC)
    assert (text["channel"], text["state"], text["reason"], text["attempts"]) == (
        "sms",
        "failed",
        "permanent",
        1,
    )
    assert (push["channel"], push["state"], push["contact_at"]) == (
        "push",
        "delivered",
        at + timedelta(seconds=30),
    )
    assert [(a["channel"], a["outcome"]) for a in rows.attempts] == [("sms", "failed"), ("push", "sent")]
    failed = [a for a in rows.audit if a["kind"] == "intent" and a["action"] == "failed"]
    assert [(a["channel"], a["rule"]) for a in failed] == [("sms", "permanent")]


def test_given_a_provider_that_is_down_then_each_text_is_retried_with_backoff_before_falling_through(
    make_policy,
):
    # Given an SMS provider that answers every attempt with a 503
    responses = model(f"default: {SILENT}\nchannels:\n  sms: {{transient_failure: 1}}\n")
    # When the text-then-push ladder starts
    rows = simulate(make_policy(TEXT_THEN_PUSH), responses, [make_case()], start=START, days=2, seed=1)
    # Then the worker tries five times, 1, 2, 4 and 8 seconds apart, then fails it and the push goes
    at = datetime(2026, 12, 2, tzinfo=UTC)
    tries = [
        (round((a["at"] - at).total_seconds()), a["outcome"]) for a in rows.attempts if a["channel"] == "sms"
    ]
    assert tries == [(0, "retry"), (1, "retry"), (3, "retry"), (7, "retry"), (15, "failed")]
    text, push = rows.intents
    assert (text["state"], text["reason"], text["attempts"]) == ("failed", "retries_exhausted", 5)
    assert (push["channel"], push["state"]) == ("push", "delivered")


def test_given_a_flaky_provider_then_retried_texts_go_out_late_by_the_backoff(make_policy):
    # Given an SMS provider that fails half of the attempts for now
    responses = model(f"default: {SILENT}\nchannels:\n  sms: {{transient_failure: 0.5}}\n")
    book = [make_case(case_id=f"C-{n}", debtor_id=f"D-{n}") for n in range(60)]
    # When sixty debtors get their first text
    rows = simulate(make_policy(TEXT_THEN_PUSH), responses, book, start=START, days=1, seed=3)
    texts = [r for r in rows.intents if r["channel"] == "sms"]
    # Then each text sent after n attempts went out 0, 1, 3, 7 seconds late; the rest failed after five
    delays = {1: 0, 2: 1, 3: 3, 4: 7}
    for text in texts:
        if text["state"] == "failed":
            assert (text["reason"], text["attempts"]) == ("retries_exhausted", 5)
        else:
            late = (text["contact_at"] - text["planned_at"]).total_seconds()
            assert late == delays[text["attempts"]], text
    made = Counter(text["attempts"] for text in texts)
    assert made[1] and made[2] and len(made) >= 3  # most go at once, many after a retry or more
    assert len(rows.attempts) - len(rows.intents) == sum(t["attempts"] - 1 for t in texts)


# ---------------------------------------------------------------- learned send hours


def evening_habit(policy_text: str, make_policy, send_at: str):
    """Three debtors due 1 December and one due 4 December, all replying to every text at 20:xx."""
    responses = model(
        "default: {delivered: 1, pay: 0, promise: 0, reply: 1, opt_out: 0, dispute: 0, self_cure: 0,"
        " fatigue: 1, answer_hours: {20: 1}, habit: 1}\n"
    )
    book = [make_case(case_id=f"C-{n}", debtor_id=f"D-{n}") for n in (1, 2, 3)]
    book.append(make_case(case_id="C-9", debtor_id="D-9", due_date=date(2026, 12, 4)))
    policy = make_policy(policy_text.replace("SEND_AT", send_at))
    return simulate(policy, responses, book, start=START, days=6, seed=1)


def test_given_a_debtor_who_always_answers_at_20_then_learned_reminders_go_at_20(make_policy):
    # Given debtors who always answer at 20:00-21:00, Shanghai time
    rows = evening_habit(LEARNED, make_policy, "learned")
    answers = [e["at"].astimezone(SHANGHAI).hour for e in rows.events if e["kind"] == "reply"]
    assert answers and set(answers) == {20}
    # When their texts are sent under send_at: learned
    by_case: dict[str, list[int]] = {}
    for row in rows.intents:
        by_case.setdefault(row["case_id"], []).append(row["contact_at"].astimezone(SHANGHAI).hour)
    # Then after their first answer every reminder goes out at 20:xx, saying why
    for case_id in ("C-1", "C-2", "C-3"):
        _first, *later = by_case[case_id]
        assert later and set(later) == {20}, (case_id, by_case[case_id])
    rules = [a["rule"] for a in rows.audit if a["case_id"] == "C-1" and a["action"] == "defer"]
    assert rules[0] == "send_window:spread" and set(rules[1:]) == {"learned_hour:20"}
    # And a debtor who never answered is texted at the hour their segment answers, learned from the others
    assert set(by_case["C-9"]) == {20}
    first_deferral = next(a for a in rows.audit if a["case_id"] == "C-9" and a["action"] == "defer")
    assert first_deferral["rule"] == "learned_hour:20:segment"


def test_given_the_same_debtors_without_learned_send_times_then_their_texts_are_spread(make_policy):
    # Given the same evening debtors, when their window spreads texts instead
    rows = evening_habit(LEARNED, make_policy, "spread")
    hours = {r["contact_at"].astimezone(SHANGHAI).hour for r in rows.intents}
    # Then the texts keep each debtor's own minute of the window, mostly not in the evening hour
    assert len(hours) > 1 and hours != {20}
    assert not any((a["rule"] or "").startswith("learned_hour") for a in rows.audit)


# ---------------------------------------------------------------- strategies and the holdout


def test_given_champion_challenger_and_a_holdout_then_strategies_are_recorded_and_the_holdout_is_never_contacted(
    tmp_path,
):
    # Given the example champion/challenger policy with a 5% holdout over 400 synthetic cases
    config = SimulationConfig(
        (str(EXAMPLES / "policy-challenger.yaml"),),
        PortfolioSource(cases=400, seed=4, start=START),
        START,
        30,
        4,
    )
    # When it is simulated for 30 days
    (result,) = run_simulation(config, ReportOptions(), tmp_path, jobs=1)
    store = open_store(f"sqlite:///{result.store}", migrate=False)
    try:
        with store.read() as conn:
            assigned = dict(conn.execute(select(debtors.c.debtor_id, debtors.c.strategy)).all())
            sent = conn.execute(select(intents.c.debtor_id, intents.c.strategy)).all()
            held_out = [d for d, s in assigned.items() if s == "holdout"]
            paid = conn.execute(
                select(cases.c.case_id).where(cases.c.debtor_id.in_(held_out), cases.c.status == "paid")
            ).all()
            held_events = conn.execute(select(events.c.kind).where(events.c.debtor_id.in_(held_out))).all()
    finally:
        store.dispose()
    # Then every person has a strategy, split roughly 80/15/5, and every reminder carries its person's
    shares = Counter(assigned.values())
    assert set(shares) == {"champion", "challenger", "holdout"}
    assert shares["champion"] > 250 and 30 < shares["challenger"] < 90 and 5 <= shares["holdout"] < 40
    assert all(strategy == assigned[debtor] for debtor, strategy in sent)
    # And no holdout debtor was sent anything, yet some paid on their own (self-cure)
    assert not {debtor for debtor, _ in sent} & set(held_out)
    assert paid and {kind for (kind,) in held_events} == {"payment"}
    # And the report compares the contacted with the holdout, and each strategy with the champion
    holdout = result.report.holdout
    assert holdout is not None and holdout.holdout.cases == shares_of_cases(result, "holdout")
    assert holdout.holdout.paid == len(paid)
    assert result.strategies is not None
    challenger = result.strategies.row(strategy="challenger")
    assert challenger.comparisons["strategy"].baseline == "champion"
    # And decisions count for their strategy (deferrals are not lost to a strategy of none)
    assert result.strategies.row(strategy="champion").deferrals > 0


def shares_of_cases(result, strategy: str) -> int:
    return result.assigned[strategy][0]


# ---------------------------------------------------------------- the response model's new keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "default:\n  partial_size: {min: 0.6, mode: 0.3, max: 0.8}\n",
            "r.yaml:2: default.partial_size: needs min <= mode <= max",
        ),
        ("default:\n  partial_size: {min: 0.2, mode: 0.5, max: 1}\n", "r.yaml:2: default.partial_size.max"),
        ("default:\n  answer_hours: {25: 1}\n", "r.yaml:2: default.answer_hours: 25 is not an hour"),
        ("default:\n  answer_hours: {9: 0}\n", "default.answer_hours: at least one hour needs a weight"),
        (
            "channels:\n  sms:\n    habit: 0.5\n",
            "r.yaml:3: channels.sms.habit: a habit is the debtor's, not a channel's",
        ),
        ("default:\n  transient_failure: 2\n", "r.yaml:2: default.transient_failure: Input should be less"),
        (
            "default: {pay: 0.4, promise: 0.3, reply: 0.2, habit_lift: 1.5}\n",
            "(pay, promise and reply x habit_lift 1.5) = 1.36: the shares add up to more than 1",
        ),
    ],
)
def test_given_a_bad_new_response_key_then_the_error_names_its_line_and_field(text, expected):
    with pytest.raises(ResponseModelError) as caught:
        parse_model(text, file="r.yaml", channels=CHANNELS)
    assert expected in str(caught.value)
