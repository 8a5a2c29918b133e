"""``dunning report`` on a small portfolio whose figures are worked out by hand, on SQLite and PostgreSQL.

The portfolio (T0 = 2 December 2026, 02:00 UTC; every first reminder at T0):

====  ========  =====================================  ==========================================
case  segment   reminders (state, SMS segments)         events
====  ========  =====================================  ==========================================
C-1   default   sms a (delivered, 2)                    paid T0+1d
C-2   default   sms b (sent, 2); push T0+2d (delivered) reply T0+2h; paid T0+3d
C-3   default   sms a (delivered, 1); push T0+2d (sent); opt-out of SMS T0+1h; paid T0+10d
                voice T0+3d (delivered)
C-4   default   sms b (sent, 1); push planned T0+2d     dispute T0+5h (cancels the push)
C-5   large     voice (delivered)                       promise T0+1h; paid T0+2d
C-6   default   none                                    paid T0 (never reminded)
====  ========  =====================================  ==========================================

Unit costs: SMS 0.05 a segment, push 0.01, voice 0.10. Cure window 7 days, response window 3.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.core.domain.engine import assign_variant, decide
from dunning.core.domain.model import Event, EventKind, History, IntentState, intent_id_for
from dunning.core.policy.model import Step, Variant
from dunning.core.price import Price
from dunning.core.reporting.format import render_csv, render_json, report_tables
from dunning.core.reporting.reports import Report, ReportOptions, build_report
from dunning.core.reporting.stats import median_duration, newcombe_difference, wilson_interval
from dunning.core.store import Store, open_store
from dunning.testing.factories import make_case

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PRICES = {
    "sms": Price(Decimal("0.05"), "CNY", "segment"),
    "push": Price(Decimal("0.01"), "CNY"),
    "voice": Price(Decimal("0.10"), "CNY"),
}


def reminder(
    case_id: str,
    channel: str,
    step: int,
    at: datetime,
    state: IntentState,
    *,
    segments: int | None = None,
    variant: str | None = None,
    segment: str = "default",
    ladder: str = "gentle",
) -> dict[str, Any]:
    """An outbox row as the scheduler plans it and the delivery worker completes it."""
    template = {"a": "overdue_notice", "b": "overdue_firm"}.get(variant or "", f"{channel}_notice")
    return {
        "intent_id": intent_id_for(case_id, ladder, step, 0, step),
        "case_id": case_id,
        "debtor_id": "D" + case_id[1:],
        "channel": channel,
        "ladder": ladder,
        "segment": segment,
        "step": step,
        "cycle": 0,
        "seq": step,
        "template": template,
        "variant": variant,
        "state": state,
        "planned_at": at,
        "not_before": at,
        "contact_at": at,
        "attempts": 1,
        "connected": False,
        "segments": segments,
        "updated_at": at,
    }


def build_portfolio(store: Store) -> None:
    sent, delivered, planned = IntentState.SENT, IntentState.DELIVERED, IntentState.PLANNED
    with store.write() as conn:
        store.upsert_cases(
            conn,
            [
                make_case(case_id=f"C-{n}", debtor_id=f"D-{n}", due_date=date(2026, 12, 1))
                for n in range(1, 7)
            ],
            T0 - DAY,
        )
        store.plan_intents(
            conn,
            [
                reminder("C-1", "sms", 0, T0, delivered, segments=2, variant="a"),
                reminder("C-2", "sms", 0, T0, sent, segments=2, variant="b"),
                reminder("C-2", "push", 1, T0 + 2 * DAY, delivered),
                reminder("C-3", "sms", 0, T0, delivered, segments=1, variant="a"),
                reminder("C-3", "push", 1, T0 + 2 * DAY, sent),
                reminder("C-3", "voice", 2, T0 + 3 * DAY, delivered),
                reminder("C-4", "sms", 0, T0, sent, segments=1, variant="b"),
                reminder("C-4", "push", 1, T0 + 2 * DAY, planned),
                reminder("C-5", "voice", 0, T0, delivered, segment="large", ladder="firm"),
            ],
        )
        # What the guardrails did: two quiet-hours deferrals of C-1's SMS decided by the tick,
        # one cap deferral of C-2's SMS at send time, one suppression of C-4's push.
        decision = {"kind": "decision", "case_id": "C-1", "channel": "sms", "step": 0}
        for row in (
                {**decision, "at": T0 - DAY, "action": "defer", "rule": "quiet_hours:policy",
                 "detail": {"segment": "default", "ladder": "gentle", "template": "overdue_notice"}},
                {**decision, "at": T0 - DAY / 2, "action": "defer", "rule": "quiet_hours:policy",
                 "detail": {"segment": "default", "ladder": "gentle", "template": "overdue_notice"}},
                {"kind": "intent", "case_id": "C-2", "channel": "sms", "step": 0, "at": T0, "action": "defer",
                 "rule": "cap:any:2/1d:debtor:policy", "intent_id": intent_id_for("C-2", "gentle", 0, 0, 0)},
                {"kind": "decision", "case_id": "C-4", "channel": "push", "step": 1, "at": T0 + DAY,
                 "action": "suppress", "rule": "no_address:push_token",
                 "detail": {"segment": "default", "ladder": "gentle"}},
        ):  # fmt: skip
            store.add_audit(conn, [{"intent_id": None, "detail": None, **row}])
    for event in (
        Event(EventKind.PAYMENT, T0, case_id="C-6"),
        Event(EventKind.PAYMENT, T0 + DAY, case_id="C-1"),
        Event(EventKind.REPLY, T0 + timedelta(hours=2), case_id="C-2", channel="sms", text="收到"),
        Event(EventKind.PAYMENT, T0 + 3 * DAY, case_id="C-2"),
        Event(EventKind.OPT_OUT, T0 + timedelta(hours=1), case_id="C-3", channel="sms"),
        Event(EventKind.PAYMENT, T0 + 10 * DAY, case_id="C-3"),
        Event(EventKind.DISPUTE, T0 + timedelta(hours=5), case_id="C-4"),
        Event(EventKind.PROMISE, T0 + timedelta(hours=1), case_id="C-5", date=date(2026, 12, 4)),
        Event(EventKind.PAYMENT, T0 + 2 * DAY, case_id="C-5"),
    ):
        store.record_event(event, source="test", now=event.at)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    build_portfolio(opened)
    yield opened
    opened.dispose()


def report(store: Store, *by: str, cure_days: int = 7, response_days: int = 3) -> Report:
    options = ReportOptions(
        by=by, cure_days=cure_days, response_days=response_days, prices=PRICES, currency="CNY"
    )
    with store.read() as conn:
        return build_report(conn, options)


# ---------------------------------------------------------------- figures, by hand


def test_given_the_portfolio_when_reported_in_total_then_every_figure_is_the_hand_computed_one(store):
    total = report(store, "segment").total
    assert (total.intents, total.sent, total.delivered) == (9, 8, 5)
    # C-2's reply answers its SMS; C-5's promise answers its call. C-3 opted out, C-4 disputed.
    assert (total.responded, total.opted_out, total.disputed) == (2, 1, 1)
    assert total.response_rate == 2 / 8 and total.opt_out_rate == 1 / 8 and total.complaint_rate == 1 / 8
    # Reminded: C-1..C-5. Cured within 7 days: C-1 (1 d), C-2 (3 d), C-5 (2 d); C-3 paid on day 10.
    assert (total.cases, total.cured) == (5, 3)
    assert total.cure_rate == 3 / 5
    assert total.median_time_to_pay == 2 * DAY
    assert total.cured_contacts == 4 and total.contacts_per_cure == 4 / 3
    # SMS 6 segments x 0.05 + push 2 x 0.01 + voice 2 x 0.10
    assert total.cost == Decimal("0.52")
    assert total.cost_per_cure == Decimal("0.1733")
    assert total.deferred == {"quiet_hours:policy": 2, "cap:any:2/1d:debtor:policy": 1}
    assert total.suppressed == {"no_address:push_token": 1}


def test_given_the_portfolio_when_reported_by_segment_then_each_segment_has_its_own_figures(store):
    r = report(store, "segment")
    assert r.columns == ("segment",)
    assert [row.key for row in r.rows] == [("default",), ("large",)]
    default, large = r.row(segment="default"), r.row(segment="large")
    assert (default.intents, default.sent, default.delivered, default.responded) == (8, 7, 4, 1)
    assert (default.cases, default.cured, default.median_time_to_pay) == (4, 2, 2 * DAY)
    assert default.cost == Decimal("0.42") and default.cost_per_cure == Decimal("0.21")
    assert default.deferrals == 3 and default.suppressions == 1
    assert (large.sent, large.responded, large.cases, large.cured) == (1, 1, 1, 1)
    assert large.cost_per_cure == Decimal("0.10") and large.median_time_to_pay == 2 * DAY
    assert (r.portfolio, r.paid) == (6, 5)


def test_given_the_portfolio_when_reported_by_channel_then_a_case_counts_in_every_channel_that_reached_it(
    store,
):
    r = report(store, "channel")
    sms, push, voice = r.row(channel="sms"), r.row(channel="push"), r.row(channel="voice")
    assert (sms.intents, sms.sent, sms.cases, sms.cured) == (4, 4, 4, 2)
    assert (sms.responded, sms.opted_out, sms.disputed) == (1, 1, 1)
    assert sms.cost == Decimal("0.30") and sms.cost_per_cure == Decimal("0.15")
    assert (push.intents, push.sent, push.delivered, push.cases, push.cured) == (3, 2, 1, 2, 1)
    assert push.cost_per_cure == Decimal("0.02") and push.median_time_to_pay == 3 * DAY
    assert (voice.sent, voice.cases, voice.cured, voice.cost) == (2, 2, 1, Decimal("0.20"))
    assert voice.contacts_per_cure == 1.0


def test_given_the_portfolio_when_reported_by_step_then_the_ladder_reads_rung_by_rung(store):
    r = report(store, "step")
    assert r.columns == ("ladder", "step", "channel")
    assert [row.key for row in r.rows] == [
        ("firm", 0, "voice"),
        ("gentle", 0, "sms"),
        ("gentle", 1, "push"),
        ("gentle", 2, "voice"),
    ]
    assert r.row(ladder="gentle", step=1, channel="push").suppressed == {"no_address:push_token": 1}
    assert r.row(ladder="gentle", step=2, channel="voice").cured == 0


def test_given_a_longer_cure_window_then_the_late_payer_counts_as_cured(store):
    total = report(store, "channel", cure_days=14).total
    assert (total.cases, total.cured) == (5, 4)
    assert total.median_time_to_pay == (2 * DAY + 3 * DAY) / 2  # 1, 2, 3 and 10 days


def test_given_a_one_day_response_window_then_only_answers_within_a_day_count(store):
    total = report(store, "segment", response_days=1).total
    assert total.responded == 2  # both answers came within hours
    assert report(store, "segment", response_days=1).row(segment="default").opted_out == 1


def test_given_two_variants_when_reported_by_variant_then_each_has_a_wilson_interval_and_a_difference(store):
    r = report(store, "variant")
    a = r.row(ladder="gentle", step=0, variant="a", template="overdue_notice")
    b = r.row(ladder="gentle", step=0, variant="b", template="overdue_firm")
    assert (a.cases, a.cured, b.cases, b.cured) == (2, 1, 2, 1)
    assert a.cure_interval == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert a.versus is None  # the first variant is the baseline
    assert b.versus is not None and b.versus.baseline == "a" and b.versus.difference == 0.0
    assert b.versus.low < 0 < b.versus.high and not b.versus.significant
    # Recovery per case (every loan owes CNY 3200): a's two paid in full, b's C-4 paid nothing.
    money = b.comparisons["variant"].recovery["CNY"]
    assert (money.mean, money.baseline_mean, money.difference) == (
        Decimal(1600),
        Decimal(3200),
        Decimal(-1600),
    )
    # a never varies; b's resampled mean is 0, 1600 or 3200 (a quarter, half, a quarter of the time).
    assert (money.low, money.high) == (Decimal(-3200), Decimal(0)) and not money.significant
    # Steps without variants are reported, but not compared.
    assert r.row(ladder="firm", step=0, variant=None, template="voice_notice").versus is None


# ---------------------------------------------------------------- statistics


def test_wilson_and_newcombe_match_published_examples():
    # Newcombe (1998), Statistics in Medicine 17: 81/263, and 56/70 against 48/80.
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    diff = newcombe_difference(("new", 56, 70), ("old", 48, 80))
    assert diff.difference == pytest.approx(0.2)
    assert (diff.low, diff.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert diff.significant
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_the_median_of_durations_is_exact():
    assert median_duration([]) is None
    assert median_duration([3 * DAY, DAY, 2 * DAY]) == 2 * DAY
    assert median_duration([DAY, timedelta(hours=30)]) == timedelta(hours=27)


# ---------------------------------------------------------------- output formats


def test_given_a_report_then_csv_and_json_carry_money_as_exact_decimals(store):
    r = report(store, "segment")
    rows = list(csv.DictReader(io.StringIO(render_csv(r))))
    assert [row["segment"] for row in rows] == ["default", "large", "(all)"]
    assert rows[-1]["cost_per_cure"] == "0.1733" and rows[-1]["cure_rate"] == "0.6"
    assert rows[0]["deferred_by_rule"] == "cap:any:2/1d:debtor:policy=1; quiet_hours:policy=2"
    document = json.loads(render_json(r))
    assert document["total"]["cost"] == "0.5200" and document["total"]["currency"] == "CNY"
    assert document["total"]["median_days_to_pay"] == 2.0
    assert document["portfolio"] == {"cases": 6, "paid": 5}
    assert [row["segment"] for row in document["rows"]] == ["default", "large"]


def test_given_a_variant_report_then_the_table_shows_intervals(store):
    from rich.console import Console

    console = Console(width=250, record=True)
    for table in report_tables(report(store, "variant")):
        console.print(table)
    text = console.export_text()
    assert "[9.5%, 90.5%]" in text  # Wilson's interval of 1 cure in 2 cases
    assert "baseline" in text and "+0.0 pp" in text


# ---------------------------------------------------------------- the command


def dunning(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("dunning"))
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=180)


def test_given_a_store_when_dunning_report_runs_then_table_csv_and_json_agree(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    opened = open_store(url)
    build_portfolio(opened)
    opened.dispose()
    env = {
        **os.environ,
        "DUNNING_DATABASE_URL": url,
        "DUNNING_COST_SMS": "0.05",
        "DUNNING_COST_PUSH": "0.01",
        "DUNNING_COST_VOICE": "0.10",
        "DUNNING_COST_CURRENCY": "CNY",
    }
    table = dunning(env, "report")
    assert table.returncode == 0, table.stderr
    assert "cure rate" in table.stdout and "60.0%" in table.stdout and "0.1733 CNY" in table.stdout
    assert "quiet_hours:policy: 2" in table.stdout
    as_csv = dunning(env, "report", "--by", "channel", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = {row["channel"]: row for row in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert rows["sms"]["cost_per_cure"] == "0.1500" and rows["(all)"]["cured"] == "3"
    as_json = dunning(env, "report", "--by", "variant,segment", "--format", "json", "--cure-days", "14")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["by"] == ["variant", "segment"] and document["total"]["cured"] == 4
    bad = dunning(env, "report", "--by", "colour")
    assert bad.returncode != 0 and "'colour' is not one of" in bad.stderr


# ---------------------------------------------------------------- A/B variants: assignment


def ab_step(*weights: float) -> Step:
    variants = tuple(Variant(f"v{i}", f"template_{i}", w) for i, w in enumerate(weights))
    return Step(index=0, channel="sms", variants=variants, wait=DAY)


def test_given_a_debtor_then_the_variant_is_the_same_on_every_call_and_every_case(make_policy):
    step = ab_step(1, 1, 1)
    chosen = {assign_variant(f"D-{n}", "gentle", step).name for n in range(60)}
    assert chosen == {"v0", "v1", "v2"}
    for n in range(60):
        assert assign_variant(f"D-{n}", "gentle", step) == assign_variant(f"D-{n}", "gentle", step)
    policy = make_policy(
        """
        name: ab
        preset: none
        segments: [{name: all, ladder: l}]
        ladders:
          l:
            steps:
              - channel: sms
                variants: [{name: a, template: overdue_notice}, {name: b, template: overdue_firm}]
        """
    )
    for n in range(20):
        one, two = (make_case(case_id=f"C-{n}-{k}", debtor_id=f"D-{n}") for k in (1, 2))
        sends = [decide(c, History(), policy, T0).sends[0] for c in (one, two)]
        assert sends[0].variant == sends[1].variant  # one person, one variant, whatever the loan
        assert sends[0].template == {"a": "overdue_notice", "b": "overdue_firm"}[sends[0].variant or ""]


@settings(max_examples=25, deadline=None)
@given(weights=st.lists(st.floats(min_value=0.5, max_value=5.0), min_size=2, max_size=4))
def test_assignment_shares_follow_the_weights(weights):
    debtors = 4000
    step = ab_step(*weights)
    counts = Counter(assign_variant(f"D-{n:05d}", "l", step).name for n in range(debtors))
    for i, weight in enumerate(weights):
        # five standard errors of a share out of 4000: a hash that ignored weights fails at once
        assert abs(counts[f"v{i}"] / debtors - weight / sum(weights)) < 0.04
