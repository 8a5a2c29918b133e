"""PostgreSQL's direct delivery path records exactly what the ordinary path records.

On PostgreSQL a worker that knows the case delivers a usual reminder through a
few statements straight to the driver (``dunning.core.store.sending``). Two
identical cases of two debtors are planned in one tick; one is delivered
through that path (the broker message's case id given), the other the
ordinary way (no case id: looked up first). What the store says of them
afterwards — the reminder, its attempts, its audit trail, the case's next
check — must be the same, whether the text went or quiet hours held it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.pool import NullPool

from dunning.core.runtime import build_runtime
from dunning.core.runtime.delivery import Outcome, deliver
from dunning.core.runtime.runtime import Runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.gate import gate_key
from dunning.core.store.schema import attempts, audit, cases, intents
from dunning.testing.factories import make_case

#: 10:00 in Shanghai on 2 December 2026, the day after the cases fell due.
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)

POLICY = """
name: t
preset: none
quiet_hours: {start: "21:00", end: "08:30"}
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""


@pytest.fixture
def planned(tmp_path, postgres_url, fake_twilio) -> Iterator[tuple[Runtime, list[datetime], dict[str, str]]]:
    """A PostgreSQL runtime with one text planned for each of two debtors: {case_id: intent_id}."""
    clock = [T0]
    fake_twilio.clock = lambda: clock[0].timestamp()
    (tmp_path / "policy.yaml").write_text(POLICY)
    rt = build_runtime(
        Settings(
            database_url=postgres_url,
            policy=str(tmp_path / "policy.yaml"),
            public_url="http://127.0.0.1:9",
            **fake_twilio.settings(),
        ),
        clock=lambda: clock[0],
    )
    assert rt.store.sending is not None
    people = [
        make_case(case_id="C-1", debtor_id="D-1", phone="+8613800138001"),
        make_case(case_id="C-2", debtor_id="D-2", phone="+8613800138002"),
    ]
    with rt.store.write() as conn:
        rt.store.upsert_cases(conn, people, T0)
    tick(rt, T0)
    with rt.store.read() as conn:
        rows = conn.execute(select(intents.c.case_id, intents.c.intent_id)).all()
    try:
        yield rt, clock, {row.case_id: row.intent_id for row in rows}
    finally:
        rt.close()


def recorded(rt: Runtime, case_id: str) -> dict[str, Any]:
    """What the store says of a case's delivery, with the ids that differ between cases left out."""
    with rt.store.read() as conn:
        intent = conn.execute(select(intents).where(intents.c.case_id == case_id)).mappings().one()
        tries = conn.execute(
            select(attempts.c.channel, attempts.c.at, attempts.c.outcome, attempts.c.error_code)
            .where(attempts.c.case_id == case_id)
            .order_by(attempts.c.id)
        ).all()
        trail = conn.execute(
            select(
                audit.c.at,
                audit.c.kind,
                audit.c.action,
                audit.c.channel,
                audit.c.step,
                audit.c.rule,
                audit.c.detail,
            )
            .where(audit.c.case_id == case_id, audit.c.kind == "intent")
            .order_by(audit.c.id)
        ).all()
        case = conn.execute(
            select(cases.c.status, cases.c.next_check_at, cases.c.updated_at).where(
                cases.c.case_id == case_id
            )
        ).one()
    differ = {"intent_id", "case_id", "debtor_id", "message_id", "address", "provider_id", "lease_owner"}
    same = {key: value for key, value in intent.items() if key not in differ}
    sent_ids = [row.detail.get("provider_id") if row.detail else None for row in trail]
    return {
        "intent": same,
        "provider_id_shape": (intent["provider_id"] or "")[:2],
        "audit_provider_ids_match": all(pid in (None, intent["provider_id"]) for pid in sent_ids),
        "attempts": [tuple(row) for row in tries],
        "audit": [(row.at, row.kind, row.action, row.channel, row.step, row.rule) for row in trail],
        "case": tuple(case),
    }


def gates_held(rt: Runtime) -> list[str]:
    """The cases whose gate some session still holds: a payment for them would have to wait."""
    held = []
    other = create_engine(rt.store.engine.url, poolclass=NullPool)  # another session than the pool's
    with other.connect() as conn:
        for case_id in ("C-1", "C-2"):
            key = {"k": gate_key(case_id)}
            if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar_one():
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
            else:
                held.append(case_id)
        conn.commit()
    other.dispose()
    return held


def statements_of(rt: Runtime) -> list[str]:
    """The statements the store's SQLAlchemy engine runs from now on."""
    seen: list[str] = []
    event.listen(rt.store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


@pytest.mark.parametrize(
    ("delivered_at", "outcome"),
    [
        (T0 + timedelta(minutes=5), Outcome.SENT),
        (T0 + timedelta(hours=12, minutes=30), Outcome.DEFERRED),  # 22:30 in Shanghai: quiet hours
    ],
)
def test_direct_and_ordinary_deliveries_record_the_same(planned, fake_twilio, delivered_at, outcome) -> None:
    rt, clock, intent_of = planned
    clock[0] = delivered_at
    statements = statements_of(rt)
    assert deliver(rt, intent_of["C-1"], "C-1").outcome == outcome  # the direct path
    direct_statements = len(statements)
    assert deliver(rt, intent_of["C-2"]).outcome == outcome  # the ordinary path
    ordinary_statements = len(statements) - direct_statements

    direct, ordinary = recorded(rt, "C-1"), recorded(rt, "C-2")
    assert direct == ordinary
    assert gates_held(rt) == []  # a payment may stop either case now
    texts = [r for r in fake_twilio.requests if r.method == "POST" and r.path.endswith("/Messages.json")]
    if outcome == Outcome.SENT:
        assert direct["intent"]["state"] == "sent" and direct["provider_id_shape"] == "SM"
        assert direct["audit_provider_ids_match"]
        assert [a[2] for a in direct["attempts"]] == ["sent"]
        assert direct["case"][1] == delivered_at  # the case is looked at again straight away
        assert len(texts) == 2
        # The usual send needs nothing of SQLAlchemy; the ordinary way a dozen statements.
        assert direct_statements == 0 and ordinary_statements >= 8
    else:
        assert direct["intent"]["state"] == "planned" and direct["intent"]["not_before"] > delivered_at
        assert texts == []


def test_a_payment_recorded_before_the_worker_takes_the_text_stops_it(planned, fake_twilio) -> None:
    from dunning.core.domain.model import Event, EventKind

    rt, clock, intent_of = planned
    clock[0] = T0 + timedelta(minutes=5)
    rt.store.record_event(Event(EventKind.PAYMENT, clock[0], case_id="C-1"), source="test", now=clock[0])
    assert deliver(rt, intent_of["C-1"], "C-1").outcome in (Outcome.CANCELLED, Outcome.SKIPPED)
    assert not [r for r in fake_twilio.requests if r.method == "POST"]
    assert recorded(rt, "C-1")["intent"]["state"] == "cancelled"


def test_a_message_naming_another_case_sends_nothing_through_either_path(planned, fake_twilio) -> None:
    rt, clock, intent_of = planned
    clock[0] = T0 + timedelta(minutes=5)
    assert deliver(rt, intent_of["C-1"], "C-2").outcome != Outcome.SENT
    assert not [r for r in fake_twilio.requests if r.method == "POST"]
    assert recorded(rt, "C-1")["intent"]["state"] in ("planned", "enqueued")
    assert gates_held(rt) == []
    assert deliver(rt, intent_of["C-1"], "C-1").outcome == Outcome.SENT
    assert gates_held(rt) == []
