"""Holiday calendars a policy amends: days added and removed, and make-up working days (调休).

A lender in China follows the State Council's calendar, and its own: a
company day off is added, a holiday it works through is removed, and the
weekend days worked in exchange for a long holiday (调休, e.g. Saturday 10
October 2026 for National Day) count as working days for a weekday window.
The older ``holidays: [CN]`` keeps working.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dunning.core.domain.engine import decide
from dunning.core.domain.model import History
from dunning.core.policy.compile import check_policy
from dunning.testing.factories import make_case

POLICY = """\
name: calendar
preset: china
HOLIDAYS
windows:
  sms: {hours: "09:00-20:00", days: [mon, tue, wed, thu, fri]}
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 0d
    steps: [{channel: sms, template: overdue_notice, wait: 3d}]
"""


def policy_with(make_policy, holidays: str):
    return make_policy(POLICY.replace("HOLIDAYS", holidays))


def shanghai(day: date, hour: int) -> datetime:
    """``hour`` o'clock on ``day`` in Shanghai (UTC+8), as UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


def first_move(policy, day: date, hour: int = 10):
    """What the engine does for a loan that falls due on ``day``, decided at ``hour`` local that day."""
    case = make_case(due_date=day, debtor_id="D-holiday")
    return decide(case, History(), policy, shanghai(day, hour)).actions[0]


def test_given_a_day_the_policy_adds_when_a_reminder_falls_due_on_it_then_it_waits_for_the_next_day(
    make_policy,
):
    # Given a company day off added on top of China's calendar (Thursday 3 December 2026)
    policy = policy_with(make_policy, "holidays: {countries: [CN], add: [2026-12-03]}")
    # When a reminder falls due that morning
    action = first_move(policy, date(2026, 12, 3))
    # Then it is deferred past that day, naming the policy's holiday
    assert action.kind == "defer" and action.rule == "holiday:policy"
    assert action.until is not None and action.until >= shanghai(date(2026, 12, 4), 9)
    # And a day the policy does not add is an ordinary contact day
    assert first_move(policy, date(2026, 12, 2)).kind in ("send", "defer")
    assert first_move(policy, date(2026, 12, 2)).rule != "holiday:policy"


def test_given_a_holiday_the_policy_removes_when_a_reminder_falls_due_on_it_then_it_goes(make_policy):
    # Given China's calendar, with National Day (Thursday 1 October 2026) removed by the policy
    kept = policy_with(make_policy, "holidays: {countries: [CN]}")
    removed = policy_with(make_policy, "holidays: {countries: [CN], remove: [2026-10-01]}")
    # When a reminder falls due that morning (at 10:00, after the debtor's moment of the window)
    as_calendar = first_move(kept, date(2026, 10, 1), hour=19)
    as_amended = first_move(removed, date(2026, 10, 1), hour=19)
    # Then the plain calendar holds it back for the holiday, and the amended one sends it
    assert as_calendar.kind == "defer" and as_calendar.rule == "holiday:CN"
    assert as_amended.kind == "send"
    # And the holidays around it are still holidays
    assert first_move(removed, date(2026, 10, 2), hour=19).rule == "holiday:CN"


def test_given_a_make_up_working_day_on_a_saturday_then_a_weekday_window_is_open_on_it(make_policy):
    # Given a weekday window and Saturday 10 October 2026, worked for National Day
    policy = policy_with(make_policy, "holidays: {countries: [CN], workdays: [2026-10-10]}")
    # When a reminder falls due that Saturday evening, and on the next (ordinary) Saturday
    worked = first_move(policy, date(2026, 10, 10), hour=19)
    weekend = first_move(policy, date(2026, 10, 17), hour=19)
    # Then it goes on the worked Saturday, and waits for Monday's window on the ordinary one
    assert worked.kind == "send"
    assert weekend.kind == "defer" and weekend.rule is not None and weekend.rule.startswith("send_window:")
    assert weekend.until is not None
    assert shanghai(date(2026, 10, 19), 9) <= weekend.until < shanghai(date(2026, 10, 19), 20)


def test_given_the_older_list_of_countries_then_it_still_blacks_out_their_holidays(make_policy):
    policy = policy_with(make_policy, "holidays: [CN]")
    action = first_move(policy, date(2026, 10, 1), hour=19)
    assert action.kind == "defer" and action.rule == "holiday:CN"


def problems(registry, holidays: str) -> list[str]:
    text = POLICY.replace("HOLIDAYS", holidays)
    found = check_policy(text, file="h.yaml", channels=registry.channel_specs(), presets=registry.presets)
    return [str(p) for p in found]


def test_given_contradictory_or_unknown_calendars_then_policy_check_names_the_line(registry):
    # A day both added and removed, a country without a calendar (in either form), a weekday "make-up"
    assert problems(registry, "holidays: {add: [2026-12-03], remove: [2026-12-03]}") == [
        "h.yaml:3: holidays: 2026-12-03 is both added and removed"
    ]
    assert "h.yaml:3: holidays.countries[0]: no holiday calendar for country 'XX'" in problems(
        registry, "holidays: {countries: [XX]}"
    )
    assert "h.yaml:3: holidays: no holiday calendar for country 'XX'" in problems(registry, "holidays: [XX]")
    assert (
        "h.yaml:3: warning: holidays.workdays[0]: 2026-10-09 is a fri: a make-up working day is a weekend day"
        in problems(registry, "holidays: {workdays: [2026-10-09]}")
    )
    assert any(
        "holidays.add[0]: 20261001 is not a date (YYYY-MM-DD)" in p
        for p in problems(registry, "holidays: {add: [20261001]}")
    )
