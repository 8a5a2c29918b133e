"""Conditions are type-checked by ``policy check``, and fail at run time only as ConditionError."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dunning.core.domain.engine import decide
from dunning.core.domain.model import History
from dunning.core.policy.attributes import AttributeType, attribute_facts
from dunning.core.policy.compile import check_policy
from dunning.core.policy.conditions import ConditionError, compile_condition
from dunning.core.policy.facts import FACTS, FactType
from dunning.testing.factories import make_case

POLICY = """\
name: t
preset: conservative
segments:
  - {name: picked, when: "CONDITION", ladder: l}
  - {name: default, ladder: l}
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 1d, when: "has_phone"}
"""


def check(registry, condition: str, where: str = "segment") -> list[str]:
    text = POLICY.replace("CONDITION", condition)
    if where == "step":
        text = POLICY.replace('"CONDITION"', '"true"').replace('"has_phone"', f'"{condition}"')
    found = check_policy(text, file="p.yaml", channels=registry.channel_specs(), presets=registry.presets)
    return [str(p) for p in found]


def test_every_fact_declares_one_of_the_types():
    # The built-in facts and the types a policy's attributes take use every type there is.
    declared = attribute_facts({t.value: t for t in AttributeType})
    used = {fact.type for fact in (*FACTS.values(), *declared.values())}
    assert used == set(FactType)
    assert FACTS["days_to_pay_last"].type is FactType.NUMBER_OR_NONE
    assert declared["date"].type is FactType.DATE_OR_NONE


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("locale > 3", "locale > 3 compares text with number"),
        ("currency == 156", "currency == 156 compares text with number"),
        ("has_phone > 1", "has_phone > 1 compares boolean with number"),
        ("tags + 1 > 0", "tags + 1: arithmetic needs numbers, but tags is list of text"),
        ("locale * 2 == 'enen'", "locale * 2: arithmetic needs numbers, but locale is text"),
        ("amount_due in 5000", "'in' needs a list or text on its right, but 5000 is number"),
        ("3 in tags", "3 in tags is never true: tags holds text, not number"),
        ("3 in locale", "'in' on text looks for text, not number"),
        ("amount_due|length > 2", "length needs a list or text, but amount_due is number"),
        ("amount_due / 0 > 1", "amount_due / 0 divides by zero"),
        ("amount_due % (2 - 2) > 1", "amount_due % (2 - 2) divides by zero"),
        ("amount_due > 1 // 0", "1 // 0 divides by zero"),
    ],
)
def test_given_a_mistyped_segment_condition_when_checked_then_its_line_and_field_are_named(
    registry, condition, message
):
    # Given a segment condition that could only fail or mislead; When the policy is checked
    found = check(registry, condition)
    errors = [m for m in found if m.startswith("p.yaml:4: segments[0].when:")]
    # Then it is an error on line 4, naming the field
    assert any(message in m for m in errors), found


def test_given_a_mistyped_step_condition_when_checked_then_the_step_line_is_named(registry):
    found = check(registry, "tags > 2", where="step")
    assert any(
        m.startswith("p.yaml:10: ladders.l.steps[1].when: tags > 2 compares list of text with number")
        for m in found
    ), found


@pytest.mark.parametrize(
    ("condition", "warning"),
    [
        ("days_to_pay_last + 5 > 30", "fails for a case where days_to_pay_last is none"),
        ("1 > 0", "uses no fact: it is always true"),
        ("'a' == 'b'", "uses no fact: it is always false"),
        ("amount_due > none", "is never true: nothing is ordered against none"),
    ],
)
def test_given_a_condition_that_fails_or_is_fixed_for_some_cases_when_checked_then_it_is_a_warning(
    registry, condition, warning
):
    found = check(registry, condition)
    assert any(m.startswith("p.yaml:4: warning: segments[0].when:") and warning in m for m in found), found
    assert not any(": segments[0].when:" in m and "warning" not in m for m in found), found


@pytest.mark.parametrize(
    "condition",
    [
        "amount_due >= 5000 and days_overdue >= 3",
        "days_to_pay_last is not none and days_to_pay_last + 5 > 30",
        "days_to_pay_last is none or days_to_pay_last * 2 > 30",
        "days_to_pay_last > 30 and days_to_pay_last - 30 < 10",
        "(days_to_pay_last if days_to_pay_last is not none else 0) + 1 > 2",
        "'vip' in tags and locale in ['zh-CN', 'en'] and 'zh' in locale",
        "tags|length >= 2 or not has_push",
        "broken_promises > kept_promises * 2",
    ],
)
def test_given_a_well_typed_condition_when_checked_then_nothing_is_said(registry, condition):
    assert [m for m in check(registry, condition) if "segments[0].when" in m] == []


class _Refuses:
    """A fact value whose comparison raises ``error``, as a value from a lender's data might."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    def __gt__(self, other: object) -> bool:
        raise self.error("secret-13800138000")


@pytest.mark.parametrize(
    ("source", "facts", "cause"),
    [
        ("previous_cures / days_overdue > 1", {"previous_cures": 3, "days_overdue": 0}, ZeroDivisionError),
        (
            "amount_due / days_overdue > 1",
            {"amount_due": Decimal("5"), "days_overdue": 0},
            decimal.DivisionByZero,
        ),
        (
            "amount_due / days_overdue > 1",
            {"amount_due": Decimal("0"), "days_overdue": 0},
            decimal.InvalidOperation,
        ),
        ("amount_due > 1000", {"amount_due": Decimal("NaN")}, decimal.InvalidOperation),
        ("previous_cures / 3 > 1", {"previous_cures": 10**400}, OverflowError),
        ("days_to_pay_last > 30", {"days_to_pay_last": "soon"}, TypeError),
        ("days_overdue > 3", {}, KeyError),
        ("days_to_pay_last > 30", {"days_to_pay_last": _Refuses(ValueError)}, ValueError),
        ("days_to_pay_last > 30", {"days_to_pay_last": _Refuses(RuntimeError)}, RuntimeError),
        ("days_to_pay_last > 30", {"days_to_pay_last": _Refuses(LookupError)}, LookupError),
    ],
)
def test_given_a_case_a_condition_cannot_judge_when_evaluated_then_it_raises_condition_error(
    source, facts, cause
):
    # Given a condition that passed the check; When a case's facts make it fail
    condition = compile_condition(source)
    with pytest.raises(ConditionError) as info:
        condition(facts)
    # Then the one error type says which condition failed, keeps the cause, and no value leaks
    assert isinstance(info.value.__cause__, cause)
    assert source in str(info.value)
    assert "13800138000" not in str(info.value)


def test_given_a_case_whose_profile_breaks_a_segment_condition_when_decided_then_condition_error_reaches_the_caller(
    make_policy,
):
    # Given a lender's import that put text where days_to_pay_last holds a number
    policy = make_policy(POLICY.replace("CONDITION", "days_to_pay_last > 30"))
    case = make_case(profile={"days_to_pay_last": "soon"})
    # When the engine decides; Then the scheduler gets the one typed error it quarantines on
    with pytest.raises(ConditionError, match="days_to_pay_last > 30"):
        decide(case, History(), policy, datetime(2026, 12, 3, 3, 0, tzinfo=UTC))
