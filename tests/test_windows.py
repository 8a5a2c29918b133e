"""Send windows: reminders go out only when the policy's window is open, spread across it.

A strategist writes ``windows: {sms: {hours: "09:00-20:00", days: [mon, ...]}}``
and narrows it per step. What they rely on: no reminder outside its window or
the law's quiet hours, in any zone the debtor may be in; debtors due at the
same moment are not all texted at 09:00 sharp; a window that can never open
is refused by ``policy check`` at its line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.core.domain.engine import decide
from dunning.core.domain.model import Contact, ContactStatus, History
from dunning.core.domain.recheck import recheck
from dunning.core.domain.windows import narrowed
from dunning.core.domain.zones import candidate_zones
from dunning.core.policy.compile import check_policy
from dunning.core.policy.explain import explain
from dunning.testing.factories import make_case
from dunning.testing.strategies import DAYS, START, WEEKDAYS, compiled, phones, windowed_policies, zones

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Local hours (0-23) at which a debtor answered: what a learned window aims at.
answers = st.dictionaries(st.integers(0, 23), st.integers(1, 5), max_size=4)


def run(policy, case, hours=None):
    """Every action the engine takes for ``case`` over the test period, sends assumed delivered."""
    history = History(response_hours=hours or {})
    now = START
    actions = []
    for _ in range(2000):
        if now > START + timedelta(days=DAYS):
            break
        decision = decide(case, history, policy, now)
        for action in decision.actions:
            actions.append(action)
            if action.kind == "send":
                history = history.with_contact(_delivered(case, action))
        if decision.next_check is None:
            break
        assert decision.next_check > now, "the engine must always move time forward"
        now = decision.next_check
    return actions


def _delivered(case, action):
    return Contact(
        intent_id=action.intent_id,
        case_id=case.case_id,
        channel=action.channel,
        ladder=action.ladder,
        step=action.step,
        cycle=action.cycle,
        seq=action.seq,
        at=action.at,
        status=ContactStatus.SENT,
    )


@SETTINGS
@given(
    spec=windowed_policies(),
    phone=phones,
    tz=zones,
    debtor=st.sampled_from(["D-1", "D-2", "D-77", "D-1234"]),
    hours=answers,
)
def test_no_reminder_goes_outside_its_window_or_the_quiet_hours_in_any_zone(spec, phone, tz, debtor, hours):
    # Given a random policy with windows on some channels and some steps, and any debtor
    policy, _ = compiled(spec)
    if policy is None:
        return  # a window that never opens is refused by policy check (tested below)
    case = make_case(debtor_id=debtor, phone=phone, timezone=tz, due_date=START.date())
    # When the engine runs the ladder for three weeks
    actions = run(policy, case, hours)
    # Then every send falls inside its window and outside the quiet hours, in every candidate zone
    possible = candidate_zones(case.timezone, case.phone, policy.default_timezone)
    workdays = policy.rails.workdays
    for send in (a for a in actions if a.kind == "send"):
        step = policy.step(send.ladder, send.step)
        window = narrowed(policy.windows.get(send.channel), step.window if step else None)
        for zone in possible:
            local = send.at.astimezone(zone)
            if window is not None:
                assert window.contains(local, workdays), (send, zone, window)
            for quiet in policy.rails.quiet:
                assert not (quiet.applies(send.channel) and quiet.contains(local.time())), (send, zone)
    # And every deferral names what held it back
    assert all(a.rule for a in actions if a.kind == "defer")


WINDOWED = """\
name: windowed
preset: none
windows:
  sms: {hours: "HOURS", days: [mon, tue, wed, thu, fri, sat, sun]}
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps: [{channel: sms, template: overdue_notice, wait: 3d}]
"""


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 20),
    length=st.integers(2, 12),
    tz=st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London"]),
)
def test_debtors_due_at_once_are_spread_across_the_window_not_bunched_at_its_opening(
    make_policy, start, length, tz
):
    # Given a window of some hours, and forty debtors all due at the same midnight
    end = min(24, start + length)
    policy = make_policy(WINDOWED.replace("HOURS", f"{start:02d}:00-{end:02d}:00"))
    debtors = [f"D-{i}" for i in range(40)]
    # When each one's first reminder is planned
    firsts = []
    for debtor in debtors:
        case = make_case(debtor_id=debtor, case_id=f"C-{debtor}", timezone=tz, due_date=START.date())
        firsts.append(next(a for a in run(policy, case) if a.kind == "send").at.astimezone(case_zone(tz)))
    # Then they go at many different minutes across the window, few at its opening
    minutes = sorted(t.hour * 60 + t.minute for t in firsts)
    opening, closing = start * 60, end * 60
    assert all(opening <= m < closing for m in minutes)
    assert sum(1 for m in minutes if m == opening) <= 2
    assert len(set(minutes)) >= 30
    assert minutes[-1] - minutes[0] >= (closing - opening) // 2
    # And all on the same (local) day: spreading never costs a day
    assert len({t.date() for t in firsts}) == 1


def case_zone(name):
    return candidate_zones(name, None)[0]


def test_a_debtor_s_moment_of_the_window_is_the_same_every_time_it_is_decided(make_policy):
    # Given a debtor due at midnight, their reminder deferred to their own moment of the window
    policy = make_policy(WINDOWED.replace("HOURS", "09:00-20:00"))
    case = make_case(debtor_id="D-9", due_date=START.date())
    first = decide(case, History(), policy, START + timedelta(days=1))
    (defer,) = first.actions
    assert defer.kind == "defer" and defer.rule == "send_window:spread"
    # When it is decided again at an earlier moment of the same morning, and then at that moment
    again = decide(case, History(), policy, START + timedelta(days=1, hours=2))
    at_the_moment = decide(case, History(), policy, defer.until)
    # Then it is the same moment, and at that moment the reminder goes
    assert again.actions[0].until == defer.until
    assert [a.kind for a in at_the_moment.actions] == ["send"]


def test_a_reminder_due_after_the_debtor_s_moment_goes_at_once(make_policy):
    # Given a debtor whose moment of the 09:00-20:00 window has passed today
    policy = make_policy(WINDOWED.replace("HOURS", "09:00-20:00"))
    case = make_case(debtor_id="D-9", due_date=START.date())
    moment = decide(case, History(), policy, START + timedelta(days=1)).actions[0].until
    later = moment + timedelta(minutes=7)
    # When the reminder falls due after it, still inside the window
    decision = decide(case, History(), policy, later)
    # Then it goes now, not tomorrow
    assert [(a.kind, a.at) for a in decision.actions] == [("send", later)]


STEP_WINDOW = """\
name: narrowed
preset: china
windows:
  sms: {hours: "09:00-20:00", days: [mon, tue, wed, thu, fri]}
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 1d, window: {hours: "STEP"}}
"""


def test_a_step_window_narrows_its_channel_s_and_never_widens_it(make_policy):
    # Given an sms window on weekdays 09:00-20:00 and a step that asks for 18:00-23:00
    policy = make_policy(STEP_WINDOW.replace("STEP", "18:00-23:00"))
    case = make_case(due_date=datetime(2026, 12, 4).date())  # due Friday: the step falls due Saturday
    # When the ladder runs
    sends = [line for line in explain(case, policy, START, 14) if line.action.kind == "send"]
    # Then each reminder goes between 18:00 and 20:00 on a weekday, never on the weekend or later
    assert sends
    for line in sends:
        assert 18 <= line.local.hour < 20 and line.local.weekday() < 5, line


def check(registry, text):
    problems = check_policy(text, file="w.yaml", channels=registry.channel_specs(), presets=registry.presets)
    return [str(p) for p in problems if p.severity == "error"]


def test_a_window_inside_the_quiet_hours_is_refused_at_its_line(registry):
    # Given a conservative policy (quiet 20:00-09:00) with an sms window of 21:00-23:00
    text = WINDOWED.replace("preset: none", "preset: conservative").replace("HOURS", "21:00-23:00")
    # When it is checked
    errors = check(registry, text)
    # Then the window's line is named: it would never open
    assert errors == [
        "w.yaml:4: windows.sms.hours: lies inside the quiet hours for sms: it never opens (a window only narrows)"
    ]


def test_a_step_window_sharing_no_hour_with_its_channel_s_is_refused_at_its_line(registry):
    errors = check(registry, STEP_WINDOW.replace("STEP", "06:00-08:00"))
    assert errors == [
        "w.yaml:10: ladders.l.steps[0].window.hours: shares no hour with the sms window it narrows"
    ]


def test_badly_written_windows_name_their_line_and_field(registry):
    text = WINDOWED.replace("HOURS", "20:00-09:00").replace("sat, sun", "sat, sunday, funday")
    errors = check(registry, text)
    assert any("w.yaml:4: windows.sms.hours:" in e and "ends before it starts" in e for e in errors), errors
    assert any("windows.sms.days[7]:" in e and "'funday' is not a day of the week" in e for e in errors), (
        errors
    )
    unknown = check(registry, WINDOWED.replace("  sms:", "  fax:").replace("HOURS", "09:00-20:00"))
    assert any("w.yaml:4: windows.fax: unknown channel 'fax'" in e for e in unknown), unknown


def test_a_send_re_checked_outside_its_window_is_deferred_to_its_next_opening(make_policy):
    # Given a reminder planned on a Friday evening, delivered after the weekday window has closed
    policy = make_policy(STEP_WINDOW.replace("STEP", "09:00-20:00"))
    case = make_case()
    friday_late = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)  # 20:30 in Shanghai
    # When the delivery worker re-checks it
    verdict = recheck(
        case, History(), policy, channel="sms", intent_id="i-1", now=friday_late, ladder="l", step=0
    )
    # Then it waits for Monday's opening, naming the window
    assert verdict is not None and verdict.kind == "defer"
    assert verdict.rule == "send_window:step"
    assert verdict.until == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
    assert WEEKDAYS[verdict.until.astimezone(case_zone("Asia/Shanghai")).weekday()] == "mon"
