"""A strategist's policy mistakes are reported with file, line and field."""

from __future__ import annotations

import textwrap
from datetime import time, timedelta

import pytest

from dunning.core.content.templating import TemplateLibrary
from dunning.core.errors import PolicyError
from dunning.core.policy.compile import check_policy, compile_policy, load_policy

GOOD = """\
name: t
preset: china
quiet_hours: {start: 21:00, end: 08:30}
caps:
  - {channel: any, max: 2, per: 1d}
segments:
  - {name: big, when: "amount_due >= 5000 and days_overdue >= 3", ladder: firm}
  - {name: default, ladder: gentle}
ladders:
  gentle:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: push, template: overdue_notice, wait: 1d}
    then: repeat_last
  firm:
    steps:
      - {channel: voice, template: overdue_call, wait: 1d}
"""


def problems(registry, text, templates=None):
    return check_policy(
        textwrap.dedent(text),
        file="p.yaml",
        channels=registry.channel_specs(),
        presets=registry.presets,
        templates=templates,
    )


def messages(found):
    return [str(p) for p in found]


def test_a_good_policy_has_no_problems(registry):
    assert problems(registry, GOOD, TemplateLibrary().exists) == []


def test_unquoted_times_are_read_as_times_not_yaml_base_60(registry, make_policy):
    policy = make_policy(GOOD)
    window = next(w for w in policy.rails.quiet if w.source == "policy")
    assert (window.start, window.end) == (time(21, 0), time(8, 30))


def test_presets_and_policy_limits_both_apply(make_policy):
    policy = make_policy(GOOD)
    assert {w.source for w in policy.rails.quiet} == {"china", "policy"}
    assert any(c.source == "china" and c.channel == "voice" for c in policy.rails.caps)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  - {channel: sms, template: overdue_notice, wait: 2d}",
            "  - {channel: fax, template: overdue_notice, wait: 2d}",
            "p.yaml:13: ladders.gentle.steps[0].channel: unknown channel 'fax'",
        ),
        ("ladder: gentle}", "ladder: gentel}", "p.yaml:8: segments[1].ladder: unknown ladder 'gentel'"),
        ("wait: 2d}", "wait: 2 days}", "p.yaml:13: ladders.gentle.steps[0].wait: '2 days' is not a duration"),
        ("wait: 2d}", "wait: 2}", "p.yaml:13: ladders.gentle.steps[0].wait: 2 has no unit"),
        (
            "  - {channel: any, max: 2, per: 1d}",
            "  - {channel: any, max: 0, per: 1d}",
            "p.yaml:5: caps[0].max: a cap of 0 on every channel forbids every step",
        ),
        ("preset: china", "preset: mars", "p.yaml:2: preset: unknown preset 'mars'"),
        ("then: repeat_last", "then: forever", "p.yaml:15: ladders.gentle.then: Input should be"),
        ("start_after: 1d", "start_afterr: 1d", "p.yaml:11: ladders.gentle.start_afterr: unknown key"),
        ("amount_due >= 5000", "amount >= 5000", "p.yaml:7: segments[0].when: unknown name amount"),
        ("amount_due >= 5000", "amount_due >=", "p.yaml:7: segments[0].when: not a valid condition"),
        (
            "{start: 21:00, end: 08:30}",
            "{start: 21:00, end: 21:00}",
            "p.yaml:3: quiet_hours[0]: start and end are equal",
        ),
        (
            "{start: 21:00, end: 08:30}",
            "{start: 25:00, end: 08:30}",
            "p.yaml:3: quiet_hours[0].start: '25:00' is not a time",
        ),
    ],
)
def test_each_mistake_names_its_line_and_field(registry, old, new, expected):
    assert old in GOOD
    found = messages(problems(registry, GOOD.replace(old, new, 1)))
    assert any(m.startswith(expected) for m in found), found


def test_quiet_hours_covering_the_whole_day_are_an_error(registry):
    text = GOOD.replace(
        "quiet_hours: {start: 21:00, end: 08:30}",
        "quiet_hours: [{start: 08:00, end: 23:00}, {start: 22:00, end: 09:00}]",
    )
    assert any("quiet hours cover the whole day" in m for m in messages(problems(registry, text)))


def test_a_duplicate_key_is_an_error_not_a_silent_overwrite(registry):
    text = GOOD.replace("name: t\n", "name: t\nname: u\n")
    assert "p.yaml:2: name: duplicate key" in messages(problems(registry, text))[0]


def test_not_yaml_at_all_names_the_line(registry):
    found = problems(registry, "name: t\nsegments: [\n  {name: x\n")
    assert found[0].line >= 2 and "not valid YAML" in found[0].message


def test_unknown_template_is_an_error_when_templates_are_known(registry):
    text = GOOD.replace("template: overdue_call", "template: overdue_shout")
    found = messages(problems(registry, text, TemplateLibrary().exists))
    assert (
        "p.yaml:18: ladders.firm.steps[0].template: no template 'overdue_shout' for channel 'voice'" in found
    )


def test_warnings_for_segments_that_can_never_match_and_unused_ladders(registry):
    text = GOOD.replace("  - {name: big,", "  - {name: all, ladder: gentle}\n  - {name: big,").replace(
        "  - {name: default, ladder: gentle}\n", ""
    )
    found = [p for p in problems(registry, text) if p.severity == "warning"]
    assert any("never chosen" in p.message for p in found)


def test_a_step_capped_to_zero_is_a_warning(registry):
    text = GOOD.replace("caps:\n", "caps:\n  - {channel: push, max: 0, per: 1d}\n")
    found = [p for p in problems(registry, text) if p.severity == "warning"]
    assert any(p.field == "ladders.gentle.steps[1].channel" and "never sent" in p.message for p in found)


def test_load_policy_raises_with_every_error(registry, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("channel: sms", "channel: fax").replace("ladder: firm", "ladder: nope"))
    with pytest.raises(PolicyError) as info:
        load_policy(path, channels=registry.channel_specs(), presets=registry.presets)
    assert len(info.value.problems) == 2
    assert all(str(p).startswith(f"{path}:") for p in info.value.problems)


def test_compiled_policy_carries_waits_and_steps(make_policy):
    policy = make_policy(GOOD)
    gentle = policy.ladders["gentle"]
    assert [s.channel for s in gentle.steps] == ["sms", "push"]
    assert gentle.start_after == timedelta(days=1) and gentle.steps[0].wait == timedelta(days=2)
    assert compile_policy(GOOD, channels={}, presets={})[0] is None
