"""Amounts as people write them, read one way only.

``1234.56`` is always a plain number. ``1,234.56`` and ``1.234,56`` are
unambiguous: the last separator is the decimal mark and the other groups
thousands. ``1,234``, ``1,50`` or ``1.234.567`` use one separator that could be
either, so they are refused unless the file declares its decimal mark
(``dunning import --decimal comma|point``): a silent guess would turn 1,50 into
150.00. Exponents (``1e3``) and NaN or Infinity are refused too, and so is an
amount the store cannot hold exactly (NUMERIC(20, 4)).
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dunning.core.errors import InputError
from dunning.core.intake.shown import shown

__all__ = ["MAX_INTEGER_DIGITS", "MAX_PLACES", "DecimalMark", "parse_amount"]

#: Digits an amount may have before its decimal point (NUMERIC(20, 4) holds 16).
MAX_INTEGER_DIGITS = 16
#: Digits an amount may have after its decimal point (NUMERIC(20, 4) keeps 4).
MAX_PLACES = 4


class DecimalMark(StrEnum):
    """A file's declared decimal mark: ``1.234,56`` (comma) or ``1,234.56`` (point)."""

    COMMA = "comma"
    POINT = "point"


#: The character each declared mark stands for, and the thousands separator that goes with it.
_MARKS = {DecimalMark.COMMA: (",", "."), DecimalMark.POINT: (".", ",")}
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_EXPONENT = re.compile(r"[0-9.,]*[0-9][eE][+-]?[0-9]+")
_DIGITS = re.compile(r"[0-9.,]+")
_NUMBERS = (int, float, Decimal)
_HINT = "write it without thousands separators, or import with --decimal comma|point"


def parse_amount(value: Any, field: str = "amount_due", decimal: DecimalMark | None = None) -> Decimal:
    """A non-negative amount the store holds exactly, from text or a number; raise InputError."""
    amount = _number(value, field) if _is_number(value) else _text_amount(value, field, decimal)
    if amount < 0:
        raise InputError("cannot be negative", field=field)
    _check_range(amount, field)
    return abs(amount) if amount == 0 else amount  # -0 is 0


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


def _number(value: int | float | Decimal, field: str) -> Decimal:
    """A JSON or API number: exact as written (a float by its shortest repr, never its binary value)."""
    if isinstance(value, float):
        return _text_amount(repr(value), field, None)
    amount = Decimal(value)
    if not amount.is_finite():
        raise InputError(f"{shown(value)} is not an amount", field=field)
    return amount


def _text_amount(value: Any, field: str, decimal: DecimalMark | None) -> Decimal:
    if not isinstance(value, str):
        raise InputError(f"{shown(value)} is not an amount", field=field)
    text = value.strip()
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text.removeprefix("+"))
    if decimal is not DecimalMark.COMMA and _PLAIN.fullmatch(body):
        return Decimal(sign + body)  # the common case, read at once
    if _EXPONENT.fullmatch(body):
        raise InputError(
            f"{shown(value)} is not a plain amount (no exponents: write the digits)", field=field
        )
    if not _DIGITS.fullmatch(body):
        raise InputError(f"{shown(value)} is not an amount", field=field)
    plain = _plain_digits(body, decimal)
    if plain is None:
        raise InputError(_why_not(body, decimal, value), field=field)
    return Decimal(sign + plain)


def _plain_digits(body: str, decimal: DecimalMark | None) -> str | None:
    """``body`` with its grouping removed and a ``.`` decimal point, or None if it is not readable."""
    if decimal is None and "," in body and "." in body:
        mark = "," if body.rfind(",") > body.rfind(".") else "."
        return _regroup(body, mark, "." if mark == "," else ",")
    if decimal is None:
        return None
    mark, group = _MARKS[decimal]
    return _regroup(body, mark, group)


def _regroup(body: str, mark: str, group: str) -> str | None:
    """Digits grouped by ``group`` in threes, then at most one ``mark`` and the fraction."""
    whole, found, fraction = body.partition(mark)
    if found and not fraction.isdigit():
        return None
    if not _grouped(whole, group):
        return None
    return whole.replace(group, "") + ("." + fraction if found else "")


def _grouped(whole: str, group: str) -> bool:
    if group not in whole:
        return whole.isdigit()
    first, *rest = whole.split(group)
    return first.isdigit() and len(first) <= 3 and all(len(g) == 3 and g.isdigit() for g in rest)


def _why_not(body: str, decimal: DecimalMark | None, value: str) -> str:
    if decimal is not None:
        mark, _ = _MARKS[decimal]
        return f"{shown(value)} does not read as an amount with a decimal {decimal} ({mark!r})"
    kinds = {c for c in body if c in ",."}
    if len(kinds) == 1 and any(_regroup(body, m, g) is not None for m, g in _MARKS.values()):
        sep = kinds.pop()
        return f"{shown(value)} is ambiguous: {sep!r} may be a decimal mark or a thousands separator; {_HINT}"
    return f"{shown(value)} is not an amount (bad digit grouping)"


def _check_range(amount: Decimal, field: str) -> None:
    if amount and amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise InputError(
            f"is too large (at most {MAX_INTEGER_DIGITS} digits before the decimal point)", field=field
        )
    if _places(amount) > MAX_PLACES:
        raise InputError(f"has more than {MAX_PLACES} decimal places", field=field)


def _places(amount: Decimal) -> int:
    """Digits after the decimal point that are not trailing zeros."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite: the callers checked
    if exponent >= -MAX_PLACES:
        return max(0, -exponent)
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -exponent - trailing_zeros) if any(digits) else 0
