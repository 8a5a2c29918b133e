"""The best time to contact: ``send_at: learned`` aims at the hour a debtor answers or pays most.

A debtor who always replies in their lunch break is texted at lunch; one who
never answered is texted at the hour their segment answers; with no history at
all, debtors are spread across the window. The deferral says which hour it
aims at (``learned_hour:14``), in ``policy explain`` and in the timeline.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dunning.core.domain.engine import decide
from dunning.core.domain.learning import learned_hour, response_hours
from dunning.core.domain.model import Event, EventKind, History, Learned
from dunning.core.domain.windows import SendWindow
from dunning.core.domain.zones import zone
from dunning.core.policy.explain import explain
from dunning.core.reporting.timeline import timeline
from dunning.core.runtime import build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import audit
from dunning.testing.factories import make_case

SHANGHAI = zone("Asia/Shanghai")
DUE = date(2026, 12, 1)
#: Local midnight on the day after the due date, in Shanghai: when the first reminder falls due.
FIRST_DUE = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)

POLICY = """\
name: learned
preset: china
windows:
  sms: {hours: "09:00-20:00", send_at: learned}
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps: [{channel: sms, template: overdue_notice, wait: 3d}]
"""


def answered(*moments: tuple[int, int, int], kind: EventKind = EventKind.REPLY) -> list[Event]:
    """Answers of the debtor in November 2026 at (day, hour, minute), Shanghai time."""
    return [
        Event(kind=kind, at=datetime(2026, 11, d, h, m, tzinfo=SHANGHAI), case_id="C-1", text="ok")
        for d, h, m in moments
    ]


def first_deferral(policy, history: History):
    decision = decide(make_case(due_date=DUE), history, policy, FIRST_DUE)
    (action,) = decision.actions
    assert action.kind == "defer"
    return action


def test_given_a_debtor_who_answers_at_lunch_then_the_reminder_is_aimed_at_that_hour(make_policy):
    # Given a debtor who replied and paid three times around 14:00, once at 10:00, once at 23:00
    events = answered((3, 14, 5), (9, 14, 40), (20, 10, 0), (21, 23, 30))
    events += answered((12, 14, 55), kind=EventKind.PAYMENT)
    history = History(response_hours=response_hours(events, SHANGHAI))
    # When their first reminder falls due at midnight
    action = first_deferral(make_policy(POLICY), history)
    # Then it waits for 14:xx that day, saying so
    assert action.rule == "learned_hour:14"
    local = action.until.astimezone(SHANGHAI)
    assert (local.date(), local.hour) == (date(2026, 12, 2), 14)


def test_given_a_debtor_with_no_answers_then_their_segment_s_hour_is_used(make_policy):
    # Given a debtor who never answered, in a segment whose debtors answer at 19:00
    learned = Learned(segment_hours={"all": {19: 40, 12: 15, 23: 90}})
    action = first_deferral(make_policy(POLICY), History(learned=learned))
    # Then the reminder is aimed at 19:xx (23:00 lies outside the window), naming the segment
    assert action.rule == "learned_hour:19:segment"
    assert action.until.astimezone(SHANGHAI).hour == 19


def test_given_no_answers_anywhere_then_the_reminder_is_spread_across_the_window(make_policy):
    action = first_deferral(make_policy(POLICY), History())
    assert action.rule == "send_window:spread"
    assert 9 <= action.until.astimezone(SHANGHAI).hour < 20


def test_given_a_step_window_that_learns_then_only_that_step_aims_at_the_hour(make_policy):
    # Given a plain sms window, and a step of its own that sends at the learned hour
    policy = make_policy(
        POLICY.replace(", send_at: learned", "").replace(
            "wait: 3d}", "wait: 3d, window: {hours: '12:00-18:00', send_at: learned}}"
        )
    )
    history = History(response_hours=response_hours(answered((3, 16, 0), (4, 16, 30)), SHANGHAI))
    # Then the step's reminder is aimed at 16:xx, inside the step's hours
    action = first_deferral(policy, history)
    assert action.rule == "learned_hour:16"
    assert action.until.astimezone(SHANGHAI).hour == 16


@settings(max_examples=100, deadline=None)
@given(
    own=st.dictionaries(st.integers(0, 23), st.integers(1, 9), max_size=6),
    segment=st.dictionaries(st.integers(0, 23), st.integers(1, 9), max_size=6),
    start=st.integers(0, 22),
    length=st.integers(1, 12),
)
def test_the_learned_hour_is_the_window_s_hour_with_most_answers_the_debtor_s_before_the_segment_s(
    own, segment, start, length
):
    # Given any window and any counts of answers per hour, the debtor's and their segment's
    window = SendWindow(start * 60, min(1440, (start + length) * 60), send_at="learned")
    inside = range(start, min(24, start + length))
    chosen = learned_hour(window, own, segment)
    # Then the hour lies in the window; it is the debtor's busiest hour there if they have any,
    # else their segment's; none when neither answered inside the window
    mine = {h: n for h, n in own.items() if h in inside}
    theirs = {h: n for h, n in segment.items() if h in inside}
    if mine:
        assert chosen is not None and chosen[1] == "debtor" and mine[chosen[0]] == max(mine.values())
    elif theirs:
        assert chosen is not None and chosen[1] == "segment" and theirs[chosen[0]] == max(theirs.values())
    else:
        assert chosen is None


def test_policy_explain_aims_at_the_hour_the_events_file_shows_before_the_dry_run(make_policy):
    # Given the debtor's replies before the dry run starts, mostly at 11:00
    events = answered((5, 11, 10), (6, 11, 20), (7, 18, 0))
    lines = explain(
        make_case(due_date=DUE), make_policy(POLICY), datetime(2026, 12, 1, tzinfo=UTC), 5, events
    )
    # Then the first reminder's deferral names the hour, and the reminder goes within it
    defer = next(line for line in lines if line.action.kind == "defer")
    send = next(line for line in lines if line.action.kind == "send")
    assert defer.action.rule == "learned_hour:11"
    assert send.local.hour == 11


def test_given_a_store_the_tick_learns_each_debtor_s_hour_from_all_their_loans_and_the_timeline_says_so(
    tmp_path, database_url
):
    # Given a debtor with two loans, who paid the first (long closed) at 15:xx several times
    (tmp_path / "p.yaml").write_text(POLICY)
    now = [datetime(2026, 12, 1, 15, 0, tzinfo=UTC)]  # 23:00 in Shanghai, before the reminder is due
    rt = build_runtime(
        Settings(database_url=database_url, policy=str(tmp_path / "p.yaml")),
        clock=lambda: now[0],
        dry_run=True,
    )
    try:
        old = make_case(case_id="C-OLD", due_date=date(2026, 9, 1), amount_due=Decimal("300"))
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, [old, make_case(due_date=DUE)], datetime(2026, 9, 1, tzinfo=UTC))
        for i, day in enumerate((2, 9, 16)):
            at = datetime(2026, 9, day, 15, 30, tzinfo=SHANGHAI)
            paid = Event(EventKind.PAYMENT, at, case_id="C-OLD", amount=Decimal("100"), event_id=f"p-{i}")
            rt.store.record_event(paid, source="api", now=at)
        # When the scheduler decides the new loan once it falls due
        now[0] = FIRST_DUE + timedelta(minutes=5)
        tick(rt)
        # Then its reminder waits for 15:xx, and the timeline says why
        with rt.store.read() as conn:
            rules = list(conn.scalars(select(audit.c.rule).where(audit.c.case_id == "C-1")))
        assert "learned_hour:15" in rules
        entries = timeline(rt.store, "C-1")
        defer = next(e for e in entries if e.action == "defer")
        assert defer.rule == "learned_hour:15" and defer.detail["until"].startswith("2026-12-02T07:")
    finally:
        rt.close()


def test_given_a_store_the_segments_hours_are_counted_in_each_debtor_s_local_time(tmp_path, database_url):
    # Given two debtors of one segment, in Shanghai and New York, who each replied at 09:xx local
    from dunning.core.store import open_store

    store = open_store(database_url)
    try:
        now = datetime(2026, 12, 1, tzinfo=UTC)
        cases = [
            make_case(case_id="C-CN", debtor_id="D-CN"),
            make_case(case_id="C-US", debtor_id="D-US", phone="+12125551234", timezone="America/New_York"),
        ]
        with store.write() as conn:
            store.upsert_cases(conn, cases, now)
            store.set_case_state(
                conn,
                [
                    {"case_id": c.case_id, "status": "open", "segment": "all", "ladder": "l"}
                    | {"next_check_at": now, "updated_at": now}
                    for c in cases
                ],
            )
        store.record_event(
            Event(EventKind.REPLY, datetime(2026, 11, 20, 1, 15, tzinfo=UTC), case_id="C-CN", event_id="r-1"),
            source="api",
            now=now,
        )
        store.record_event(
            Event(
                EventKind.REPLY, datetime(2026, 11, 20, 14, 45, tzinfo=UTC), case_id="C-US", event_id="r-2"
            ),
            source="api",
            now=now,
        )
        # When the segments' hours are learned
        with store.read() as conn:
            hours = store.segment_hours(conn, now - timedelta(days=90))
        # Then both count at 09:00, each in their own zone
        assert hours == {"all": {9: 2}}
    finally:
        store.dispose()


def test_a_claimed_payment_is_an_answer_but_an_agent_taking_the_case_is_not():
    # Given a debtor who said "I already paid" at 20:00 Shanghai, and an agent who took the case at 09:00
    shanghai = ZoneInfo("Asia/Shanghai")
    said = Event(EventKind.PAYMENT_CLAIM, datetime(2026, 12, 2, 12, 0, tzinfo=UTC), case_id="C-1")
    taken = Event(EventKind.CLAIM, datetime(2026, 12, 3, 1, 0, tzinfo=UTC), case_id="C-1", text="alice")
    # Then only the debtor's own words count as an hour they answer at
    assert response_hours([said, taken], shanghai) == {20: 1}
