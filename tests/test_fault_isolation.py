"""One case that cannot be decided or rendered never stops the portfolio (quarantine).

Given / When / Then in each test's name: poisoned cases are parked with their
error (masked), shown in the timeline and by ``dunning cases list --errored``,
retried with growing pauses, and released by a fix or by an operator; every
other case is decided and reminded as usual, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from dunning.core.cli import cli
from dunning.core.content.templating import TemplateLibrary
from dunning.core.domain.model import IntentState
from dunning.core.reporting.timeline import timeline
from dunning.core.runtime import build_runtime
from dunning.core.runtime.delivery import Outcome, deliver
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import cases, intents
from dunning.testing.factories import make_case

#: A segment condition that divides by zero for a case exactly five days overdue.
POLICY = """
name: t
preset: none
segments:
  - {name: risky, when: "amount_due / (days_overdue - 5) > 1000", ladder: l}
  - {name: all, ladder: l}
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: voice, template: overdue_call, wait: 2d}
"""
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _runtime(tmp_path, database_url, clock):
    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(database_url=database_url, policy=str(tmp_path / "p.yaml"))
    return build_runtime(settings, clock=lambda: clock[0], dry_run=True)


def _portfolio():
    good = [make_case(case_id=f"C-{i}", debtor_id=f"D-{i}", due_date=date(2026, 11, 30)) for i in range(8)]
    zero = make_case(case_id="ZERO", debtor_id="D-Z", name="李雷", due_date=date(2026, 11, 27))
    far = make_case(case_id="FAR", debtor_id="D-F", name="韩梅梅", due_date=date(1, 1, 1))
    return [*good, zero, far]


def _states(rt) -> dict[str, str]:
    with rt.store.read() as conn:
        return dict(conn.execute(select(intents.c.case_id, intents.c.state)).all())


def test_given_poisoned_cases_when_ticking_then_every_other_case_is_reminded_and_they_are_parked(
    tmp_path, database_url
):
    clock = [NOW]
    rt = _runtime(tmp_path, database_url, clock)
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, _portfolio(), NOW)
        report = tick(rt, NOW)
        # Every healthy case got its text; the two poisoned ones none, and the tick did not fail.
        assert sorted(_states(rt)) == [f"C-{i}" for i in range(8)]
        assert report.quarantined == 2
        assert "2 quarantined" in str(report)
        with rt.store.read() as conn:
            parked = {q.case_id: q for q in rt.store.quarantined(conn)}
        assert set(parked) == {"ZERO", "FAR"}
        assert parked["ZERO"].fault.startswith("decide: ConditionError")
        assert parked["FAR"].fault.startswith("decide: OverflowError")
        # The timeline says why, and never who: no name, phone or account in the error.
        entries = [e for e in timeline(rt.store, "ZERO") or [] if e.action == "quarantined"]
        assert len(entries) == 1 and entries[0].rule == "decide"
        shown = json.dumps([e.to_json() for e in entries], ensure_ascii=False)
        for secret in ("李雷", "+8613800138000", "6222020200112233"):
            assert secret not in shown
        assert entries[0].detail["failures"] == 1
    finally:
        rt.close()


def test_given_a_parked_case_when_it_keeps_failing_then_it_is_retried_with_growing_pauses(
    tmp_path, database_url
):
    clock = [NOW]
    rt = _runtime(tmp_path, database_url, clock)
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, _portfolio()[-1:], NOW)
        tick(rt, NOW)
        waits = []
        for _ in range(3):
            with rt.store.read() as conn:
                (parked,) = rt.store.quarantined(conn)
            assert parked.next_check_at is not None
            waits.append(parked.next_check_at - clock[0])
            # Nothing is tried before its time; at its time it is tried (and fails) again.
            assert tick(rt, parked.next_check_at - timedelta(seconds=1)).cases == 0
            clock[0] = parked.next_check_at
            assert tick(rt, clock[0]).quarantined == 1
        assert waits == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
        with rt.store.read() as conn:
            assert rt.store.quarantined(conn)[0].faults == 4
    finally:
        rt.close()


def test_given_a_parked_case_when_its_data_is_fixed_then_the_next_try_decides_it_and_releases_it(
    tmp_path, database_url
):
    clock = [NOW]
    rt = _runtime(tmp_path, database_url, clock)
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, _portfolio()[-1:], NOW)
        tick(rt, NOW)
        # The lender re-imports the case with its real due date: the import wakes it at once.
        with rt.store.write() as conn:
            rt.store.upsert_cases(
                conn, [make_case(case_id="FAR", debtor_id="D-F", due_date=date(2026, 11, 30))], NOW
            )
        tick(rt, NOW + timedelta(minutes=1))
        assert _states(rt) == {"FAR": IntentState.ENQUEUED} or _states(rt) == {"FAR": IntentState.PLANNED}
        with rt.store.read() as conn:
            assert rt.store.quarantined(conn) == []
        actions = [e.action for e in timeline(rt.store, "FAR") or []]
        assert actions.index("quarantined") < actions.index("released") < actions.index("send")
    finally:
        rt.close()


def test_given_parked_cases_when_the_operator_lists_and_releases_them_then_they_are_decided_again(
    tmp_path, database_url, monkeypatch
):
    clock = [NOW]
    rt = _runtime(tmp_path, database_url, clock)
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, _portfolio()[-2:], NOW)
        tick(rt, NOW)
    finally:
        rt.close()
    monkeypatch.setenv("DUNNING_DATABASE_URL", database_url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["cases", "list", "--errored", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert {r["case_id"] for r in rows} == {"ZERO", "FAR"}
    assert all(r["failures"] == 1 and r["error"] for r in rows)
    assert "李雷" not in listed.output and "韩梅梅" not in listed.output
    released = runner.invoke(cli, ["cases", "release", "ZERO", "NOPE"], catch_exceptions=False)
    assert released.exit_code == 1
    assert "ZERO released" in released.output
    rt = _runtime(tmp_path, database_url, [NOW])
    try:
        with rt.store.read() as conn:
            row = conn.execute(
                select(cases.c.next_check_at, cases.c.faults).where(cases.c.case_id == "ZERO")
            ).one()
            assert [q.case_id for q in rt.store.quarantined(conn)] == ["FAR"]
        assert row.faults == 0 and row.next_check_at <= NOW + timedelta(seconds=1)
        assert "released" in [e.action for e in timeline(rt.store, "ZERO") or []]
    finally:
        rt.close()
    everything = runner.invoke(cli, ["cases", "release", "--all"], catch_exceptions=False)
    assert everything.exit_code == 0 and "FAR released" in everything.output


def test_given_a_template_that_raises_when_delivering_then_the_reminder_ends_with_its_reason_once(
    tmp_path, database_url
):
    clock = [NOW]
    rt = _runtime(tmp_path, database_url, clock)
    broken = tmp_path / "templates" / "sms"
    broken.mkdir(parents=True)
    (broken / "overdue_notice.zh-CN.j2").write_text("{{ name }}: {{ amount / 0 }}")
    rt.templates = TemplateLibrary(directories=[tmp_path / "templates"])
    try:
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, [make_case(due_date=date(2026, 11, 30))], NOW)
        tick(rt, NOW)
        ((intent_id,),) = _intent_ids(rt)
        result = deliver(rt, intent_id)
        assert result.outcome == Outcome.FAILED and result.reason is not None
        assert result.reason.startswith("error:")
        # A second message for the same intent (a broker redelivery) changes nothing.
        assert deliver(rt, intent_id).outcome == Outcome.SKIPPED
        # The engine falls through to the next step at once instead of retrying the text forever.
        tick(rt, NOW + timedelta(minutes=1))
        with rt.store.read() as conn:
            channels = dict(conn.execute(select(intents.c.channel, intents.c.state)).all())
        assert channels == {"sms": IntentState.FAILED, "voice": IntentState.PLANNED}
        failed = [e for e in timeline(rt.store, "C-1") or [] if e.action == "failed"]
        assert failed and "王芳" not in json.dumps([e.to_json() for e in failed], ensure_ascii=False)
    finally:
        rt.close()


def _intent_ids(rt):
    with rt.store.read() as conn:
        return conn.execute(select(intents.c.intent_id)).all()


def _refuse_intents_of(rt, case_id: str) -> None:
    """A database trigger that refuses any reminder row of one case (a store that says no)."""
    with rt.store.write() as conn:
        if rt.store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON intents "
                f"WHEN NEW.case_id = '{case_id}' BEGIN SELECT RAISE(ABORT, 'refused by the store'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.case_id = '{case_id}' THEN RAISE EXCEPTION 'refused by the store'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON intents FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def test_given_a_decision_the_store_refuses_when_writing_the_page_then_only_that_case_is_parked(
    tmp_path, database_url
):
    clock = [NOW]
    rt = _runtime(tmp_path, database_url, clock)
    try:
        good = [
            make_case(case_id=f"C-{i}", debtor_id=f"D-{i}", due_date=date(2026, 11, 30)) for i in range(5)
        ]
        with rt.store.write() as conn:
            rt.store.upsert_cases(
                conn, [*good, make_case(case_id="BAD", debtor_id="D-B", due_date=date(2026, 11, 30))], NOW
            )
        _refuse_intents_of(rt, "BAD")
        report = tick(rt, NOW)
        assert sorted(_states(rt)) == [f"C-{i}" for i in range(5)]
        assert report.quarantined == 1
        with rt.store.read() as conn:
            (parked,) = rt.store.quarantined(conn)
        assert parked.case_id == "BAD" and parked.fault.startswith("write: ")
        assert "refused by the store" in parked.fault
    finally:
        rt.close()
