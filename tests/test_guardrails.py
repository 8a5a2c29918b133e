"""Guardrails: quiet hours in every possible zone, sliding caps, cool-downs, holidays."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

from dunning.core.domain.guardrails import (
    Cap,
    Cooldown,
    Guardrails,
    HolidayBlackout,
    QuietWindow,
    earliest_lawful,
)
from dunning.core.domain.model import Contact, ContactStatus, Event, EventKind
from dunning.core.domain.zones import candidate_zones, zone

UTC = UTC
NIGHT = QuietWindow(time(21, 0), time(8, 0), source="test")
NIGHTS = Guardrails(quiet=(NIGHT,))
SHANGHAI = (zone("Asia/Shanghai"),)


def lawful(start, channel="sms", rails=NIGHTS, zones=SHANGHAI, **kw):
    return earliest_lawful(start, channel, rails=rails, zones=zones, case_id="C-1", **kw)


def contact(at, channel="sms", case_id="C-1", status=ContactStatus.SENT, connected=False):
    return Contact(
        intent_id=f"{case_id}-{at.isoformat()}",
        case_id=case_id,
        channel=channel,
        ladder="l",
        step=0,
        cycle=0,
        seq=0,
        at=at,
        status=status,
        connected=connected,
    )


def test_a_lawful_moment_is_kept_as_it_is():
    at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert lawful(at).at == at and lawful(at).rule is None


def test_quiet_hours_defer_to_the_end_of_the_window_in_local_time():
    verdict = lawful(datetime(2026, 12, 2, 14, 0, tzinfo=UTC))  # 22:00 in Shanghai
    assert verdict.at == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 08:00 the next morning
    assert verdict.rule == "quiet_hours:test"


def test_several_possible_zones_must_all_be_awake():
    # A Russian mobile number may be anywhere from Kaliningrad-ish to Kamchatka.
    zones = candidate_zones(None, "+79161234567")
    assert len(zones) > 10
    verdict = lawful(datetime(2026, 12, 2, 0, 0, tzinfo=UTC), zones=zones)
    for z in zones:
        local = verdict.at.astimezone(z).time()
        assert not NIGHT.contains(local), (z, local)


def test_a_case_timezone_beats_the_phone_number():
    assert [str(z) for z in candidate_zones("Europe/London", "+8613800138000")] == ["Europe/London"]
    assert [str(z) for z in candidate_zones(None, "+8613800138000")] == ["Asia/Shanghai"]
    assert [str(z) for z in candidate_zones(None, None, "America/Chicago")] == ["America/Chicago"]


def test_daylight_saving_change_is_respected():
    ny = (zone("America/New_York"),)
    # The night before DST starts (8 March 2026); 08:00 EDT is 12:00 UTC.
    verdict = lawful(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), zones=ny)
    assert verdict.at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_a_full_cap_defers_until_the_oldest_contact_leaves_the_window():
    rails = Guardrails(caps=(Cap("any", 2, timedelta(days=1)),))
    t0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    history = [contact(t0), contact(t0 + timedelta(hours=3))]
    verdict = lawful(t0 + timedelta(hours=5), rails=rails, contacts=history)
    assert verdict.at == t0 + timedelta(days=1)
    assert verdict.rule == "cap:any:2/1d:debtor:policy"


def test_cancelled_and_failed_contacts_do_not_count_but_pending_ones_do():
    rails = Guardrails(caps=(Cap("any", 1, timedelta(days=1)),))
    t0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    quiet = [contact(t0, status=ContactStatus.CANCELLED), contact(t0, status=ContactStatus.FAILED)]
    assert lawful(t0 + timedelta(hours=1), rails=rails, contacts=quiet).rule is None
    pending = [contact(t0, status=ContactStatus.PENDING)]
    assert lawful(t0 + timedelta(hours=1), rails=rails, contacts=pending).rule is not None


def test_case_scoped_caps_ignore_other_loans_debtor_scoped_caps_do_not():
    t0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    other = [contact(t0, channel="voice", case_id="C-2")]
    per_case = Guardrails(caps=(Cap("voice", 1, timedelta(days=7), scope="case"),))
    per_person = Guardrails(caps=(Cap("voice", 1, timedelta(days=7), scope="debtor"),))
    assert lawful(t0 + timedelta(hours=1), "voice", rails=per_case, contacts=other).rule is None
    assert lawful(t0 + timedelta(hours=1), "voice", rails=per_person, contacts=other).rule is not None


def test_connected_call_caps_count_only_answered_calls():
    rails = Guardrails(caps=(Cap("voice", 1, timedelta(days=1), count="connected"),))
    t0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    unanswered = [contact(t0, "voice")]
    answered = [contact(t0, "voice", connected=True)]
    assert lawful(t0 + timedelta(hours=1), "voice", rails=rails, contacts=unanswered).rule is None
    assert lawful(t0 + timedelta(hours=1), "voice", rails=rails, contacts=answered).rule is not None


def test_a_zero_cap_or_all_day_quiet_hours_are_never_lawful():
    zero = Guardrails(caps=(Cap("voice", 0, timedelta(days=1)),))
    assert lawful(datetime(2026, 12, 2, 2, tzinfo=UTC), "voice", rails=zero).never
    all_day = Guardrails(quiet=(QuietWindow(time(0, 0), time(12, 0)), QuietWindow(time(12, 0), time(0, 0))))
    assert lawful(datetime(2026, 12, 2, 2, tzinfo=UTC), rails=all_day).never


def test_quiet_hours_may_apply_to_one_channel_only():
    rails = Guardrails(quiet=(QuietWindow(time(12, 0), time(14, 0), frozenset({"voice"})),))
    noon = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)  # 12:30 Shanghai
    assert lawful(noon, "sms", rails=rails).rule is None
    assert lawful(noon, "voice", rails=rails).at == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def test_public_holidays_are_blacked_out_by_local_date():
    rails = Guardrails(holidays=HolidayBlackout(("CN",)))
    new_year = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 January in Shanghai
    verdict = lawful(new_year, rails=rails)
    assert verdict.rule == "holiday:CN"
    # New Year's Day and the substituted day off on 2 January are both skipped.
    assert verdict.at.astimezone(zone("Asia/Shanghai")).date().isoformat() == "2026-01-03"


def test_holidays_of_the_phone_s_country():
    rails = Guardrails(holidays=HolidayBlackout(("phone",)))
    july4 = datetime(2026, 7, 4, 15, 0, tzinfo=UTC)
    assert (
        lawful(july4, zones=(zone("America/New_York"),), rails=rails, phone_country="US").rule == "holiday:US"
    )


def test_cooldown_of_seven_calendar_days_after_a_conversation():
    rails = Guardrails(cooldowns=(Cooldown("voice", timedelta(days=7)),))
    talk = Event(kind=EventKind.CONVERSATION, at=datetime(2026, 12, 2, 15, 0, tzinfo=UTC), case_id="C-1")
    verdict = lawful(datetime(2026, 12, 3, 2, tzinfo=UTC), "voice", rails=rails, events=[talk])
    # 2 December (Shanghai) is day 1, so calls may resume on 9 December.
    assert verdict.at == datetime(2026, 12, 9, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    assert lawful(datetime(2026, 12, 3, 2, tzinfo=UTC), "sms", rails=rails, events=[talk]).rule is None


def test_the_moment_excluded_intent_does_not_count_against_itself():
    rails = Guardrails(caps=(Cap("sms", 1, timedelta(days=1)),))
    t0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    mine = contact(t0, status=ContactStatus.PENDING)
    assert lawful(t0, rails=rails, contacts=[mine], exclude_intent=mine.intent_id).rule is None
