"""Every policy has a daily contact ceiling, and ``policy check`` names what would contact a debtor too fast."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dunning.core.domain.engine import decide
from dunning.core.domain.model import Contact, History
from dunning.core.policy.compile import check_policy
from dunning.core.policy.explain import explain
from dunning.testing.factories import make_case

ROOT = Path(__file__).resolve().parent.parent

#: The china preset caps only calls; a one-second wait and a restart text all day long.
SPAM = """\
name: spam
preset: china
segments:
  - {name: all, ladder: l}
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 1s}
    then: restart
"""

START = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
CEILING_RULE = "cap:any:3/1d:debtor:ceiling"


def problems(registry, text: str) -> list[str]:
    found = check_policy(text, file="p.yaml", channels=registry.channel_specs(), presets=registry.presets)
    return [str(p) for p in found]


def most_in_a_rolling_day(moments: list[datetime]) -> int:
    return max((sum(1 for m in moments if t - timedelta(days=1) < m <= t) for t in moments), default=0)


def sends(lines) -> list[datetime]:
    return [line.action.at for line in lines if line.action.kind == "send"]


def test_given_a_one_second_restart_under_china_when_explained_then_the_ceiling_allows_three_texts_a_day(
    make_policy,
):
    # Given a ladder that would text every minute of the lawful day
    policy = make_policy(SPAM)
    # When three days are dry-run
    lines = explain(make_case(), policy, START, 3)
    # Then no rolling day holds more than three texts, and the deferrals name the ceiling
    assert most_in_a_rolling_day(sends(lines)) == 3
    assert {line.action.rule for line in lines if line.action.kind == "defer"} >= {CEILING_RULE}


def test_given_a_policy_with_no_preset_and_no_caps_when_compiled_then_it_still_has_the_ceiling(make_policy):
    policy = make_policy(SPAM.replace("preset: china", "preset: none"))
    assert [cap.rule for cap in policy.rails.caps] == [CEILING_RULE]


def test_given_the_ceiling_raised_when_explained_then_that_many_texts_a_day_and_no_more(
    make_policy, registry
):
    # Given a strategist who raises the ceiling to 6 on purpose
    text = SPAM + "limits: {daily_contacts: 6}\n"
    lines = explain(make_case(), make_policy(text), START, 2)
    # Then six texts a rolling day go out, never a seventh, and check has nothing to say of it
    assert most_in_a_rolling_day(sends(lines)) == 6
    assert {line.action.rule for line in lines if line.action.kind == "defer"} >= {
        "cap:any:6/1d:debtor:ceiling"
    }
    assert not any("daily_contacts" in m for m in problems(registry, text))


def test_given_the_ceiling_raised_past_ten_when_checked_then_it_is_a_warning_at_its_line(registry):
    found = problems(registry, SPAM + "limits: {daily_contacts: 12}\n")
    assert any(m.startswith("p.yaml:10: warning: limits.daily_contacts: 12 contacts a day") for m in found), (
        found
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "the daily contact ceiling cannot be removed: give 1 to 24"),
        ("-3", "the daily contact ceiling cannot be removed"),
        ("25", "at most 24 contacts a day per debtor"),
    ],
)
def test_given_the_ceiling_removed_or_beyond_its_bound_when_checked_then_it_is_an_error_at_its_line(
    registry, value, message
):
    found = problems(registry, SPAM + f"limits:\n  daily_contacts: {value}\n")
    assert any(m.startswith(f"p.yaml:11: limits.daily_contacts: {message}") for m in found), found


def test_given_three_texts_today_about_another_loan_when_deciding_then_this_loan_waits_for_the_ceiling(
    make_policy,
):
    # Given a debtor texted three times in the last hours about another loan, under no preset at all
    policy = make_policy(SPAM.replace("preset: china", "preset: none"))
    others = tuple(
        Contact(
            intent_id=f"other-{i}",
            case_id="C-2",
            channel="sms",
            ladder="l",
            step=0,
            cycle=0,
            seq=i,
            at=START - timedelta(hours=3 - i),
        )
        for i in range(3)
    )
    # When the engine decides for this loan
    decision = decide(make_case(), History(contacts=others), policy, START)
    # Then it defers until the oldest of those texts leaves the rolling day, naming the ceiling
    (action,) = decision.actions
    assert (action.kind, action.rule) == ("defer", CEILING_RULE)
    assert action.until == START - timedelta(hours=3) + timedelta(days=1)


def test_given_waits_under_an_hour_when_checked_then_each_step_line_is_warned(registry):
    text = """\
    name: t
    preset: conservative
    segments:
      - {name: all, ladder: quick}
      - {name: end, ladder: ends}
    ladders:
      quick:
        steps:
          - {channel: sms, template: overdue_notice, wait: 30m}
          - {channel: push, template: overdue_notice, wait: 2h}
          - {channel: sms, template: overdue_firm, wait: 1s}
        then: restart
      ends:
        steps:
          - {channel: sms, template: overdue_notice, wait: 1d}
          - {channel: push, template: overdue_notice, wait: 0}
        then: stop
    """
    found = [m for m in problems(registry, textwrap.dedent(text)) if "waits only" in m]
    # Then the 30-minute and one-second waits are named at their lines; the last step of a
    # ladder that stops has no next contact to hurry, so its wait of 0 is not
    assert [m.split(" (under")[0] for m in found] == [
        "p.yaml:9: warning: ladders.quick.steps[0].wait: waits only 30m before the next contact",
        "p.yaml:11: warning: ladders.quick.steps[2].wait: waits only 1s before the next contact",
    ]


def test_given_channels_only_the_ceiling_limits_when_checked_then_each_is_named_once(registry):
    # Given the china preset, which caps calls only, and sms, push and voice steps
    text = SPAM.replace(
        "      - {channel: sms, template: overdue_notice, wait: 1s}\n",
        "      - {channel: sms, template: overdue_notice, wait: 1d}\n"
        "      - {channel: push, template: overdue_notice, wait: 1d}\n"
        "      - {channel: voice, template: overdue_call, wait: 1d}\n"
        "      - {channel: sms, template: overdue_firm, wait: 1d}\n",
    )
    found = [m for m in problems(registry, text) if "no per-debtor cap" in m]
    # Then sms and push are named once each, at their first step; voice is capped by the preset
    assert [m.split(" (neither")[0] for m in found] == [
        "p.yaml:8: warning: ladders.l.steps[0].channel: no per-debtor cap of a day or less limits 'sms'",
        "p.yaml:9: warning: ladders.l.steps[1].channel: no per-debtor cap of a day or less limits 'push'",
    ]
    # And a per-case cap or a two-day window does not count; a per-debtor daily cap on any channel does
    case_cap = text.replace(
        "preset: china\n", "preset: china\ncaps: [{channel: sms, max: 2, per: 1d, scope: case}]\n"
    )
    assert sum("limits 'sms'" in m for m in problems(registry, case_cap)) == 1
    slow_cap = text.replace("preset: china\n", "preset: china\ncaps: [{channel: any, max: 2, per: 2d}]\n")
    assert sum("no per-debtor cap" in m for m in problems(registry, slow_cap)) == 2
    daily = text.replace("preset: china\n", "preset: china\ncaps: [{channel: any, max: 2, per: 1d}]\n")
    assert not any("no per-debtor cap" in m for m in problems(registry, daily))


def dunning(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("dunning")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_given_the_spam_policy_when_checked_and_explained_on_the_command_line_then_the_ceiling_shows(
    tmp_path,
):
    path = tmp_path / "spam.yaml"
    path.write_text(SPAM, encoding="utf-8")
    # When a strategist checks it: it passes, with both warnings at their lines
    checked = dunning("policy", "check", str(path))
    assert checked.returncode == 0, checked.stderr
    assert f"{path}:8: warning: ladders.l.steps[0].wait: waits only 1s" in checked.stdout
    assert f"{path}:8: warning: ladders.l.steps[0].channel: no per-debtor cap" in checked.stdout
    # When it is explained over two days
    result = dunning(
        "policy",
        "explain",
        str(path),
        "--case",
        str(ROOT / "examples" / "case-cn.json"),
        "--start",
        START.isoformat(),
        "--days",
        "2",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # Then at most three texts go out in any rolling day, and the deferral says why
    moments = [datetime.fromisoformat(x["at"]) for x in lines if x["action"] == "send"]
    assert most_in_a_rolling_day(moments) == 3
    assert any(x["action"] == "defer" and x["rule"] == CEILING_RULE for x in lines)
