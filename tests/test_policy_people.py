"""The policy's queue SLAs and agent numbers: checked with their line, like the rest of a policy."""

from __future__ import annotations

import textwrap
from datetime import timedelta

from dunning.core.policy.compile import compile_policy

BASE = """
name: p
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""


def compile_with(extra: str, registry):
    return compile_policy(
        textwrap.dedent(BASE) + textwrap.dedent(extra),
        file="p.yaml",
        channels=registry.channel_specs(),
        presets=registry.presets,
    )


def test_given_slas_per_reason_then_each_reason_gets_its_own_and_the_rest_the_default(registry):
    policy, problems = compile_with("queue: {sla: {dispute: 2d, handoff: 4h, default: 12h}}\n", registry)
    assert policy is not None, problems
    assert policy.sla_for("dispute") == timedelta(days=2)
    assert policy.sla_for("handoff") == timedelta(hours=4)
    assert policy.sla_for("bankruptcy") == timedelta(hours=12)  # a reason another plugin adds


def test_given_no_queue_section_then_every_reason_waits_a_day(registry):
    policy, _ = compile_with("", registry)
    assert policy is not None and policy.sla_for("dispute") == timedelta(days=1)


def test_given_bad_slas_and_numbers_then_each_is_an_error_at_its_line(registry):
    extra = """
    queue:
      sla: {dispute: 0h, handoff: soon}
    handoff:
      numbers: {en: "555-0100"}
      segments: {vip: "+14155550100"}
      timeout: 2s
    """
    policy, problems = compile_with(extra, registry)
    assert policy is None
    found = {(p.line, p.field) for p in problems}
    assert (10, "queue.sla.dispute") in found and (10, "queue.sla.handoff") in found
    assert (12, "handoff.numbers.en") in found and (14, "handoff.timeout") in found
    messages = " ".join(str(p) for p in problems)
    assert "E.164" in messages and "positive duration" in messages


def test_given_an_agent_number_for_an_unknown_segment_then_it_is_an_error_naming_the_known_ones(registry):
    policy, problems = compile_with('handoff: {segments: {vip: "+14155550100"}}\n', registry)
    assert policy is None
    (problem,) = problems
    assert problem.field == "handoff.segments.vip" and "known: all" in problem.message


def test_agent_numbers_are_found_by_segment_then_locale_then_language(registry):
    extra = (
        'handoff: {numbers: {zh-CN: "+861088886666", en: "+14155550100"}, segments: {all: "+861099990000"}}\n'
    )
    policy, problems = compile_with(extra, registry)
    assert policy is not None, problems
    assert policy.handoff.number_for("zh_CN", "all") == "+861099990000"
    assert policy.handoff.number_for("zh-CN") == "+861088886666"
    assert policy.handoff.number_for("en-GB") == "+14155550100"
    assert policy.handoff.number_for("fr") is None
