"""Validation of cases and events from outside: import rows, case files, API bodies.

Every problem raises ``InputError`` naming the field, so the importer can
report ``FILE:LINE: field: reason`` and the API can answer 422 with the field.
Phones are normalised to E.164 with ``phonenumbers``; amounts are Decimals in
a known ISO 4217 currency; time zones are IANA names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies

from dunning.core.domain.model import Case, Event, EventKind
from dunning.core.domain.zones import is_valid_zone
from dunning.core.errors import InputError

__all__ = ["CASE_FIELDS", "parse_case", "parse_event"]

#: The columns of an import file and the fields of a case file, in order.
CASE_FIELDS = (
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
)
#: Optional extra columns a case may carry.
OPTIONAL_FIELDS = (
    "contact",
    "email",
    "previous_cures",
    "broken_promises",
    "kept_promises",
    "days_to_pay_last",
)
_REQUIRED = ("case_id", "debtor_id", "name", "account", "amount_due", "currency", "due_date")
_PROFILE = ("previous_cures", "broken_promises", "kept_promises", "days_to_pay_last")
#: Longest text accepted in a free-text field; longer is an input error, not a truncation.
MAX_TEXT = 2000


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(c for c in list_currencies() if c != "XXX")


@lru_cache(maxsize=256)
def _locale_ok(tag: str) -> bool:
    try:
        Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return True


def _text(row: Mapping[str, Any], name: str, required: bool = False) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError("is required", field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InputError("must be text", field=name)
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if len(text) > MAX_TEXT:
        raise InputError(f"is longer than {MAX_TEXT} characters", field=name)
    return text


def normalise_phone(raw: str, region: str | None = None) -> str:
    """E.164 form of a phone number, or InputError('phone')."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InputError(f"cannot parse {_mask(raw)!r}: {exc._msg}", field="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise InputError(f"{_mask(raw)!r} is not a valid phone number", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _mask(raw: str) -> str:
    digits = raw.strip()
    return digits[:3] + "*" * max(0, len(digits) - 5) + digits[-2:] if len(digits) > 5 else "***"


def parse_amount(value: Any, field: str = "amount_due") -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise InputError(f"{value!r} is not an amount", field=field) from exc
    if not amount.is_finite():
        raise InputError(f"{value!r} is not an amount", field=field)
    if amount < 0:
        raise InputError("cannot be negative", field=field)
    return amount


def parse_date(value: Any, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from exc


def parse_moment(value: Any, field: str = "at") -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"{value!r} is not an ISO 8601 time", field=field) from exc
    if moment.tzinfo is None:
        raise InputError("needs a UTC offset, e.g. 2026-12-03T10:00:00+08:00", field=field)
    return moment.astimezone(UTC)


def _tags(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        parts = value.replace(";", ",").replace("|", ",").split(",")
    elif isinstance(value, list | tuple):
        parts = [str(v) for v in value]
    else:
        raise InputError("must be a list or a comma-separated text", field="tags")
    return tuple(sorted({p.strip() for p in parts if p.strip()}))


def _count(row: Mapping[str, Any], name: str) -> int | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise InputError(f"{value!r} is not a whole number", field=name) from exc
    if number < 0:
        raise InputError("cannot be negative", field=name)
    return number


def parse_case(row: Mapping[str, Any], *, default_region: str | None = None) -> Case:
    """Validate one case (import row, case file or API body); raise InputError."""
    for name in _REQUIRED:
        _text(row, name, required=True)
    phone_raw = _text(row, "phone")
    phone = normalise_phone(phone_raw, default_region) if phone_raw else None
    currency = (_text(row, "currency", True) or "").upper()
    if currency not in _currencies():
        raise InputError(f"{currency!r} is not an ISO 4217 currency", field="currency")
    tz = _text(row, "timezone")
    if tz and not is_valid_zone(tz):
        raise InputError(f"{tz!r} is not an IANA time zone", field="timezone")
    locale = _text(row, "locale") or "en"
    if not _locale_ok(locale):
        raise InputError(f"{locale!r} is not a locale (e.g. zh-CN, en)", field="locale")
    payment_url = _text(row, "payment_url")
    if payment_url and not payment_url.startswith(("https://", "http://")):
        raise InputError("must be an http(s) URL", field="payment_url")
    push_token = _text(row, "push_token")
    email = _text(row, "email")
    if not (phone or push_token or email):
        raise InputError("a case needs a phone, a push token or an e-mail", field="phone")
    profile = {name: v for name in _PROFILE if (v := _count(row, name)) is not None}
    contacts = {"email": email} if email else {}
    extra_contacts = row.get("contacts")
    if isinstance(extra_contacts, Mapping):
        contacts.update({str(k): str(v) for k, v in extra_contacts.items() if v})
    return Case(
        case_id=_text(row, "case_id", True) or "",
        debtor_id=_text(row, "debtor_id", True) or "",
        name=_text(row, "name", True) or "",
        account=_text(row, "account", True) or "",
        amount_due=parse_amount(row.get("amount_due")),
        currency=currency,
        due_date=parse_date(row.get("due_date"), "due_date"),
        locale=locale,
        phone=phone,
        push_token=push_token,
        timezone=tz,
        payment_url=payment_url,
        contact=_text(row, "contact"),
        tags=_tags(row.get("tags")),
        contacts=contacts,
        profile=profile,
    )


def parse_event(
    row: Mapping[str, Any], *, case_id: str | None = None, default_at: datetime | None = None
) -> Event:
    """Validate one event (events file, API body, CLI); raise InputError."""
    kind_raw = _text(row, "kind", required=True) or ""
    try:
        kind = EventKind(kind_raw)
    except ValueError as exc:
        kinds = ", ".join(k.value for k in EventKind)
        raise InputError(f"unknown kind {kind_raw!r} (known: {kinds})", field="kind") from exc
    at_raw = row.get("at")
    if at_raw in (None, ""):
        if default_at is None:
            raise InputError("is required", field="at")
        at = default_at
    else:
        at = parse_moment(at_raw, "at")
    amount = None
    if row.get("amount") not in (None, ""):
        amount = parse_amount(row.get("amount"), "amount")
        if amount == 0:
            raise InputError("a payment must be more than 0", field="amount")
    full = row.get("full")
    if full is not None and not isinstance(full, bool):
        raise InputError("must be true or false", field="full")
    day = parse_date(row["date"], "date") if row.get("date") not in (None, "") else None
    if kind == EventKind.PROMISE and day is None and row.get("date") not in (None, ""):
        raise InputError("is required for a promise", field="date")
    channel = _text(row, "channel")
    if kind in (EventKind.WRONG_NUMBER,) and channel is None:
        channel = "sms"
    return Event(
        kind=kind,
        at=at,
        case_id=_text(row, "case_id") or case_id,
        amount=amount,
        full=full,
        date=day,
        channel=channel,
        text=_text(row, "text"),
        address=_text(row, "address"),
        intent_id=_text(row, "intent_id"),
        event_id=_text(row, "event_id"),
    )


def case_to_json(case: Case) -> dict[str, Any]:
    """A case as the JSON object its file form and the API use."""
    out: dict[str, Any] = {
        "case_id": case.case_id,
        "debtor_id": case.debtor_id,
        "name": case.name,
        "phone": case.phone,
        "push_token": case.push_token,
        "locale": case.locale,
        "timezone": case.timezone,
        "account": case.account,
        "amount_due": str(case.amount_due),
        "currency": case.currency,
        "due_date": case.due_date.isoformat(),
        "payment_url": case.payment_url,
        "tags": list(case.tags),
    }
    if case.contact:
        out["contact"] = case.contact
    if case.contacts.get("email"):
        out["email"] = case.contacts["email"]
    out.update(case.profile)
    return out


def load_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} at line {exc.lineno}", field=what) from exc
    if not isinstance(data, dict):
        raise InputError("must be a JSON object", field=what)
    return data
