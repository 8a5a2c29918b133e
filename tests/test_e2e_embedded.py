"""End to end on the embedded default: import → tick → deliver → payment → tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from dunning.core.domain.model import Event, EventKind
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.settings import Settings
from dunning.core.store.schema import intents, outbox_messages
from dunning.testing.factories import make_case

POLICY = """
name: t
preset: none
quiet_hours: {start: "21:00", end: "08:00"}
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: push, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 2d}
"""


def test_import_tick_deliver_pay_tick_sends_each_once_and_nothing_after_payment(tmp_path, database_url):
    (tmp_path / "p.yaml").write_text(POLICY)
    clock = [datetime(2026, 12, 2, 2, 0, tzinfo=UTC)]
    settings = Settings(database_url=database_url, policy=str(tmp_path / "p.yaml"))
    rt = build_runtime(settings, clock=lambda: clock[0], dry_run=True)
    runner = Embedded(rt, threads=2)
    runner.start()
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(
                conn, [make_case(case_id=f"C-{i}", debtor_id=f"D-{i}") for i in range(5)], clock[0]
            )
        report = runner.step()
        assert report.planned == 5
        with rt.store.read() as conn:
            assert conn.scalar(select(func.count()).select_from(outbox_messages)) == 5
        # Two days later the push is due; C-0 pays first.
        clock[0] += timedelta(days=2, hours=1)
        rt.store.record_event(
            Event(EventKind.PAYMENT, clock[0], case_id="C-0", amount=Decimal("3200.00")),
            source="test",
            now=clock[0],
        )
        runner.step()
        with rt.store.read() as conn:
            rows = conn.execute(select(outbox_messages.c.case_id, outbox_messages.c.channel)).all()
            states = dict(conn.execute(select(intents.c.state, func.count()).group_by(intents.c.state)).all())
        assert sorted(r.channel for r in rows if r.case_id == "C-0") == ["sms"]
        assert sum(1 for r in rows if r.channel == "push") == 4
        assert states == {"sent": 9}
    finally:
        runner.stop()
        rt.close()


def test_rate_limits_are_read_from_settings_and_bad_ones_are_named():
    import pytest

    from dunning.core.errors import ConfigError
    from dunning.core.runtime.ratelimit import Limit, parse_limits

    assert parse_limits(["sms=10/s", "voice=30/m", "push=2/5s"]) == {
        "sms": Limit("sms", 10, 1),
        "voice": Limit("voice", 30, 60),
        "push": Limit("push", 2, 5),
    }
    with pytest.raises(ConfigError, match="'sms=fast' is not CHANNEL=COUNT/UNIT"):
        parse_limits(["sms=fast"])


def test_a_debtor_with_three_loans_due_in_one_tick_is_planned_within_the_person_s_cap(tmp_path, database_url):
    from dunning.core.runtime import tick

    # (Loans reminded one message each: with ``combine`` on, the three would share one text.)
    (tmp_path / "p.yaml").write_text(
        POLICY.replace(
            "quiet_hours:",
            "combine: false\ncaps: [{channel: any, max: 2, per: 1d, scope: debtor}]\nquiet_hours:",
        )
    )
    now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    settings = Settings(database_url=database_url, policy=str(tmp_path / "p.yaml"), scheduler_partitions=1)
    rt = build_runtime(settings, clock=lambda: now, dry_run=True)
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(
                conn, [make_case(case_id=f"L-{i}", debtor_id="D-SAME") for i in range(3)], now
            )
        # When one tick decides all three loans of the same person
        report = tick(rt, now)
        # Then only two reminders are planned that day; the third waits for the cap
        assert report.planned == 2
        assert report.actions["defer"] == 1
    finally:
        rt.close()


def test_delivery_messages_carry_the_case_and_older_or_wrong_ones_never_send_twice(tmp_path, database_url):
    from dramatiq import Message

    from dunning.core.runtime import deliver, tick
    from dunning.core.runtime.delivery import Outcome

    (tmp_path / "p.yaml").write_text(POLICY)
    now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    settings = Settings(database_url=database_url, policy=str(tmp_path / "p.yaml"))
    rt = build_runtime(settings, clock=lambda: now, dry_run=True)
    runner = Embedded(rt, threads=1)  # its worker not started yet: this test delivers by hand
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(
                conn, [make_case(case_id=f"C-{i}", debtor_id=f"D-{i}") for i in range(3)], now
            )
        # Given the scheduler hands three texts to the broker
        assert tick(rt, now).handed_over == 3
        queue = runner.broker.queues[runner.dispatcher.specs["sms"].queue_name]
        messages = []
        for _ in range(3):
            messages.append(Message.decode(queue.get_nowait()))
            queue.task_done()
        # Then each message names its intent and its case
        with rt.store.read() as conn:
            case_of = dict(conn.execute(select(intents.c.intent_id, intents.c.case_id)).all())
        assert sorted(tuple(m.args) for m in messages) == sorted(case_of.items())
        first, second, third = sorted(case_of)
        # A message naming another case sends nothing (it would hold the wrong case's gate)
        assert deliver(rt, first, case_of[second]).outcome == Outcome.SKIPPED
        # A message from an earlier version, by intent id alone, is delivered
        assert deliver(rt, second).outcome == Outcome.SENT
        assert deliver(rt, third, case_of[third]).outcome == Outcome.SENT
        # And repeats of either kind send nothing again
        assert deliver(rt, second, case_of[second]).outcome == Outcome.SKIPPED
        assert deliver(rt, third).outcome == Outcome.SKIPPED
        # When the runner starts, the intent the wrong message named is handed over again, and goes once
        assert runner.start().handed_over == 1
        runner.drain()
        with rt.store.read() as conn:
            sent = conn.execute(select(outbox_messages.c.case_id)).scalars().all()
            states = dict(conn.execute(select(intents.c.state, func.count()).group_by(intents.c.state)).all())
        assert sorted(sent) == sorted(case_of.values()) and states == {"sent": 3}
    finally:
        runner.stop()
        rt.close()
