"""Personalisation from repayment history: broken promises are counted, and steer the next case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dunning.core.domain.model import Case, Event, EventKind
from dunning.core.runtime import Runtime, build_runtime, deliver, tick
from dunning.core.settings import Settings
from dunning.core.store.schema import audit, cases, debtors, intents
from dunning.testing.factories import make_case

POLICY = """
name: history
preset: none
segments:
  - {name: unreliable, when: "broken_promises >= 1", ladder: firm}
  - {name: default, ladder: gentle}
ladders:
  gentle:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: push, template: overdue_notice, wait: 2d}
  firm:
    start_after: 0d
    steps:
      - {channel: voice, template: overdue_call, wait: 1d}
      - {channel: sms, template: overdue_firm, wait: 1d}
responses: {promise_grace: 1d}
"""

#: 10:00 in Shanghai on 2 December 2026, the day after the cases fall due.
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
#: A promise to pay by 4 December runs out at the end of that day (Shanghai) plus a day of grace.
PROMISED = date(2026, 12, 4)
DEADLINE = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)


@pytest.fixture
def rt(tmp_path, database_url: str) -> Iterator[Runtime]:
    """The real runtime (outbox channel) on a clock the tests move with :func:`at`."""
    (tmp_path / "policy.yaml").write_text(POLICY)
    settings = Settings(database_url=database_url, policy=str(tmp_path / "policy.yaml"))
    runtime = build_runtime(settings, clock=lambda: T0, dry_run=True)
    yield runtime
    runtime.close()


def at(rt: Runtime, moment: datetime) -> None:
    rt.clock = lambda: moment


def tick_and_deliver(rt: Runtime, moment: datetime) -> int:
    """One scheduler tick at ``moment``, then every planned reminder delivered (outbox channel)."""
    at(rt, moment)
    report = tick(rt, moment)
    with rt.store.read() as conn:
        planned = list(conn.scalars(select(intents.c.intent_id).where(intents.c.state == "planned")))
    for intent_id in planned:
        deliver(rt, intent_id)
    return report.broken_promises


def add(rt: Runtime, *batch: Case, now: datetime = T0) -> None:
    with rt.store.write() as conn:
        rt.store.upsert_cases(conn, list(batch), now)


def record(rt: Runtime, event: Event) -> None:
    rt.store.record_event(event, source="test", now=event.at)


def profile(rt: Runtime, debtor_id: str) -> tuple[int, int, int]:
    with rt.store.read() as conn:
        row = conn.execute(select(debtors).where(debtors.c.debtor_id == debtor_id)).one()
    return row.previous_cures, row.kept_promises, row.broken_promises


def ladder_of_first_reminder(rt: Runtime, case_id: str) -> tuple[str, str]:
    with rt.store.read() as conn:
        row = conn.execute(
            select(intents.c.segment, intents.c.ladder)
            .where(intents.c.case_id == case_id)
            .order_by(intents.c.seq)
        ).first()
    assert row is not None, f"no reminder for {case_id}"
    return row.segment, row.ladder


def promise(rt: Runtime, case_id: str, moment: datetime) -> None:
    record(rt, Event(EventKind.PROMISE, moment, case_id=case_id, date=PROMISED, channel="sms"))


def test_given_a_promise_that_runs_out_unpaid_when_the_scheduler_ticks_then_it_counts_once_as_broken(rt):
    add(rt, make_case(case_id="C-1", debtor_id="D-1"))
    tick_and_deliver(rt, T0)
    promise(rt, "C-1", T0 + timedelta(hours=1))
    assert tick_and_deliver(rt, T0 + timedelta(hours=1)) == 0
    with rt.store.read() as conn:
        assert conn.scalar(select(cases.c.promise_until).where(cases.c.case_id == "C-1")) == DEADLINE
    # Before the deadline nothing is broken; after it, the next tick counts it, and only once.
    assert tick_and_deliver(rt, DEADLINE - timedelta(minutes=1)) == 0
    assert profile(rt, "D-1") == (0, 0, 0)
    assert tick_and_deliver(rt, DEADLINE + timedelta(minutes=1)) == 1
    assert profile(rt, "D-1") == (0, 0, 1)
    for hours in (2, 30, 60):
        tick_and_deliver(rt, DEADLINE + timedelta(hours=hours))
    assert profile(rt, "D-1") == (0, 0, 1)
    with rt.store.read() as conn:
        trail = conn.execute(select(audit.c.action, audit.c.rule).where(audit.c.case_id == "C-1")).all()
    assert trail.count(("broken_promise", "promise")) == 1


def test_given_a_debtor_who_broke_a_promise_when_their_next_case_arrives_then_the_firm_ladder_is_chosen(rt):
    add(rt, make_case(case_id="C-1", debtor_id="D-1"), make_case(case_id="K-1", debtor_id="D-2"))
    tick_and_deliver(rt, T0)
    assert ladder_of_first_reminder(rt, "C-1") == ("default", "gentle")
    promise(rt, "C-1", T0 + timedelta(hours=1))
    promise(rt, "K-1", T0 + timedelta(hours=1))
    tick_and_deliver(rt, T0 + timedelta(hours=1))
    # D-2 keeps the promise; D-1 does not.
    record(rt, Event(EventKind.PAYMENT, T0 + timedelta(days=1), case_id="K-1", amount=Decimal("3200.00")))
    tick_and_deliver(rt, DEADLINE + timedelta(minutes=1))
    assert profile(rt, "D-1") == (0, 0, 1)
    assert profile(rt, "D-2") == (1, 1, 0)

    later = DEADLINE + timedelta(days=3)
    add(
        rt,
        make_case(case_id="C-2", debtor_id="D-1", due_date=date(2026, 12, 8)),
        make_case(case_id="K-2", debtor_id="D-2", due_date=date(2026, 12, 8)),
        now=later,
    )
    tick_and_deliver(rt, later)
    assert ladder_of_first_reminder(rt, "C-2") == ("unreliable", "firm")
    assert ladder_of_first_reminder(rt, "K-2") == ("default", "gentle")


def test_given_a_promise_paid_after_its_deadline_before_any_tick_then_the_payment_counts_it_broken(rt):
    add(rt, make_case(case_id="C-1", debtor_id="D-1"))
    tick_and_deliver(rt, T0)
    promise(rt, "C-1", T0 + timedelta(hours=1))
    tick_and_deliver(rt, T0 + timedelta(hours=1))
    late = DEADLINE + timedelta(seconds=5)
    record(rt, Event(EventKind.PAYMENT, late, case_id="C-1", amount=Decimal("3200.00")))
    assert profile(rt, "D-1") == (1, 0, 1)
    tick_and_deliver(rt, late + timedelta(hours=1))  # the paid case is not decided again
    assert profile(rt, "D-1") == (1, 0, 1)
    with rt.store.read() as conn:
        assert conn.scalar(select(cases.c.promise_until).where(cases.c.case_id == "C-1")) is None


def test_given_a_renewed_promise_before_the_deadline_then_only_the_last_one_can_break(rt):
    add(rt, make_case(case_id="C-1", debtor_id="D-1"))
    tick_and_deliver(rt, T0)
    promise(rt, "C-1", T0 + timedelta(hours=1))
    tick_and_deliver(rt, T0 + timedelta(hours=1))
    # A day before the first deadline, the debtor asks for three more days.
    renewed = DEADLINE - timedelta(days=1)
    record(rt, Event(EventKind.PROMISE, renewed, case_id="C-1", date=PROMISED + timedelta(days=3)))
    tick_and_deliver(rt, renewed)
    tick_and_deliver(rt, DEADLINE + timedelta(minutes=1))
    assert profile(rt, "D-1") == (0, 0, 0)
    tick_and_deliver(rt, DEADLINE + timedelta(days=3, minutes=1))
    assert profile(rt, "D-1") == (0, 0, 1)
