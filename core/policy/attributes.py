"""Attributes a policy declares: any column of the lender's, typed, for conditions and templates.

A lender knows things about a debtor that dunning does not — an income band,
a credit score, the day of the last login to the app. A policy declares them
with a type (``attributes: {score: number, band: text, last_login: date, vip:
boolean}``); the import and the API check each value against its type and
store it with the case; conditions, ``priority`` and templates read it typed.
A case without a value has ``none``.

Values are stored in a canonical JSON form (a number as its exact decimal
text, a date as ``YYYY-MM-DD``) and typed again when read, so a value keeps
its precision on every store, and a value that no longer fits its type (the
policy changed since the import) reads as ``none`` rather than failing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from dunning.core.policy.facts import FACTS, Fact, FactType

__all__ = [
    "CASE_COLUMNS",
    "MAX_ATTRIBUTES",
    "AttributeType",
    "attribute_facts",
    "name_problem",
    "parse_value",
    "typed",
]


class AttributeType(StrEnum):
    """What a declared attribute holds."""

    NUMBER = "number"
    TEXT = "text"
    DATE = "date"
    BOOLEAN = "boolean"


#: The type a declared attribute has in a condition: none where a case has no value.
_FACT_TYPES = {
    AttributeType.NUMBER: FactType.NUMBER_OR_NONE,
    AttributeType.TEXT: FactType.TEXT_OR_NONE,
    AttributeType.DATE: FactType.DATE_OR_NONE,
    AttributeType.BOOLEAN: FactType.BOOLEAN_OR_NONE,
}

#: A name a condition can spell: lower-case letters, digits and underscores, a letter first.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

#: The case's own fields (columns of an import file): an attribute cannot take their names.
CASE_COLUMNS = frozenset(
    {
        "case_id",
        "debtor_id",
        "name",
        "phone",
        "push_token",
        "locale",
        "timezone",
        "account",
        "amount_due",
        "currency",
        "due_date",
        "payment_url",
        "tags",
        "contact",
        "contacts",
        "email",
        "deadline",
        "previous_cures",
        "broken_promises",
        "kept_promises",
        "days_to_pay_last",
        "attributes",
    }
)
#: Words a condition reads as constants, never as a name.
_CONSTANTS = frozenset({"true", "false", "none", "and", "or", "not", "in", "is", "if", "else"})

#: Most attributes a policy may declare (each is a column of every case).
MAX_ATTRIBUTES = 50
#: Longest text value an attribute may hold.
MAX_TEXT = 512
#: Dates an attribute may hold: far from ``date``'s limits, so date arithmetic cannot overflow.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
#: Digits a number may have (the store keeps it as text, but a condition computes with it).
MAX_DIGITS = 28

_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an attribute's name, or None when it can."""
    if not _NAME.fullmatch(name):
        return "an attribute's name is lower-case letters, digits and _ (a letter first, at most 64)"
    if name in FACTS:
        return f"{name!r} is already a fact every case has"
    if name in CASE_COLUMNS:
        return f"{name!r} is already a field of the case"
    if name in _CONSTANTS:
        return f"{name!r} is a word conditions reserve"
    return None


def attribute_facts(declared: Mapping[str, AttributeType]) -> dict[str, Fact]:
    """The facts a condition may name for the declared attributes (each may be none)."""
    return {
        name: Fact(_FACT_TYPES[kind], f"the lender's {kind} attribute {name} (none when a case has none)")
        for name, kind in declared.items()
    }


def parse_value(value: Any, kind: AttributeType) -> Any:
    """``value`` (from a file cell or a JSON body) in its stored form; None when blank.

    Raises ValueError saying what the value should have been.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind is AttributeType.NUMBER:
        return str(_number(value))
    if kind is AttributeType.DATE:
        return _date(value).isoformat()
    if kind is AttributeType.BOOLEAN:
        return _boolean(value)
    return _text(value)


def typed(declared: Mapping[str, AttributeType], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared attribute, typed (Decimal, text, date, bool), or None where a case has none."""
    return {name: _typed(stored.get(name), kind) for name, kind in declared.items()}


def _typed(raw: Any, kind: AttributeType) -> Any:
    try:
        stored = parse_value(raw, kind)
    except ValueError:
        return None  # stored under another type: unknown now
    if stored is None:
        return None
    if kind is AttributeType.NUMBER:
        return Decimal(stored)
    if kind is AttributeType.DATE:
        return date.fromisoformat(stored)
    return stored


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("is not a number")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not number.is_finite():
        raise ValueError("is not a finite number")
    if len(number.as_tuple().digits) > MAX_DIGITS:
        raise ValueError(f"has more than {MAX_DIGITS} digits")
    return number


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("is not a date (YYYY-MM-DD)") from None
    else:
        raise ValueError("is not a date (YYYY-MM-DD)")
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return day


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("is not true or false (true/false, yes/no, 1/0)")


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError("is not text")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    if "\x00" in text:
        raise ValueError("cannot contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return text
