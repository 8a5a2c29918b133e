"""Roll rates between overdue buckets on a portfolio worked out by hand, on SQLite and PostgreSQL.

The report is read as of the end of 31 January 2027; a 30-day period starts
at the end of 1 January (days overdue on 1 January, then on 31 January).
Every case arrived on 1 December 2026 unless said otherwise.

=====  ==========  ========  ==========  =====================  ====================  ========================
case   due         segment   strategy    overdue 1 Jan          overdue 31 Jan        payments
=====  ==========  ========  ==========  =====================  ====================  ========================
R-1    2026-12-20  default   champion    12 (1-30)              42 (31-60)            none: rolled
R-2    2026-12-25  default   challenger  7 (1-30)               —                     in full 10 Jan: paid
R-3    2027-01-01  default   challenger  0: not overdue, out    30                    none
R-4    2026-11-20  large     champion    42 (31-60)             72 (61-90)            none: rolled
R-5    2026-11-15  large     challenger  47 (31-60)             77 (61-90)            50 on 5 Jan: rolled
R-6    2026-09-01  default   champion    122 (91+)              152 (91+)             none: stayed
R-7    2026-12-01  default   champion    paid 28 Dec: out       —                     in full 28 Dec
R-8    2026-12-10  default   champion    arrived 15 Jan: out    52                    none
R-9    2026-12-02  default   challenger  30 (1-30, its edge)    60 (31-60, its edge)  none: rolled
R-10   2026-10-03  large     champion    90 (61-90, its edge)   120 (91+)             none: rolled
R-11   2026-12-31  default   challenger  1 (1-30)               —                     in full 31 Jan 23:00: paid
R-12   2026-12-27  default   challenger  5 (1-30)               35 (31-60)            none: rolled
=====  ==========  ========  ==========  =====================  ====================  ========================
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import column, inspect, table, text, update

from dunning.core.domain.model import Event, EventKind, IntentState, intent_id_for
from dunning.core.reporting.format import render_csv, render_json
from dunning.core.reporting.model import ReportOptions
from dunning.core.reporting.reports import build_report
from dunning.core.reporting.rolls import RollRates, RollRow, bucket_labels
from dunning.core.reporting.stats import wilson_interval
from dunning.core.store import Store, open_store
from dunning.core.store.schema import cases
from dunning.testing.factories import make_case

AS_OF = datetime.combine(date(2027, 1, 31), time.max, tzinfo=UTC)
ARRIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
#: case: (due date, segment, strategy)
PORTFOLIO = {
    "R-1": (date(2026, 12, 20), "default", "champion"),
    "R-2": (date(2026, 12, 25), "default", "challenger"),
    "R-3": (date(2027, 1, 1), "default", "challenger"),
    "R-4": (date(2026, 11, 20), "large", "champion"),
    "R-5": (date(2026, 11, 15), "large", "challenger"),
    "R-6": (date(2026, 9, 1), "default", "champion"),
    "R-7": (date(2026, 12, 1), "default", "champion"),
    "R-8": (date(2026, 12, 10), "default", "champion"),
    "R-9": (date(2026, 12, 2), "default", "challenger"),
    "R-10": (date(2026, 10, 3), "large", "champion"),
    "R-11": (date(2026, 12, 31), "default", "challenger"),
    "R-12": (date(2026, 12, 27), "default", "challenger"),
}


def debtor(case_id: str) -> str:
    return "D" + case_id[1:]


def add_strategy_column(store: Store, name: str) -> None:
    """``strategy`` on a table, as champion/challenger strategies add it, unless it is there already."""
    with store.write() as conn:
        if "strategy" not in {c["name"] for c in inspect(conn).get_columns(name)}:
            conn.execute(text(f"ALTER TABLE {name} ADD COLUMN strategy VARCHAR(64)"))


def build_portfolio(store: Store) -> None:
    with store.write() as conn:
        for case_id, (due, segment, _) in PORTFOLIO.items():
            arrived = datetime(2027, 1, 15, 9, 0, tzinfo=UTC) if case_id == "R-8" else ARRIVED
            made = make_case(
                case_id=case_id, debtor_id=debtor(case_id), due_date=due, amount_due=Decimal("100")
            )
            store.upsert_cases(conn, [made], arrived)
            conn.execute(update(cases).where(cases.c.case_id == case_id).values(segment=segment))
    for event in (
        Event(EventKind.PAYMENT, datetime(2026, 12, 28, 9, 0, tzinfo=UTC), case_id="R-7"),
        Event(EventKind.PAYMENT, datetime(2027, 1, 5, 9, 0, tzinfo=UTC), case_id="R-5", amount=Decimal("50")),
        Event(EventKind.PAYMENT, datetime(2027, 1, 10, 9, 0, tzinfo=UTC), case_id="R-2"),
        Event(EventKind.PAYMENT, datetime(2027, 1, 31, 23, 0, tzinfo=UTC), case_id="R-11"),
    ):
        store.record_event(event, source="test", now=event.at)


def assign(store: Store, name: str) -> None:
    """Each case's strategy, on its person (``debtors``) or on a reminder sent to it (``intents``)."""
    if name == "intents":
        with store.write() as conn:
            store.plan_intents(conn, [reminder(case_id) for case_id in PORTFOLIO])
    target = table(name, column("debtor_id"), column("strategy"))
    with store.write() as conn:
        for case_id, (_, _, strategy) in PORTFOLIO.items():
            conn.execute(
                update(target).where(target.c.debtor_id == debtor(case_id)).values(strategy=strategy)
            )


def reminder(case_id: str) -> dict[str, Any]:
    at = ARRIVED + timedelta(hours=1)
    return {
        "intent_id": intent_id_for(case_id, "gentle", 0, 0, 0),
        "case_id": case_id,
        "debtor_id": debtor(case_id),
        "channel": "sms",
        "ladder": "gentle",
        "segment": PORTFOLIO[case_id][1],
        "step": 0,
        "cycle": 0,
        "seq": 0,
        "template": "overdue_notice",
        "state": IntentState.DELIVERED,
        "planned_at": at,
        "not_before": at,
        "contact_at": at,
        "attempts": 1,
        "connected": False,
        "segments": 1,
        "updated_at": at,
    }


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    add_strategy_column(opened, "debtors")
    build_portfolio(opened)
    assign(opened, "debtors")
    yield opened
    opened.dispose()


def rolls(store: Store, *by: str, **options: Any) -> RollRates:
    chosen = ReportOptions(by=by or ("segment",), as_of=AS_OF, **options)
    with store.read() as conn:
        found = build_report(conn, chosen).rolls
    assert found is not None
    return found


def figures(rows: list[RollRow]) -> dict[tuple[Any, ...], tuple[int, int, int, int]]:
    """(group..., bucket) → (cases, paid, stayed, rolled)."""
    return {(*row.key, row.label): (row.cases, row.paid, row.stayed, row.rolled) for row in rows}


def test_buckets_are_labelled_by_their_days_overdue():
    assert bucket_labels((30, 60, 90)) == ["1-30", "31-60", "61-90", "91+"]
    assert bucket_labels((7,)) == ["1-7", "8+"]


def test_given_a_month_then_each_bucket_rolls_as_worked_out_by_hand(store):
    r = rolls(store)
    assert (r.start.date(), r.end.date()) == (date(2027, 1, 1), date(2027, 1, 31))
    # R-3 was not overdue yet, R-7 paid before the month, R-8 arrived during it: none is counted.
    assert figures(r.total) == {
        ("1-30",): (5, 2, 0, 3),  # R-1, R-9 (30 → 60, both edges) and R-12 rolled; paid
        ("31-60",): (2, 0, 0, 2),  # R-4; R-5 paid only part
        ("61-90",): (1, 0, 0, 1),  # R-10, from its last day of 61-90
        ("91+",): (1, 0, 1, 0),  # R-6 has nowhere to roll
    }
    first, second, _, last = r.total
    assert first.roll_rate == 3 / 5 and first.paid_rate == 2 / 5
    assert first.roll_interval == wilson_interval(3, 5) and second.roll_rate == 1.0
    assert last.roll_rate is None and last.roll_interval is None


def test_given_segments_then_roll_rates_are_split_by_the_cases_segment(store):
    r = rolls(store, "segment", "step")  # steps are reminders': roll rates ignore them
    assert r.columns == ("segment",)
    assert figures(r.rows) == {
        ("default", "1-30"): (5, 2, 0, 3),
        ("default", "91+"): (1, 0, 1, 0),
        ("large", "31-60"): (2, 0, 0, 2),
        ("large", "61-90"): (1, 0, 0, 1),
    }


def test_given_people_in_strategies_then_roll_rates_are_split_by_strategy(store):
    r = rolls(store, "strategy")
    assert figures(r.rows) == {
        ("challenger", "1-30"): (4, 2, 0, 2),  # paid; rolled
        ("challenger", "31-60"): (1, 0, 0, 1),
        ("champion", "1-30"): (1, 0, 0, 1),
        ("champion", "31-60"): (1, 0, 0, 1),
        ("champion", "61-90"): (1, 0, 0, 1),
        ("champion", "91+"): (1, 0, 1, 0),
    }


def test_given_a_week_then_unpaid_cases_mostly_stay_in_their_bucket(store):
    r = rolls(store, period_days=7)
    # From the end of 24 January: R-8 has arrived by then; R-2 had paid.
    assert figures(r.total) == {
        ("1-30",): (3, 1, 1, 1),  # R-3 (23 → 30) stayed, R-11 paid, R-12 (28 → 35) rolled
        ("31-60",): (3, 0, 3, 0),  # R-9 (53 → 60)
        ("61-90",): (2, 0, 2, 0),
        ("91+",): (2, 0, 2, 0),
    }


def test_given_buckets_narrower_than_the_period_then_a_case_can_roll_past_the_next_bucket(store):
    r = rolls(store, buckets=(10, 20))
    assert figures(r.total)[("1-10",)] == (3, 2, 0, 1)  # 5 → 35 days, past 11-20 into 21+
    assert figures(r.total)[("11-20",)] == (1, 0, 0, 1)  # 12 → 42


def test_given_strategies_only_on_reminders_then_cases_take_the_strategy_they_were_reminded_under(
    database_url: str,
):
    opened = open_store(database_url)
    try:
        add_strategy_column(opened, "intents")
        build_portfolio(opened)
        assign(opened, "intents")
        r = rolls(opened, "strategy")
        assert figures(r.rows)[("challenger", "1-30")] == (4, 2, 0, 2)
        assert figures(r.rows)[("champion", "91+")] == (1, 0, 1, 0)
    finally:
        opened.dispose()


def test_given_roll_rates_then_json_and_csv_carry_them(store):
    options = ReportOptions(by=("segment",), as_of=AS_OF)
    with store.read() as conn:
        report = build_report(conn, options)
    document = json.loads(render_json(report))["roll_rates"]
    assert document["buckets"] == ["1-30", "31-60", "61-90", "91+"] and document["period_days"] == 30
    assert document["total"][0] == {
        "segment": "(all)",
        "bucket": "1-30",
        "cases": 5,
        "paid": 2,
        "stayed": 0,
        "rolled": 3,
        "roll_rate": 0.6,
        "roll_ci95": [round(v, 6) for v in wilson_interval(3, 5)],
        "paid_rate": 0.4,
    }
    rows = list(csv.DictReader(io.StringIO(render_csv(report, "rolls"))))
    assert [(row["segment"], row["bucket"], row["roll_rate"]) for row in rows][:2] == [
        ("default", "1-30", "0.6"),
        ("default", "91+", ""),
    ]
    assert rows[-1]["segment"] == "(all)" and rows[-1]["stayed"] == "1"
