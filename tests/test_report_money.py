"""``dunning report``'s money on a portfolio worked out by hand, on SQLite and PostgreSQL.

Money recovered per currency and by day since the first reminder, per message
and per unit of cost; promises kept; strategies against the champion; and a
holdout against the contacted cases. T0 = 2 December 2026, 02:00 UTC; every
case is due 1 December and arrived at T0 - 1d; the report is read as of the
end of 1 January 2027. Unit costs (in USD): SMS 0.05 a segment, push 0.01,
voice 0.10.

=====  ====  ==========  ========  ===========================================  ================================
case   who   strategy    owed      reminders (state, SMS segments)              payments and promises
=====  ====  ==========  ========  ===========================================  ================================
C-1    D-1   champion    CNY 1000  sms a T0 (delivered, 2; message M1)          400 T0+12h; in full T0+5d (600)
C-4    D-1   champion    CNY 300   sms a T0 (delivered, 0; joined to M1)        none
C-2    D-2   champion    CNY 500   sms b T0 (sent, 1); push T0+2d (delivered)   promise T0+2d1h for 6 Dec;
                                                                                500 in full T0+5d
C-3    D-3   champion    USD 200   sms a T0 (delivered, 1)                      50 T0-1h (before any reminder);
                                                                                promise T0+1h for 5 Dec;
                                                                                in full T0+20d (150)
C-5    D-5   challenger  CNY 800   voice T0 (delivered); segment "large"        promise T0+2h, no day; in full T0+1d
C-6    D-6   challenger  CNY 400   voice T0 (delivered); sms T0+1d (del., 3)    promise T0+1d1h for 3 Dec; 100 T0+2d
C-7    D-7   challenger  USD 100   voice T0+3d (unknown); sms T0+6d (planned)   promise T0+1d for 4 Dec (before any
                                                                                reminder); promise T0+9d for 31 Dec;
                                                                                in full T0+10d
C-8    D-8   holdout     CNY 600   none                                         in full T0+3d
C-9    D-9   holdout     CNY 1000  none                                         none
C-10   D-10  holdout     USD 300   none                                         150 T0+4d
C-11   D-11  (none)      CNY 700   none                                         in full T0+1d
=====  ====  ==========  ========  ===========================================  ================================

C-1, C-2, C-5 and C-6 are in Asia/Shanghai, C-3, C-7 and C-10 in America/New_York.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import column, inspect, table, text, update

from dunning.core.domain.model import Event, EventKind, IntentState, intent_id_for
from dunning.core.price import Price
from dunning.core.reporting.format import render_csv, render_json
from dunning.core.reporting.model import ReportOptions
from dunning.core.reporting.reports import Report, build_report
from dunning.core.reporting.stats import Z95, mean_difference, newcombe_difference, wilson_interval
from dunning.core.store import Store, open_store
from dunning.testing.factories import make_case

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
AS_OF = datetime.combine(date(2027, 1, 1), time.max, tzinfo=UTC)
#: Each channel's price: an SMS per segment, a push and a call per message.
PRICES = {
    "sms": Price(Decimal("0.05"), "USD", "segment"),
    "push": Price(Decimal("0.01"), "USD"),
    "voice": Price(Decimal("0.10"), "USD"),
}
NEW_YORK = "America/New_York"
#: Each person's strategy (D-11 has none).
STRATEGIES = {
    "D-1": "champion",
    "D-2": "champion",
    "D-3": "champion",
    "D-5": "challenger",
    "D-6": "challenger",
    "D-7": "challenger",
    "D-8": "holdout",
    "D-9": "holdout",
    "D-10": "holdout",
}


def add_strategy_columns(store: Store) -> None:
    """``strategy`` on intents and debtors, as champion/challenger strategies add them, unless there already."""
    with store.write() as conn:
        for name in ("intents", "debtors"):
            if "strategy" not in {c["name"] for c in inspect(conn).get_columns(name)}:
                conn.execute(text(f"ALTER TABLE {name} ADD COLUMN strategy VARCHAR(64)"))


def assign_strategies(store: Store, strategies: dict[str, str]) -> None:
    people = table("debtors", column("debtor_id"), column("strategy"))
    reminders = table("intents", column("debtor_id"), column("strategy"))
    with store.write() as conn:
        for debtor_id, strategy in strategies.items():
            conn.execute(update(people).where(people.c.debtor_id == debtor_id).values(strategy=strategy))
            conn.execute(
                update(reminders).where(reminders.c.debtor_id == debtor_id).values(strategy=strategy)
            )


def reminder(
    case_id: str,
    debtor_id: str,
    channel: str,
    step: int,
    at: datetime,
    state: IntentState,
    *,
    ladder: str,
    segments: int | None = None,
    variant: str | None = None,
    message_id: str | None = None,
    segment: str = "default",
) -> dict[str, Any]:
    template = {"a": "overdue_notice", "b": "overdue_firm"}.get(variant or "", f"{channel}_notice")
    return {
        "intent_id": intent_id_for(case_id, ladder, step, 0, step),
        "case_id": case_id,
        "debtor_id": debtor_id,
        "channel": channel,
        "ladder": ladder,
        "segment": segment,
        "step": step,
        "cycle": 0,
        "seq": step,
        "template": template,
        "variant": variant,
        "message_id": message_id,
        "state": state,
        "planned_at": at,
        "not_before": at,
        "contact_at": at,
        "attempts": 1,
        "connected": False,
        "segments": segments,
        "updated_at": at,
    }


M1 = intent_id_for("C-1", "gentle", 0, 0, 0)
#: The champion's CNY recoveries: C-1, C-2 and C-4.
THREE = [Decimal(1000), Decimal(500), Decimal(0)]


def build_portfolio(store: Store) -> None:
    owed = {
        "C-1": ("D-1", "1000.00", "CNY", None),
        "C-4": ("D-1", "300.00", "CNY", None),
        "C-2": ("D-2", "500.00", "CNY", None),
        "C-3": ("D-3", "200.00", "USD", NEW_YORK),
        "C-5": ("D-5", "800.00", "CNY", None),
        "C-6": ("D-6", "400.00", "CNY", None),
        "C-7": ("D-7", "100.00", "USD", NEW_YORK),
        "C-8": ("D-8", "600.00", "CNY", None),
        "C-9": ("D-9", "1000.00", "CNY", None),
        "C-10": ("D-10", "300.00", "USD", NEW_YORK),
        "C-11": ("D-11", "700.00", "CNY", None),
    }
    delivered, sent = IntentState.DELIVERED, IntentState.SENT
    with store.write() as conn:
        store.upsert_cases(
            conn,
            [
                make_case(
                    case_id=case_id,
                    debtor_id=debtor,
                    amount_due=Decimal(amount),
                    currency=currency,
                    **({"timezone": zone} if zone else {}),
                )
                for case_id, (debtor, amount, currency, zone) in owed.items()
            ],
            T0 - DAY,
        )
        gentle, firm = {"ladder": "gentle"}, {"ladder": "firm"}
        store.plan_intents(
            conn,
            [
                reminder(
                    "C-1", "D-1", "sms", 0, T0, delivered, segments=2, variant="a", message_id=M1, **gentle
                ),
                reminder(
                    "C-4", "D-1", "sms", 0, T0, delivered, segments=0, variant="a", message_id=M1, **gentle
                ),
                reminder("C-2", "D-2", "sms", 0, T0, sent, segments=1, variant="b", **gentle),
                reminder("C-2", "D-2", "push", 1, T0 + 2 * DAY, delivered, **gentle),
                reminder("C-3", "D-3", "sms", 0, T0, delivered, segments=1, variant="a", **gentle),
                reminder("C-5", "D-5", "voice", 0, T0, delivered, segment="large", **firm),
                reminder("C-6", "D-6", "voice", 0, T0, delivered, **firm),
                reminder("C-6", "D-6", "sms", 1, T0 + DAY, delivered, segments=3, **firm),
                reminder("C-7", "D-7", "voice", 0, T0 + 3 * DAY, IntentState.UNKNOWN, **firm),
                reminder("C-7", "D-7", "sms", 1, T0 + 6 * DAY, IntentState.PLANNED, segments=1, **firm),
            ],
        )
    paid, promise = EventKind.PAYMENT, EventKind.PROMISE
    for event in sorted(
        (
            Event(paid, T0 - HOUR, case_id="C-3", amount=Decimal("50.00"), full=False),
            Event(promise, T0 + HOUR, case_id="C-3", date=date(2026, 12, 5)),
            Event(promise, T0 + 2 * HOUR, case_id="C-5"),
            Event(paid, T0 + 12 * HOUR, case_id="C-1", amount=Decimal("400.00"), full=False),
            Event(paid, T0 + DAY, case_id="C-5"),
            Event(paid, T0 + DAY, case_id="C-11"),
            Event(promise, T0 + DAY, case_id="C-7", date=date(2026, 12, 4)),
            Event(promise, T0 + DAY + HOUR, case_id="C-6", date=date(2026, 12, 3)),
            Event(paid, T0 + 2 * DAY, case_id="C-6", amount=Decimal("100.00"), full=False),
            Event(promise, T0 + 2 * DAY + HOUR, case_id="C-2", date=date(2026, 12, 6)),
            Event(paid, T0 + 3 * DAY, case_id="C-8"),
            Event(paid, T0 + 4 * DAY, case_id="C-10", amount=Decimal("150.00"), full=False),
            Event(paid, T0 + 5 * DAY, case_id="C-1"),
            Event(paid, T0 + 5 * DAY, case_id="C-2", amount=Decimal("500.00"), full=True),
            Event(promise, T0 + 9 * DAY, case_id="C-7", date=date(2026, 12, 31)),
            Event(paid, T0 + 10 * DAY, case_id="C-7"),
            Event(paid, T0 + 20 * DAY, case_id="C-3"),
        ),
        key=lambda e: e.at,
    ):
        store.record_event(event, source="test", now=event.at)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    add_strategy_columns(opened)
    build_portfolio(opened)
    assign_strategies(opened, STRATEGIES)
    yield opened
    opened.dispose()


def report(store: Store, *by: str, **options: Any) -> Report:
    chosen = ReportOptions(by=by, prices=PRICES, currency="USD", as_of=AS_OF, **options)
    with store.read() as conn:
        return build_report(conn, chosen)


def amounts(curve: dict[int, Decimal]) -> list[str]:
    return [str(curve[day]) for day in (1, 3, 7, 14, 30)]


# ---------------------------------------------------------------- money recovered, by hand


def test_given_two_currencies_when_reported_then_money_is_summed_per_currency_from_the_first_reminder(store):
    total = report(store, "segment").total
    assert sorted(total.recovery) == ["CNY", "USD"]
    cny, usd = total.recovery["CNY"], total.recovery["USD"]
    # CNY: C-1 400 + 600 (what its balance still owed), C-2 500, C-4 nothing, C-5 800 (in full), C-6 100.
    assert (cny.cases, cny.recovered, cny.per_case) == (5, Decimal("2400.00"), Decimal("480.0000"))
    # USD: C-3's 50 came before any reminder; then 150 in full. C-7 100. Holdout and C-11 were never reminded.
    assert (usd.cases, usd.recovered, usd.per_case) == (2, Decimal("250.00"), Decimal("125.0000"))


def test_given_the_portfolio_then_the_recovery_curve_is_cumulative_by_day_since_the_first_reminder(store):
    total = report(store, "segment").total
    # CNY: C-1 400 and C-5 800 by day 1; C-6 100 by day 3; C-1 600 and C-2 500 on day 5.
    assert amounts(total.recovery["CNY"].curve) == ["1200.00", "1300.00", "2400.00", "2400.00", "2400.00"]
    # USD: C-7, first reminded on T0+3d, paid on its day 7; C-3 on its day 20.
    assert amounts(total.recovery["USD"].curve) == ["0", "0", "100.00", "100.00", "250.00"]
    # C-7's 30th day is 4 January, after the report's moment: only C-3 has been followed that long.
    assert total.recovery["USD"].observed == {1: 2, 3: 2, 7: 2, 14: 2, 30: 1}
    assert total.recovery["CNY"].observed[30] == 5


def test_given_a_combined_message_then_it_counts_once_per_contact_and_per_cost(store):
    total = report(store, "segment").total
    cny, usd = total.recovery["CNY"], total.recovery["USD"]
    # M1 (C-1 and C-4 together), C-2's SMS and push, C-5's call, C-6's call and SMS; C-7's SMS was never sent.
    assert (cny.messages, cny.cost) == (6, Decimal("0.51"))  # 0.10 + 0 + 0.05 + 0.01 + 0.10 + 0.10 + 0.15
    assert cny.per_contact == Decimal("400.0000") and cny.per_cost == Decimal("4705.8824")
    assert (usd.messages, usd.cost, usd.per_contact, usd.per_cost) == (
        2,
        Decimal("0.15"),
        Decimal("125.0000"),
        Decimal("1666.6667"),
    )
    assert total.cost == Decimal("0.66")  # the cost of every currency's reminders, as before


def test_given_strategies_when_reported_by_strategy_then_each_has_its_money_and_the_champion_is_the_baseline(
    store,
):
    r = report(store, "strategy")
    assert [row.key for row in r.rows] == [("challenger",), ("champion",)]
    champion, challenger = r.row(strategy="champion"), r.row(strategy="challenger")
    c = champion.recovery["CNY"]
    assert (c.cases, c.recovered, c.messages, c.cost) == (3, Decimal("1500.00"), 3, Decimal("0.16"))
    assert amounts(c.curve) == ["400.00", "400.00", "1500.00", "1500.00", "1500.00"]
    assert (c.per_contact, c.per_cost) == (Decimal("500.0000"), Decimal("9375.0000"))
    h = challenger.recovery["CNY"]
    assert (h.cases, h.recovered, h.per_contact, h.per_cost) == (
        2,
        Decimal("900.00"),
        Decimal("300.0000"),
        Decimal("2571.4286"),
    )
    assert challenger.recovery["USD"].recovered == Decimal("100.00")
    assert "strategy" in champion.baseline_for and "strategy" not in champion.comparisons
    # Cured within 7 days: champion C-1, C-2 of 4; challenger C-5 and C-7 (paid on its 7th day) of 3.
    versus = challenger.comparisons["strategy"]
    expected = newcombe_difference(("challenger", 2, 3), ("champion", 2, 4))
    assert versus.cure == expected and versus.cure.difference == pytest.approx(2 / 3 - 1 / 2)
    assert challenger.cure_interval == wilson_interval(2, 3)


def test_given_strategies_then_recovery_per_case_differs_from_the_champion_with_a_bootstrap_interval(store):
    challenger = report(store, "strategy").row(strategy="challenger")
    cny = challenger.comparisons["strategy"].recovery["CNY"]
    # Challenger [800, 100] (mean 450) against champion [1000, 500, 0] (mean 500).
    assert (cny.mean, cny.baseline_mean, cny.difference) == (
        Decimal("450.0000"),
        Decimal("500.0000"),
        Decimal("-50.0000"),
    )
    # The exact bootstrap distribution puts 0.9% at -900 and 2.8% at -733.33 (and the mirror at the top):
    # 2,000 resamples land the 2.5th and 97.5th percentiles on -733.33 and +633.33 with any seed.
    assert (cny.method, cny.low, cny.high) == ("bootstrap", Decimal("-733.3333"), Decimal("633.3333"))
    assert not cny.significant
    # One USD case on each side has no spread to resample: no interval is claimed.
    assert "USD" not in challenger.comparisons["strategy"].recovery


def test_given_a_champion_named_on_the_command_line_then_the_others_are_compared_with_it(store):
    r = report(store, "strategy", champion="challenger")
    assert "strategy" in r.row(strategy="challenger").baseline_for
    assert r.row(strategy="champion").comparisons["strategy"].baseline == "challenger"


# ---------------------------------------------------------------- promises


def test_given_promises_then_the_kept_rate_counts_those_due_by_the_report_and_made_after_a_reminder(store):
    r = report(store, "strategy")
    # Kept: C-2 (paid 7 Dec 10:00 Shanghai, the day after its promised day, within the 1-day grace)
    # and C-5 (no day: 3 days after 2 Dec). Broken: C-3 (paid 22 Dec) and C-6 (never paid in full).
    # C-7's promise for 31 December runs until 2 January in New York: pending. Its first was made
    # before any reminder: not counted.
    assert (r.total.promises, r.total.promises_kept, r.total.promises_pending) == (4, 2, 1)
    assert r.total.promise_kept_rate == 0.5
    assert r.total.promise_interval == pytest.approx((0.1500, 0.8500), abs=1e-4)
    champion, challenger = r.row(strategy="champion"), r.row(strategy="challenger")
    assert (champion.promises, champion.promises_kept, champion.promises_pending) == (2, 1, 0)
    assert (challenger.promises, challenger.promises_kept, challenger.promises_pending) == (2, 1, 1)
    assert champion.promise_interval == pytest.approx((0.0945, 0.9055), abs=1e-4)


def test_given_no_grace_then_a_payment_the_day_after_the_promised_day_breaks_the_promise(store):
    total = report(store, "segment", promise_grace=timedelta(0)).total
    # C-2 paid after its day ended in Shanghai: broken. C-7's promise now ran out at the start of
    # 1 January in New York, before the report's moment: no longer pending, and kept (paid 12 December).
    assert (total.promises, total.promises_kept, total.promises_pending) == (5, 2, 0)


# ---------------------------------------------------------------- the holdout


def test_given_a_holdout_then_contacted_cases_are_compared_with_it_per_currency(store):
    h = report(store, "segment").holdout
    assert h is not None and h.name == "holdout"
    assert [arm.name for arm in h.arms] == ["(contacted)", "challenger", "champion"]
    contacted = h.arms[0]
    # Contacted: C-1..C-7 (C-11's person has no strategy). Paid in full: C-1, C-2, C-3, C-5, C-7.
    assert (contacted.cases, contacted.paid, h.holdout.cases, h.holdout.paid) == (7, 5, 3, 1)
    assert contacted.versus is not None
    assert contacted.versus.cure == newcombe_difference(("(contacted)", 5, 7), ("holdout", 1, 3))
    # Everything paid on the case, before any reminder too: C-3 paid 200 in all.
    assert contacted.recovery["USD"].amounts == [Decimal("200.00"), Decimal("100.00")]
    cny = contacted.versus.recovery["CNY"]
    assert (cny.mean, cny.baseline_mean, cny.difference) == (
        Decimal("480.0000"),  # 1000, 500, 0, 800, 100
        Decimal("300.0000"),  # 600, 0
        Decimal("180.0000"),
    )
    assert cny.method == "bootstrap" and cny.low < cny.difference < cny.high
    assert "USD" not in contacted.versus.recovery  # one holdout case in USD: no interval
    champion = h.arms[2]
    assert champion.versus is not None and champion.versus.recovery["CNY"].difference == Decimal("200.0000")


def test_given_the_same_seed_then_the_intervals_are_the_same_and_another_seed_may_move_them(store):
    first, again = (report(store, "strategy").holdout for _ in range(2))
    assert first is not None and again is not None
    assert first.arms[0].versus == again.arms[0].versus
    other = report(store, "strategy", seed=7).holdout
    assert other is not None and other.arms[0].versus is not None
    assert other.arms[0].versus.recovery["CNY"].difference == Decimal("180.0000")


def test_given_no_person_in_a_strategy_then_there_is_no_holdout_and_strategies_read_as_none(database_url):
    opened = open_store(database_url)
    try:
        build_portfolio(opened)  # no strategy assigned: the columns are absent, or empty
        r = report(opened, "strategy")
        assert r.holdout is None
        assert [row.key for row in r.rows] == [(None,)]
        assert r.rows[0].comparisons == {} and r.total.recovery["CNY"].recovered == Decimal("2400.00")
    finally:
        opened.dispose()


# ---------------------------------------------------------------- roll rates on this portfolio


def test_given_the_portfolio_then_a_month_rolls_unpaid_cases_from_1_30_to_31_60(store):
    rolls = report(store, "strategy").rolls
    assert rolls is not None and rolls.columns == ("strategy",)
    (total,) = rolls.total
    # On 2 December every case was 1 day overdue and unpaid; by 1 January seven were paid in full.
    assert (total.label, total.cases, total.paid, total.stayed, total.rolled) == ("1-30", 11, 7, 0, 4)
    by = {row.key: row for row in rolls.rows}
    assert (by[("holdout",)].cases, by[("holdout",)].rolled) == (3, 2)
    assert by[("champion",)].roll_rate == 1 / 4 and by[(None,)].paid == 1


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize("seed", ["0", "1", "champion:CNY"])
def test_given_two_small_groups_then_the_bootstrap_lands_on_the_exact_percentiles_whatever_the_seed(seed):
    d = mean_difference(("challenger", [Decimal(800), Decimal(100)]), ("champion", THREE), seed=seed)
    assert d is not None and d.method == "bootstrap"
    assert (d.difference, d.low, d.high) == (Decimal("-50.0000"), Decimal("-733.3333"), Decimal("633.3333"))
    assert mean_difference(("challenger", [Decimal(800)]), ("champion", THREE), seed=seed) is None


def test_given_large_groups_then_the_difference_in_means_takes_the_normal_interval():
    # 3,000 cases paying 0 or 100, half and half (mean 50, variance 2500 x 3000/2999), against
    # 3,000 of which one in three paid 90 (mean 30, variance 1800 x 3000/2999).
    new = [Decimal(0)] * 1500 + [Decimal(100)] * 1500
    old = [Decimal(0)] * 2000 + [Decimal(90)] * 1000
    d = mean_difference(("new", new), ("old", old), seed="0")
    assert d is not None and d.method == "normal"
    half = Z95 * math.sqrt((2500 + 1800) / 2999)
    assert d.difference == Decimal("20.0000") and d.significant
    assert (float(d.low), float(d.high)) == pytest.approx((20 - half, 20 + half), abs=1e-4)


# ---------------------------------------------------------------- output


def test_given_a_report_then_json_carries_every_money_figure_as_decimal_text(store):
    document = json.loads(render_json(report(store, "strategy")))
    total = document["total"]
    assert total["recovery"]["CNY"]["recovered"] == "2400.0000"
    assert total["recovery"]["CNY"]["curve"] == {
        "1": "1200.0000",
        "3": "1300.0000",
        "7": "2400.0000",
        "14": "2400.0000",
        "30": "2400.0000",
    }
    assert (
        total["recovery"]["USD"]["per_cost"] == "1666.6667"
        and total["recovery"]["USD"]["cost_currency"] == "USD"
    )
    assert (total["promises"], total["promises_kept"], total["promise_kept_rate"]) == (4, 2, 0.5)
    challenger = next(row for row in document["rows"] if row["strategy"] == "challenger")
    assert challenger["vs_champion"]["baseline"] == "champion"
    assert challenger["vs_champion"]["recovery_per_case"]["CNY"]["ci95"] == ["-733.3333", "633.3333"]
    assert (
        document["holdout"]["arms"][0]["vs_holdout"]["recovery_per_case"]["CNY"]["difference"] == "180.0000"
    )
    assert document["roll_rates"]["total"][0]["roll_rate"] == round(4 / 11, 6)
    assert document["as_of"] == AS_OF.isoformat() and document["promise_grace"] == "1d"


def test_given_a_report_then_csv_spreads_money_per_currency_and_writes_rolls_and_holdout_tables(store):
    r = report(store, "strategy")
    rows = {row["strategy"]: row for row in csv.DictReader(io.StringIO(render_csv(r)))}
    assert rows["(all)"]["recovery_CNY_recovered"] == "2400.0000"
    assert rows["(all)"]["recovery_USD_curve_7"] == "100.0000"
    assert rows["champion"]["recovery_CNY_per_contact"] == "500.0000"
    assert rows["challenger"]["vs_champion_recovery_per_case_CNY_ci95_low"] == "-733.3333"
    assert (
        rows["challenger"]["promise_kept_ci95_low"] != "" and rows["champion"]["baseline_for"] == "strategy"
    )
    rolls = list(csv.DictReader(io.StringIO(render_csv(r, "rolls"))))
    assert [(row["strategy"], row["bucket"], row["rolled"]) for row in rolls][-1] == ("(all)", "1-30", "4")
    holdout = {row["arm"]: row for row in csv.DictReader(io.StringIO(render_csv(r, "holdout")))}
    assert holdout["(contacted)"]["vs_holdout_recovery_per_case_CNY_difference"] == "180.0000"
    assert holdout["holdout"]["paid"] == "1"


# ---------------------------------------------------------------- the command and its plots


def dunning(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("dunning"))
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=180)


def test_given_a_store_when_dunning_report_runs_then_money_tables_csv_json_and_plots_come_out(tmp_path):
    pytest.importorskip("matplotlib")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    opened = open_store(url)
    add_strategy_columns(opened)
    build_portfolio(opened)
    assign_strategies(opened, STRATEGIES)
    opened.dispose()
    env = {**os.environ, "DUNNING_DATABASE_URL": url, "DUNNING_COST_CURRENCY": "USD"}
    env.update({"DUNNING_COST_SMS": "0.05", "DUNNING_COST_PUSH": "0.01", "DUNNING_COST_VOICE": "0.10"})
    env.pop("DUNNING_POLICY", None)
    plots = tmp_path / "plots"
    shown = dunning(env, "report", "--by", "strategy", "--as-of", "2027-01-01", "--plots", str(plots))
    assert shown.returncode == 0, shown.stderr
    assert "recovered in CNY" in shown.stdout and "9375.00" in shown.stdout  # champion's CNY per 1 USD
    assert "roll rates over 30 d" in shown.stdout and "against the 'holdout' holdout" in shown.stdout
    for name in ("recovery_curve_CNY.png", "recovery_curve_USD.png", "roll_rates.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A policy without grace: its promises run out at the end of the promised day.
    policy = tmp_path / "policy.yaml"
    example = (ROOT / "examples" / "policy.yaml").read_text(encoding="utf-8")
    policy.write_text(example.replace("promise_grace: 1d", "promise_grace: 0"), encoding="utf-8")
    as_json = dunning(env, "report", "--by", "strategy", "--format", "json", "--as-of", "2027-01-01",
                      "--policy", str(policy), "--curve-days", "2,10")  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["promise_grace"] == "0"
    assert (document["total"]["promises"], document["total"]["promises_kept"]) == (5, 2)
    assert document["total"]["recovery"]["USD"]["curve"] == {"2": "0.0000", "10": "100.0000"}
    rolls = dunning(env, "report", "--format", "csv", "--table", "rolls", "--as-of", "2027-01-01",
                    "--period", "7d", "--buckets", "5,40")  # fmt: skip
    assert rolls.returncode == 0, rolls.stderr
    row = next(row for row in csv.DictReader(io.StringIO(rolls.stdout)) if row["segment"] == "(all)")
    # On 25 December the four cases still unpaid were 24 days overdue (6-40); on 1 January 31: they stayed.
    assert (row["bucket"], row["cases"], row["paid"], row["stayed"], row["rolled"]) == (
        "6-40",
        "4",
        "0",
        "4",
        "0",
    )
    bad = dunning(env, "report", "--buckets", "60,30")
    assert bad.returncode != 0 and "ascending" in bad.stderr
