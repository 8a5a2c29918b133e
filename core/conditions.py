"""Segment and step conditions: small expressions over a case's facts, never ``eval``.

``amount_due >= 5000 and days_overdue >= 3`` is compiled with Jinja2's
sandboxed ``compile_expression``; only the names in :data:`FACTS` may appear,
so a misspelled field fails ``dunning policy check`` rather than a tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["FACTS", "Condition", "ConditionError", "compile_condition"]

#: The names a condition may use, and what each means.
FACTS: Mapping[str, str] = {
    "amount_due": "outstanding amount after payments (Decimal)",
    "currency": "ISO 4217 code",
    "days_overdue": "whole days since the due date, in the debtor's zone",
    "locale": "the debtor's locale, e.g. zh-CN or en",
    "tags": "list of the case's tags",
    "has_phone": "true when the case has a usable phone number",
    "has_push": "true when the case has a push token",
    "contacts_sent": "reminders already sent for this case",
    "previous_cures": "earlier debts of this debtor paid in full",
    "broken_promises": "promises to pay this debtor did not keep",
    "kept_promises": "promises to pay this debtor kept",
    "days_to_pay_last": "days overdue at which the last earlier debt was paid (or none)",
}

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


class ConditionError(ValueError):
    """A condition does not compile, or uses a name that is not a fact."""


@dataclass(frozen=True)
class Condition:
    """A compiled condition; call it with the facts of a case."""

    source: str
    _fn: Any

    def __call__(self, facts: Mapping[str, Any]) -> bool:
        try:
            return bool(self._fn(**facts))
        except (UndefinedError, SecurityError, TypeError, ArithmeticError) as exc:
            raise ConditionError(f"condition {self.source!r} failed: {exc}") from exc


def compile_condition(source: str, facts: Mapping[str, str] = FACTS) -> Condition:
    """Compile ``source``; raise ConditionError on bad syntax or an unknown name."""
    try:
        names = meta.find_undeclared_variables(_ENV.parse("{{ (" + source + ") }}"))
        fn = _ENV.compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ConditionError(f"not a valid condition: {exc.message}") from exc
    unknown = sorted(names - set(facts))
    if unknown:
        known = ", ".join(sorted(facts))
        raise ConditionError(f"unknown name {', '.join(unknown)} (known: {known})")
    return Condition(source, fn)
