"""The store's contract, run against the embedded SQLite file and against PostgreSQL.

Every test here runs twice through the ``database_url`` fixture: what a user
relies on (exact money, aware UTC times, payments that stop reminders, the
scheduler's due query, the outbox's idempotence, the case gate) must hold on
both backends alike.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from dunning.core.domain.engine import outstanding
from dunning.core.domain.model import Case, ContactStatus, Event, EventKind, IntentState, intent_id_for
from dunning.core.errors import InputError
from dunning.core.store import Store, open_store
from dunning.core.store.gate import FileGate, gate_key
from dunning.core.store.migrations import head_revision
from dunning.core.store.schema import debtors, events, intents, metadata
from dunning.testing.factories import make_case

#: The moment of the first import; microseconds on purpose (paging compares times exactly).
T0 = datetime(2026, 12, 2, 2, 0, 0, 123456, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))
LADDER = "gentle"


# ---------------------------------------------------------------- helpers


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def put(store: Store, *batch: Case, now: datetime = T0) -> Any:
    with store.write() as conn:
        return store.upsert_cases(conn, list(batch), now)


def load(store: Store, case_id: str) -> tuple[Case, str]:
    with store.read() as conn:
        return store.load_cases(conn, [case_id])[case_id]


def status(store: Store, case_id: str) -> str:
    return load(store, case_id)[1]


def set_state(store: Store, case_id: str, state: str, next_check_at: datetime | None) -> None:
    """Write a decided case state back, as the scheduler does after a tick."""
    with store.write() as conn:
        store.set_case_state(
            conn,
            [
                {
                    "case_id": case_id,
                    "status": state,
                    "segment": "all",
                    "ladder": LADDER,
                    "next_check_at": next_check_at,
                    "updated_at": T0,
                }
            ],
        )


def intent_row(
    case: Case, step: int, channel: str = "sms", *, at: datetime = T0, cycle: int = 0
) -> dict[str, Any]:
    """An outbox row built as the scheduler's ``intent_rows`` (dunning.core.runtime.rows) builds it."""
    return {
        "intent_id": intent_id_for(case.case_id, LADDER, step, cycle, step),
        "case_id": case.case_id,
        "debtor_id": case.debtor_id,
        "channel": channel,
        "ladder": LADDER,
        "segment": "all",
        "step": step,
        "cycle": cycle,
        "seq": step,
        "template": "overdue_notice",
        "variant": None,
        "state": IntentState.PLANNED,
        "planned_at": at,
        "not_before": at,
        "contact_at": at,
        "attempts": 0,
        "connected": False,
        "updated_at": at,
    }


def plan(store: Store, *rows: dict[str, Any]) -> list[str]:
    with store.write() as conn:
        return store.plan_intents(conn, list(rows))


def plan_in_state(
    store: Store, case: Case, step: int, state: str, channel: str = "sms", **values: Any
) -> str:
    """Plan an intent and move it to ``state``, as the runtime would have."""
    row = intent_row(case, step, channel)
    plan(store, row)
    with store.write() as conn:
        store.update_intent(conn, row["intent_id"], T0, state=state, **values)
    return str(row["intent_id"])


def intent_states(store: Store) -> dict[str, str]:
    with store.read() as conn:
        return {
            row.intent_id: row.state for row in conn.execute(select(intents.c.intent_id, intents.c.state))
        }


def history_of(store: Store, case_id: str) -> Any:
    with store.read() as conn:
        case = store.load_cases(conn, [case_id])[case_id][0]
        return case, store.histories(conn, [case])[case_id]


def owed(store: Store, case_id: str) -> tuple[Decimal, bool]:
    """What the engine thinks is still owed, from the store's case and history."""
    case, history = history_of(store, case_id)
    return outstanding(case, history.events)


def pay(store: Store, case_id: str, at: datetime, amount: Decimal | None = None, **kw: Any) -> Any:
    return store.record_event(
        Event(EventKind.PAYMENT, at, case_id=case_id, amount=amount, **kw), source="test", now=at
    )


def due(store: Store, now: datetime, limit: int = 1000, **kw: Any) -> list[tuple[datetime, str]]:
    with store.read() as conn:
        return store.due_case_ids(conn, now, limit, **kw)


def all_due(store: Store, now: datetime, page: int, partitions: tuple[int, int] = (1, 0)) -> list[str]:
    """Every due case id, read page by page as the scheduler's tick reads them."""
    out: list[str] = []
    after = None
    while True:
        with store.read() as conn:
            rows = store.due_case_ids(conn, now, page, partitions, after)
        out.extend(case_id for _, case_id in rows)
        if len(rows) < page:
            return out
        after = rows[-1]


def profile_of(store: Store, debtor_id: str) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(select(debtors).where(debtors.c.debtor_id == debtor_id)).one()
    return dict(row._mapping)


# ---------------------------------------------------------------- upsert


def test_given_new_and_known_cases_when_upserted_then_counts_say_inserted_and_updated(store):
    # Given two cases already imported
    first = put(store, make_case(case_id="C-1"), make_case(case_id="C-2"))
    assert (first.inserted, first.updated) == (2, 0)
    # When a file names one known case (with a new phone) and one new case
    second = put(store, make_case(case_id="C-2", phone="+8613900139002"), make_case(case_id="C-3"))
    # Then one is counted as inserted, one as updated, and the change is stored
    assert (second.inserted, second.updated) == (1, 1)
    assert load(store, "C-2")[0].phone == "+8613900139002"
    assert {case_id for _, case_id in due(store, T0)} == {"C-1", "C-2", "C-3"}


def test_given_a_partial_payment_when_reimported_with_a_new_amount_then_older_payments_no_longer_count(store):
    # Given a case of 3200 and a payment of 1000 recorded an hour later
    put(store, make_case(amount_due=Decimal("3200.00")))
    pay(store, "C-1", T0 + timedelta(hours=1), Decimal("1000.00"))
    assert owed(store, "C-1") == (Decimal("2200.00"), False)
    # When the lender re-imports the case a day later with its own new balance
    later = T0 + timedelta(days=1)
    put(store, make_case(amount_due=Decimal("2200.00")), now=later)
    # Then the new amount holds as of the re-import and the old payment is not subtracted again
    case, state = load(store, "C-1")
    assert case.amount_due == Decimal("2200.00")
    assert case.amount_as_of == later
    assert state == "open"
    assert owed(store, "C-1") == (Decimal("2200.00"), False)


def test_given_a_partial_payment_when_reimported_with_the_same_amount_then_the_payment_still_counts(store):
    # Given a case of 3200 with a payment of 1000
    put(store, make_case(amount_due=Decimal("3200.00")))
    pay(store, "C-1", T0 + timedelta(hours=1), Decimal("1000.00"))
    # When tomorrow's export, with the unchanged amount, is imported again
    put(store, make_case(amount_due=Decimal("3200.0000"), name="王芳芳"), now=T0 + timedelta(days=1))
    # Then the amount's moment is unchanged and the payment still reduces what is owed
    case, _ = load(store, "C-1")
    assert case.name == "王芳芳"
    assert case.amount_as_of == T0
    assert owed(store, "C-1") == (Decimal("2200.00"), False)


def test_given_a_paid_case_when_reimported_with_a_new_amount_then_it_reopens_and_is_due(store):
    # Given a case paid in full
    put(store, make_case())
    pay(store, "C-1", T0 + timedelta(hours=1))
    assert status(store, "C-1") == "paid"
    # When it is re-imported with a new amount (a new instalment fell due)
    later = T0 + timedelta(days=3)
    result = put(store, make_case(amount_due=Decimal("500.00")), now=later)
    # Then it is open again, owes the new amount, and the scheduler looks at it now
    assert (result.inserted, result.updated) == (0, 1)
    assert status(store, "C-1") == "open"
    assert owed(store, "C-1") == (Decimal("500.00"), False)
    assert due(store, later) == [(later, "C-1")]


def test_given_a_paid_case_when_reimported_unchanged_then_it_stays_paid(store):
    # Given a case paid in full
    put(store, make_case())
    pay(store, "C-1", T0 + timedelta(hours=1))
    # When yesterday's file (same amount) is imported again
    later = T0 + timedelta(days=1)
    put(store, make_case(), now=later)
    # Then the debtor is not reminded again
    assert status(store, "C-1") == "paid"
    assert due(store, later) == []


def test_given_a_file_naming_a_case_twice_when_upserted_then_the_last_row_wins(store):
    # When one batch names C-1 twice with different amounts and phones
    result = put(
        store,
        make_case(amount_due=Decimal("100.00"), phone="+8613800138000"),
        make_case(amount_due=Decimal("200.00"), phone="+8613900139002"),
    )
    # Then one case is inserted, holding the last row's values
    assert (result.inserted, result.updated) == (1, 0)
    case, _ = load(store, "C-1")
    assert (case.amount_due, case.phone) == (Decimal("200.00"), "+8613900139002")


def test_given_profile_fields_when_imported_then_they_land_on_the_debtor_and_come_back_with_the_case(store):
    # Given a case whose row carries the debtor's repayment history
    profile = {"previous_cures": 2, "broken_promises": 1, "kept_promises": 3, "days_to_pay_last": 4}
    put(store, make_case(profile=profile))
    # Then the debtors table holds it
    row = profile_of(store, "D-1")
    assert {k: row[k] for k in profile} == profile
    # And it comes back with the case, for segment conditions
    assert dict(load(store, "C-1")[0].profile) == profile
    # When a second case of the same debtor is imported without profile columns
    put(store, make_case(case_id="C-2"))
    # Then the debtor's history is kept, and both cases see it
    assert dict(load(store, "C-2")[0].profile) == profile
    # When a later file updates one figure
    put(store, make_case(case_id="C-2", profile={"previous_cures": 5}))
    assert load(store, "C-1")[0].profile["previous_cures"] == 5
    assert load(store, "C-1")[0].profile["kept_promises"] == 3


# ---------------------------------------------------------------- exact values


@pytest.mark.parametrize("amount", [Decimal("1234567890.1234"), Decimal("0.0001")])
def test_given_an_amount_with_four_decimals_when_stored_then_it_comes_back_exactly(store, amount):
    put(store, make_case(amount_due=amount))
    case, _ = load(store, "C-1")
    assert isinstance(case.amount_due, Decimal)
    assert case.amount_due == amount
    assert str(case.amount_due) == str(amount)
    # And a payment of the same amount settles it to the last digit
    pay(store, "C-1", T0 + timedelta(hours=1), amount)
    _, history = history_of(store, "C-1")
    assert history.events[0].amount == amount
    assert status(store, "C-1") == "paid"


def test_given_times_in_any_zone_when_stored_then_they_come_back_as_the_same_aware_utc_moment(store):
    # Given an import done at a Shanghai wall-clock time
    local = T0.astimezone(SHANGHAI)
    put(store, make_case(), now=local)
    pay(store, "C-1", local + timedelta(hours=1), Decimal("1.00"))
    case, history = history_of(store, "C-1")
    (next_check, _case_id) = due(store, T0 + timedelta(days=1))[0]
    for moment in (case.amount_as_of, history.events[0].at, next_check):
        assert moment is not None
        assert moment.utcoffset() == timedelta(0)
    assert case.amount_as_of == T0
    assert history.events[0].at == T0 + timedelta(hours=1)
    assert next_check == T0 + timedelta(hours=1)  # the payment woke the case


# ---------------------------------------------------------------- the scheduler's due query


def test_given_cases_in_every_state_when_asking_what_is_due_then_only_live_due_cases_come_oldest_first(store):
    now = T0 + timedelta(days=1)
    put(store, *(make_case(case_id=f"C-{name}", debtor_id=f"D-{name}") for name in "ABCDEFGH"))
    set_state(store, "C-A", "open", now - timedelta(hours=2))
    set_state(store, "C-C", "stopped", now - timedelta(hours=1))
    set_state(store, "C-B", "held", now - timedelta(hours=1))  # same time as C-C: ordered by id
    set_state(store, "C-D", "open", now)  # due exactly now
    set_state(store, "C-E", "paid", now - timedelta(hours=3))
    set_state(store, "C-F", "open", now + timedelta(seconds=1))
    set_state(store, "C-G", "open", None)
    set_state(store, "C-H", "held", now + timedelta(days=2))
    assert due(store, now) == [
        (now - timedelta(hours=2), "C-A"),
        (now - timedelta(hours=1), "C-B"),
        (now - timedelta(hours=1), "C-C"),
        (now, "C-D"),
    ]


def _spread(store: Store, count: int) -> list[str]:
    """``count`` due cases sharing a handful of next-check times (ties must page correctly)."""
    ids = [f"C-{i:03d}" for i in range(count)]
    put(store, *(make_case(case_id=i, debtor_id=f"D-{i}") for i in ids))
    for n, case_id in enumerate(ids):
        set_state(store, case_id, "open", T0 + timedelta(minutes=n % 4))
    return sorted(ids, key=lambda i: (ids.index(i) % 4, i))


def test_given_many_due_cases_when_read_page_by_page_then_every_case_comes_once_in_order(store):
    expected = _spread(store, 23)
    now = T0 + timedelta(hours=1)
    assert [case_id for _, case_id in due(store, now)] == expected
    for page in (1, 5, 7, 23, 50):
        assert all_due(store, now, page) == expected


@pytest.mark.parametrize("count", [2, 3, 5])
def test_given_schedulers_sharing_a_portfolio_when_each_reads_its_partition_then_they_split_it_exactly(
    store, count
):
    expected = _spread(store, 40)
    now = T0 + timedelta(hours=1)
    shares = [all_due(store, now, 4, (count, index)) for index in range(count)]
    # Each scheduler gets some work, in due order; together they see every case exactly once
    for share in shares:
        assert share
        assert share == [i for i in expected if i in share]
    assert sorted(itertools.chain.from_iterable(shares)) == sorted(expected)
    assert sum(len(share) for share in shares) == len(expected)


def _captured_due_queries(store: Store) -> list[tuple[str, Any]]:
    """The SQL the store really sends for the scheduler's due query, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "next_check_at" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.read() as conn:
            store.due_case_ids(conn, T0, 100)
            store.due_case_ids(conn, T0, 100, (3, 1), (T0 - timedelta(days=1), "C-000"))
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(seen) == 2
    return seen


def _index_names(plan: Any) -> Iterator[str]:
    if isinstance(plan, dict):
        if "Index Name" in plan:
            yield plan["Index Name"]
        for value in plan.values():
            yield from _index_names(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from _index_names(value)


def test_given_a_portfolio_when_the_scheduler_asks_what_is_due_then_the_query_uses_the_due_index(store):
    # Given a portfolio (so the planner has something to choose from)
    _spread(store, 60)
    # When the due query (plain, and partitioned with paging) is explained
    for statement, parameters in _captured_due_queries(store):
        with store.read() as conn:
            if store.dialect == "sqlite":
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                details = " | ".join(str(row[-1]) for row in plan)
                # Then SQLite searches ix_cases_due rather than scanning the table
                assert "ix_cases_due" in details, details
            else:
                conn.exec_driver_sql("ANALYZE cases")
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
                plan = json.loads(raw) if isinstance(raw, str) else raw
                # Then PostgreSQL scans ix_cases_due (index, index-only or bitmap index scan)
                assert "ix_cases_due" in set(_index_names(plan)), json.dumps(plan, indent=1)


# ---------------------------------------------------------------- the outbox


def test_given_the_same_decision_planned_twice_when_planning_then_the_intent_is_inserted_once(store):
    case = make_case()
    put(store, case)
    first, second = intent_row(case, 0, "sms"), intent_row(case, 1, "push")
    # When a tick plans a step and a second tick (or scheduler) plans it again
    assert plan(store, first) == [first["intent_id"]]
    assert plan(store, first) == []
    # And a later plan mixes the old step with a new one
    assert plan(store, first, second) == [second["intent_id"]]
    # Then there is one row per step: no reminder can go twice
    with store.read() as conn:
        assert conn.scalar(select(func.count()).select_from(intents)) == 2


def test_given_intents_in_every_state_when_handing_over_then_only_due_planned_and_lost_enqueued_go(store):
    case = make_case()
    put(store, case)
    now = T0 + timedelta(hours=1)
    stale = timedelta(minutes=5)
    due_planned = plan_in_state(store, case, 0, IntentState.PLANNED, not_before=now)
    plan_in_state(store, case, 1, IntentState.PLANNED, not_before=now + timedelta(seconds=1))
    lost = plan_in_state(store, case, 2, IntentState.PLANNED, channel="push")
    fresh = plan_in_state(store, case, 3, IntentState.PLANNED, channel="push")
    with store.write() as conn:
        store.mark_enqueued(conn, [lost], now - stale - timedelta(seconds=1))
        store.mark_enqueued(conn, [fresh], now - stale + timedelta(seconds=30))
    for step, state in enumerate(
        (IntentState.SENDING, IntentState.SENT, IntentState.UNKNOWN, IntentState.CANCELLED), start=4
    ):
        plan_in_state(store, case, step, state, not_before=T0)
    # When the sweeper asks what to give the broker
    with store.read() as conn:
        handed = store.to_hand_over(conn, now, stale)
    # Then: the planned intent whose time has come, and the one the broker lost
    assert sorted(handed) == sorted([(due_planned, "sms", case.case_id), (lost, "push", case.case_id)])


def test_given_workers_that_died_when_leases_expire_then_only_never_called_intents_are_retried(store):
    case = make_case()
    put(store, case)
    now = T0 + timedelta(minutes=10)
    before_call = plan_in_state(
        store, case, 0, IntentState.SENDING, lease_until=now - timedelta(seconds=1), lease_owner="w1"
    )
    during_call = plan_in_state(
        store,
        case,
        1,
        IntentState.SENDING,
        lease_until=now - timedelta(seconds=1),
        lease_owner="w2",
        call_started_at=now - timedelta(minutes=2),
    )
    alive = plan_in_state(
        store,
        case,
        2,
        IntentState.SENDING,
        lease_until=now + timedelta(minutes=1),
        lease_owner="w3",
        call_started_at=now - timedelta(seconds=5),
    )
    # When the sweeper expires leases
    with store.write() as conn:
        requeued, ambiguous = store.expire_leases(conn, now)
    # Then the one that never reached the provider is planned again (safe to retry),
    # the one that may have left is unknown (never resent blindly), the live one untouched
    assert (requeued, ambiguous) == ([before_call], [during_call])
    assert intent_states(store) == {
        before_call: IntentState.PLANNED,
        during_call: IntentState.UNKNOWN,
        alive: IntentState.SENDING,
    }
    with store.read() as conn:
        handed = [intent_id for intent_id, *_ in store.to_hand_over(conn, now, timedelta(minutes=5))]
    assert handed == [before_call]
    _, history = history_of(store, "C-1")
    assert {c.intent_id: c.status for c in history.contacts}[during_call] == ContactStatus.UNKNOWN


# ---------------------------------------------------------------- events


def _pending_everywhere(store: Store, case: Case) -> dict[str, str]:
    """A case with one intent in each interesting state: planned, enqueued, sending, sent."""
    ids = {
        "planned": plan_in_state(store, case, 0, IntentState.PLANNED),
        "enqueued": plan_in_state(store, case, 1, IntentState.PLANNED, channel="push"),
        "sending": plan_in_state(store, case, 2, IntentState.SENDING, lease_until=T0 + timedelta(minutes=5)),
        "sent": plan_in_state(store, case, 3, IntentState.SENT),
    }
    with store.write() as conn:
        store.mark_enqueued(conn, [ids["enqueued"]], T0)
    return ids


@pytest.mark.parametrize(
    ("amount", "full"),
    [(None, None), (Decimal("3200.00"), None), (Decimal("5000"), None), (Decimal("1.00"), True)],
    ids=["no-amount", "exact", "overpaid", "flagged-full"],
)
def test_given_pending_reminders_when_paid_in_full_then_the_case_closes_and_unsent_ones_are_cancelled(
    store, amount, full
):
    # Given a case of 3200 with reminders planned, enqueued, being sent and sent,
    # and a second case of the same debtor with a planned reminder
    case, sibling = make_case(), make_case(case_id="C-2")
    put(store, case, sibling)
    ids = _pending_everywhere(store, case)
    other = plan_in_state(store, sibling, 0, IntentState.PLANNED)
    # When a payment in full is recorded
    recorded = pay(store, "C-1", T0 + timedelta(hours=1), amount, full=full)
    # Then the case is paid and every unsent reminder of it was withdrawn in the same call
    assert recorded.status == "paid"
    assert not recorded.duplicate
    assert sorted(recorded.cancelled) == sorted([ids["planned"], ids["enqueued"]])
    assert status(store, "C-1") == "paid"
    assert intent_states(store) == {
        ids["planned"]: IntentState.CANCELLED,
        ids["enqueued"]: IntentState.CANCELLED,
        ids["sending"]: IntentState.SENDING,  # in flight: the gate and the re-check settle it
        ids["sent"]: IntentState.SENT,
        other: IntentState.PLANNED,  # the debtor's other loan is still owed
    }
    assert "C-1" not in {case_id for _, case_id in due(store, T0 + timedelta(days=30))}


def test_given_partial_payments_when_they_add_up_to_the_amount_then_the_last_one_closes_the_case(store):
    case = make_case(amount_due=Decimal("3200.00"))
    put(store, case)
    planned = plan_in_state(store, case, 0, IntentState.PLANNED)
    first = pay(store, "C-1", T0 + timedelta(hours=1), Decimal("1000.00"))
    second = pay(store, "C-1", T0 + timedelta(hours=2), Decimal("1199.99"))
    # Then, while money is still owed, the case stays open and nothing is withdrawn
    assert (first.status, first.cancelled, second.status, second.cancelled) == (None, [], None, [])
    assert status(store, "C-1") == "open"
    assert owed(store, "C-1") == (Decimal("1000.01"), False)
    # When the payment that covers the rest arrives
    last = pay(store, "C-1", T0 + timedelta(hours=3), Decimal("1000.01"))
    # Then the case is paid and its reminder withdrawn
    assert last.status == "paid"
    assert last.cancelled == [planned]
    assert status(store, "C-1") == "paid"
    assert owed(store, "C-1")[1] is True


def test_given_a_payment_delivered_twice_when_recorded_then_it_counts_once(store):
    # Given a case of 3200 and a webhook that delivers a payment of 1600 twice
    put(store, make_case(amount_due=Decimal("3200.00")))
    first = pay(store, "C-1", T0 + timedelta(hours=1), Decimal("1600.00"), event_id="pay-1")
    second = pay(store, "C-1", T0 + timedelta(hours=1), Decimal("1600.00"), event_id="pay-1")
    # Then the second is a duplicate and changes nothing: the case is not closed by 2 × 1600
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.status is None and second.cancelled == []
    assert status(store, "C-1") == "open"
    assert owed(store, "C-1") == (Decimal("1600.00"), False)
    with store.read() as conn:
        assert conn.scalar(select(func.count()).select_from(events)) == 1


def test_given_an_unknown_case_when_an_event_arrives_then_an_input_error_names_case_id(store):
    put(store, make_case())
    with pytest.raises(InputError) as caught:
        pay(store, "NO-SUCH-CASE", T0)
    assert caught.value.field == "case_id"
    assert "case_id" in str(caught.value)
    assert "NO-SUCH-CASE" in str(caught.value)
    with store.read() as conn:
        assert conn.scalar(select(func.count()).select_from(events)) == 0


def _two_loans_and_a_neighbour(store: Store) -> dict[tuple[str, str], str]:
    """Debtor D-1 with two loans, D-2 with one; each loan has a planned SMS and push reminder."""
    loans = [make_case(case_id="C-1"), make_case(case_id="C-2"), make_case(case_id="C-3", debtor_id="D-2")]
    put(store, *loans)
    return {
        (case.case_id, channel): plan_in_state(store, case, step, IntentState.PLANNED, channel=channel)
        for case in loans
        for step, channel in enumerate(("sms", "push"))
    }


def test_given_a_debtor_with_two_loans_when_they_opt_out_of_sms_then_sms_stops_on_both_but_push_stays(store):
    ids = _two_loans_and_a_neighbour(store)
    recorded = store.record_event(
        Event(EventKind.OPT_OUT, T0 + timedelta(hours=1), case_id="C-1", channel="sms"), source="test", now=T0
    )
    assert sorted(recorded.cancelled) == sorted([ids["C-1", "sms"], ids["C-2", "sms"]])
    states = intent_states(store)
    assert states[ids["C-1", "sms"]] == states[ids["C-2", "sms"]] == IntentState.CANCELLED
    assert states[ids["C-1", "push"]] == states[ids["C-2", "push"]] == IntentState.PLANNED
    assert states[ids["C-3", "sms"]] == states[ids["C-3", "push"]] == IntentState.PLANNED


@pytest.mark.parametrize("channel", ["all", None])
def test_given_a_debtor_with_two_loans_when_they_opt_out_of_everything_then_all_their_reminders_stop(
    store, channel
):
    ids = _two_loans_and_a_neighbour(store)
    recorded = store.record_event(
        Event(EventKind.OPT_OUT, T0 + timedelta(hours=1), case_id="C-2", channel=channel),
        source="test",
        now=T0,
    )
    mine = [intent_id for (case_id, _), intent_id in ids.items() if case_id != "C-3"]
    assert sorted(recorded.cancelled) == sorted(mine)
    states = intent_states(store)
    assert {states[i] for i in mine} == {IntentState.CANCELLED}
    assert states[ids["C-3", "sms"]] == states[ids["C-3", "push"]] == IntentState.PLANNED


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (EventKind.REPLY, {"text": "will pay friday"}),
        (EventKind.PROMISE, {"date": date(2026, 12, 9)}),
        (EventKind.DISPUTE, {"text": "not my loan"}),
    ],
)
def test_given_an_answer_from_the_debtor_when_recorded_then_that_case_s_pending_reminders_are_superseded(
    store, kind, extra
):
    ids = _two_loans_and_a_neighbour(store)
    recorded = store.record_event(
        Event(kind, T0 + timedelta(hours=1), case_id="C-1", **extra),
        source="test",
        now=T0 + timedelta(hours=1),
    )
    assert sorted(recorded.cancelled) == sorted([ids["C-1", "sms"], ids["C-1", "push"]])
    states = intent_states(store)
    assert {k: v for k, v in states.items() if v == IntentState.CANCELLED} == {
        ids["C-1", "sms"]: IntentState.CANCELLED,
        ids["C-1", "push"]: IntentState.CANCELLED,
    }
    with store.read() as conn:
        reasons = set(conn.scalars(select(intents.c.reason).where(intents.c.case_id == "C-1")))
    assert reasons == {str(kind)}


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (EventKind.REPLY, {"text": "ok"}),
        (EventKind.ACK, {}),
        (EventKind.PROMISE, {"date": date(2026, 12, 9)}),
        (EventKind.DISPUTE, {}),
        (EventKind.RESUME, {}),
        (EventKind.CONVERSATION, {"channel": "voice"}),
        (EventKind.PAYMENT, {"amount": Decimal("10.00")}),
    ],
)
def test_given_a_case_checked_later_when_an_event_arrives_then_the_scheduler_looks_at_it_now(
    store, kind, extra
):
    put(store, make_case(), make_case(case_id="C-2"))
    set_state(store, "C-1", "held" if kind == EventKind.RESUME else "open", T0 + timedelta(days=3))
    set_state(store, "C-2", "open", T0 + timedelta(days=3))
    now = T0 + timedelta(hours=5)
    store.record_event(
        Event(kind, now - timedelta(minutes=1), case_id="C-1", **extra), source="test", now=now
    )
    assert due(store, now) == [(now, "C-1")]  # the other loan's own event did not happen


def test_given_a_debtor_with_two_loans_when_they_report_a_wrong_number_then_both_loans_are_looked_at_now(
    store,
):
    put(store, make_case(), make_case(case_id="C-2"), make_case(case_id="C-3", debtor_id="D-2"))
    for case_id in ("C-1", "C-2", "C-3"):
        set_state(store, case_id, "open", T0 + timedelta(days=3))
    now = T0 + timedelta(hours=5)
    store.record_event(
        Event(EventKind.WRONG_NUMBER, now, case_id="C-2", channel="sms"), source="test", now=now
    )
    assert due(store, now) == [(now, "C-1"), (now, "C-2")]


def test_given_a_paid_case_when_the_debtor_replies_then_it_is_not_woken_or_reopened(store):
    put(store, make_case())
    pay(store, "C-1", T0 + timedelta(hours=1))
    now = T0 + timedelta(hours=2)
    store.record_event(Event(EventKind.REPLY, now, case_id="C-1", text="paid!"), source="test", now=now)
    assert status(store, "C-1") == "paid"
    assert due(store, now + timedelta(days=30)) == []


def test_given_a_debtor_with_history_when_paying_in_full_then_their_cure_count_and_speed_are_kept(store):
    # Given a debtor who cured twice before, a case due 1 December and a promise to pay by the 6th
    put(store, make_case(profile={"previous_cures": 2, "kept_promises": 0}))
    store.record_event(
        Event(EventKind.PROMISE, T0, case_id="C-1", date=date(2026, 12, 6)), source="test", now=T0
    )
    # When they pay in full on 5 December
    pay(store, "C-1", datetime(2026, 12, 5, 10, 0, tzinfo=UTC))
    # Then the next segment decision sees three cures, four days to pay and a kept promise
    profile = load(store, "C-1")[0].profile
    assert profile["previous_cures"] == 3
    assert profile["days_to_pay_last"] == 4
    assert profile["kept_promises"] == 1


def test_given_a_paid_case_when_a_second_payment_arrives_then_the_debtor_is_not_counted_as_curing_twice(
    store,
):
    # Given a case paid in full (one cure)
    put(store, make_case())
    pay(store, "C-1", T0 + timedelta(hours=1), Decimal("3200.00"), event_id="bank-1")
    assert load(store, "C-1")[0].profile["previous_cures"] == 1
    # When another payment for the same loan arrives (a second channel reports it, an overpayment)
    pay(store, "C-1", T0 + timedelta(hours=2), Decimal("50.00"), event_id="app-7")
    # Then the debtor has still cured one debt, once
    assert status(store, "C-1") == "paid"
    assert load(store, "C-1")[0].profile["previous_cures"] == 1


# ---------------------------------------------------------------- histories


def test_given_a_debtor_with_two_loans_when_building_a_history_then_contact_point_events_cross_loans(store):
    put(store, make_case(), make_case(case_id="C-2"), make_case(case_id="C-3", debtor_id="D-2"))
    t = [T0 + timedelta(minutes=n) for n in range(10)]

    def record(kind: EventKind, at: datetime, case_id: str, **extra: Any) -> None:
        store.record_event(Event(kind, at, case_id=case_id, **extra), source="test", now=at)

    record(EventKind.REPLY, t[1], "C-1", text="soon")
    record(EventKind.OPT_OUT, t[2], "C-2", channel="sms")
    record(EventKind.PAYMENT, t[3], "C-2", amount=Decimal("100.00"))
    record(EventKind.WRONG_NUMBER, t[4], "C-2", channel="voice")
    record(EventKind.PROMISE, t[5], "C-2", date=date(2026, 12, 9))
    record(EventKind.INVALID_CONTACT, t[6], "C-2", channel="push")
    record(EventKind.OPT_OUT, t[7], "C-3", channel="all")  # someone else
    record(EventKind.PAYMENT, t[8], "C-1", amount=Decimal("200.00"))
    _, history = history_of(store, "C-1")
    # Then C-1 sees its own events and its debtor's contact-point events, in time order,
    # but not the other loan's payment or promise, nor the other debtor's opt-out
    assert [(e.kind, e.case_id, e.at) for e in history.events] == [
        (EventKind.REPLY, "C-1", t[1]),
        (EventKind.OPT_OUT, "C-2", t[2]),
        (EventKind.WRONG_NUMBER, "C-2", t[4]),
        (EventKind.INVALID_CONTACT, "C-2", t[6]),
        (EventKind.PAYMENT, "C-1", t[8]),
    ]
    assert owed(store, "C-1") == (Decimal("3000.00"), False)


def test_given_reminders_in_every_state_when_building_a_history_then_contacts_cover_the_whole_debtor(store):
    case, sibling, stranger = make_case(), make_case(case_id="C-2"), make_case(case_id="C-3", debtor_id="D-2")
    put(store, case, sibling, stranger)
    expected = {
        IntentState.PLANNED: ContactStatus.PENDING,
        IntentState.ENQUEUED: ContactStatus.PENDING,
        IntentState.SENDING: ContactStatus.PENDING,
        IntentState.SENT: ContactStatus.SENT,
        IntentState.DELIVERED: ContactStatus.DELIVERED,
        IntentState.UNKNOWN: ContactStatus.UNKNOWN,
        IntentState.CANCELLED: ContactStatus.CANCELLED,
        IntentState.SUPPRESSED: ContactStatus.CANCELLED,
        IntentState.FAILED: ContactStatus.FAILED,
    }
    ids = {
        plan_in_state(store, case, step, state): status
        for step, (state, status) in enumerate(expected.items())
    }
    sibling_sent = plan_in_state(store, sibling, 0, IntentState.SENT, channel="voice", connected=True)
    plan_in_state(store, stranger, 0, IntentState.SENT)
    _, history = history_of(store, "C-1")
    by_id = {c.intent_id: c for c in history.contacts}
    # Then every contact of the person counts (caps protect a person), with its status
    assert set(by_id) == {*ids, sibling_sent}
    assert {i: by_id[i].status for i in ids} == ids
    assert by_id[sibling_sent].case_id == "C-2"
    assert by_id[sibling_sent].connected is True
    assert all(c.at == T0 and c.at.utcoffset() == timedelta(0) for c in history.contacts)


# ---------------------------------------------------------------- migrations


def test_given_a_migrated_store_then_the_migration_and_the_tables_agree(store):
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_given_a_store_with_data_when_opened_again_then_nothing_changes(store, database_url):
    put(store, make_case(amount_due=Decimal("0.0001")))
    again = open_store(database_url)
    try:
        assert load(again, "C-1")[0].amount_due == Decimal("0.0001")
        with again.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == head_revision()
            assert compare_metadata(context, metadata) == []
    finally:
        again.dispose()


# ---------------------------------------------------------------- the case gate


def _other_bucket(store: Store, case_id: str) -> str:
    """A case id whose gate slot differs from ``case_id``'s (bucket on SQLite, key on PostgreSQL)."""

    def slot(i: str) -> int:
        return store.gate._bucket(i) if isinstance(store.gate, FileGate) else gate_key(i)

    return next(c for n in itertools.count() if slot(c := f"C-OTHER-{n}") != slot(case_id))


class _Payer(threading.Thread):
    """Records a full payment in a thread and notes when it committed."""

    def __init__(self, store: Store, case_id: str) -> None:
        super().__init__(daemon=True)
        self.store, self.case_id = store, case_id
        self.started_call = threading.Event()
        self.done = threading.Event()
        self.committed_at: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.started_call.set()
            pay(self.store, self.case_id, T0 + timedelta(hours=1))
            self.committed_at = time.monotonic()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()


def test_given_a_send_in_flight_when_its_case_is_paid_then_the_payment_waits_for_the_send(store):
    put(store, make_case())
    with store.connection() as conn, store.gate.shared(conn, "C-1"):
        # Given a delivery holding the gate of C-1 (between its re-check and the provider's answer)
        payer = _Payer(store, "C-1")
        payer.start()
        assert payer.started_call.wait(5)
        # When a payment for C-1 is recorded meanwhile, it does not commit
        assert not payer.done.wait(0.3)
        assert status(store, "C-1") == "open"
        released_at = time.monotonic()
    # Then it commits once the send is done
    assert payer.done.wait(30)
    assert payer.error is None
    assert payer.committed_at is not None and payer.committed_at > released_at
    assert status(store, "C-1") == "paid"


def test_a_case_woken_between_a_tick_s_read_and_its_write_is_looked_at_again(store):
    put(store, make_case())
    now = T0 + timedelta(days=1)
    # Given a tick has read the due case
    with store.read() as conn:
        [due] = store.due_cases(conn, now, 10)
    # When a delivery outcome (a failed text, say) wakes it for its fallback before the tick writes
    woken = now + timedelta(seconds=1)
    with store.write() as conn:
        store.wake_case(conn, "C-1", woken)
    # Then the tick's decision from the older read (look again in two days) does not bury the wake
    row = {
        "case_id": "C-1",
        "status": "open",
        "segment": "all",
        "ladder": "l",
        "next_check_at": now + timedelta(days=2),
        "updated_at": now + timedelta(seconds=2),
    }
    with store.write() as conn:
        assert store.set_case_state(conn, [row], {"C-1": due.updated_at}) == set()
    with store.read() as conn:
        assert [d.case.case_id for d in store.due_cases(conn, woken, 10)] == ["C-1"]


def test_on_postgresql_a_gate_that_cannot_be_taken_raises_the_database_s_error_and_holds_nothing(
    postgres_url,
):
    store = open_store(postgres_url)
    try:
        put(store, make_case())
        # Given a payment holding C-1's gate, and a delivery that waits at most 100 ms for a lock
        with store.write() as payer, store.gate.exclusive(payer, ["C-1"]), store.connection() as conn:
            conn.exec_driver_sql("SET lock_timeout = '100ms'")
            conn.commit()
            # When the delivery cannot take the gate, Then it fails with the database's own error
            with pytest.raises(OperationalError, match="lock timeout"), store.gate.shared(conn, "C-1"):
                pytest.fail("the gate was taken while a payment held it")
            # And its connection is back to transactions as usual, holding no lock of the gate
            assert conn.get_isolation_level() == conn.default_isolation_level
            held = conn.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
            )
            assert held == 0
            conn.rollback()
    finally:
        store.dispose()


def test_given_a_send_in_flight_when_another_case_is_paid_then_that_payment_is_not_held_up(store):
    other = _other_bucket(store, "C-1")
    put(store, make_case(), make_case(case_id=other, debtor_id="D-2"))
    with store.connection() as conn, store.gate.shared(conn, "C-1"):
        payer = _Payer(store, other)
        payer.start()
        # The unrelated payment commits while C-1's gate is still held
        assert payer.done.wait(30)
        assert payer.error is None
        assert status(store, other) == "paid"
        assert status(store, "C-1") == "open"


def _terminate_the_pooled_session(url: str, store: Store) -> None:
    """Have PostgreSQL end the session behind the store's one pooled connection."""
    with store.read() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other = open_store(url, migrate=False)
    try:
        with other.write() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        other.dispose()


def test_given_a_pooled_postgres_connection_the_server_let_go_while_idle_then_the_next_use_gets_a_fresh_one(
    postgres_url, monkeypatch
):
    import dunning.core.store.base as base

    store = open_store(postgres_url, pool_size=1)
    try:
        _terminate_the_pooled_session(postgres_url, store)
        monkeypatch.setattr(base, "PING_AFTER_IDLE", 0.0)  # it has been idle long enough to be pinged
        with store.read() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        store.dispose()


def test_given_a_pooled_postgres_connection_in_steady_use_then_it_is_not_pinged_and_a_lost_one_fails_once(
    postgres_url,
):
    store = open_store(postgres_url, pool_size=1)
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    try:
        for _ in range(3):
            with store.read() as conn:
                conn.execute(text("SELECT 2"))
        assert seen == ["SELECT 2"] * 3  # no ping between uses a moment apart
        _terminate_the_pooled_session(postgres_url, store)
        with pytest.raises(OperationalError), store.read() as conn:
            conn.execute(text("SELECT 3"))
        with store.read() as conn:  # the pool was renewed: the next use works
            assert conn.execute(text("SELECT 4")).scalar_one() == 4
    finally:
        store.dispose()
