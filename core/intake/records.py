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
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies

from dunning.core.domain.model import Case, Event, EventKind
from dunning.core.domain.zones import is_valid_zone
from dunning.core.errors import InputError
from dunning.core.intake.amounts import DecimalMark, parse_amount
from dunning.core.intake.shown import shown
from dunning.core.policy.attributes import AttributeType, parse_value
from dunning.core.store.schema import cases, events, text_lengths

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["CASE_FIELDS", "parse_amount", "parse_attributes", "parse_case", "parse_event"]

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
    "deadline",
    "previous_cures",
    "broken_promises",
    "kept_promises",
    "days_to_pay_last",
)
_REQUIRED = ("case_id", "debtor_id", "name", "account", "amount_due", "currency", "due_date")
_PROFILE = ("previous_cures", "broken_promises", "kept_promises", "days_to_pay_last")
#: The text fields of a case kept in a column of their own, checked against its size, in order.
_TEXTS = (
    "case_id",
    "debtor_id",
    "name",
    "account",
    "due_date",
    "push_token",
    "locale",
    "timezone",
    "payment_url",
    "contact",
)
#: Longest text accepted in a free-text field; longer is an input error, not a truncation.
MAX_TEXT = 2000
#: Longest phone number as written (spaces, brackets); stored as E.164, at most 16 characters.
MAX_PHONE_TEXT = 64
#: Longest e-mail address (kept among the case's contacts).
MAX_EMAIL = 256
#: Most tags a case may carry, and the longest tag.
MAX_TAGS, MAX_TAG = 50, 64
#: Most extra contact points a case may carry, the longest name of one and the longest address.
MAX_CONTACTS, MAX_CONTACT_NAME, MAX_CONTACT = 10, 32, 512
#: Largest count in a debtor's history (the store keeps 32-bit integers).
MAX_COUNT = 2**31 - 1
#: Due dates a case may have: far enough from ``date``'s limits that date arithmetic cannot overflow.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


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


def _limit(table: Table, name: str) -> int:
    """The length of ``name``'s column in ``table``: what PostgreSQL would refuse beyond."""
    return _column_sizes(table.name).get(name, MAX_TEXT)


@lru_cache(maxsize=4)
def _column_sizes(table: str) -> dict[str, int]:
    return text_lengths({"cases": cases, "events": events}[table])


def _text(row: Mapping[str, Any], name: str, required: bool = False, *, limit: int = MAX_TEXT) -> str | None:
    value = row.get(name)
    if _blank(value):
        if required:
            raise InputError("is required", field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InputError("must be text", field=name)
    text = repr(value) if isinstance(value, float) else str(value).strip()
    return _storable(text, name, limit)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _storable(text: str, name: str, limit: int = MAX_TEXT) -> str:
    """``text`` if every store keeps it as written: not too long, no NUL, valid Unicode."""
    if len(text) > limit:
        raise InputError(f"is longer than {limit} characters", field=name)
    if "\x00" in text:
        raise InputError("cannot contain NUL characters", field=name)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("is not valid Unicode text", field=name) from None
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


def parse_date(value: Any, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"{shown(value)} is not a date (YYYY-MM-DD)", field=field)
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(f"{shown(value)} is not a date (YYYY-MM-DD)", field=field) from exc


def _due_date(value: Any, field: str = "due_date") -> date:
    day = parse_date(value, field)
    if not EARLIEST <= day <= LATEST:
        raise InputError(f"must be between {EARLIEST} and {LATEST}", field=field)
    return day


def parse_moment(value: Any, field: str = "at") -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"{shown(value)} is not an ISO 8601 time", field=field) from exc
    if moment.tzinfo is None:
        raise InputError("needs a UTC offset, e.g. 2026-12-03T10:00:00+08:00", field=field)
    return moment.astimezone(UTC)


def _tags(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        parts = value.replace(";", ",").replace("|", ",").split(",")
    elif isinstance(value, list | tuple) and all(_scalar(v) for v in value):
        parts = [str(v) for v in value]
    else:
        raise InputError("must be a list of texts or a comma-separated text", field="tags")
    tags = {_storable(p.strip(), "tags", MAX_TAG) for p in parts if p.strip()}
    if len(tags) > MAX_TAGS:
        raise InputError(f"has more than {MAX_TAGS} tags", field="tags")
    return tuple(sorted(tags))


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | Decimal) and not isinstance(value, bool)


def _contacts(row: Mapping[str, Any], email: str | None) -> dict[str, str]:
    contacts = {"email": email} if email else {}
    extra = row.get("contacts")
    if extra is None:
        return contacts
    if not isinstance(extra, Mapping) or not all(_scalar(v) or v is None for v in extra.values()):
        raise InputError("must map names to addresses", field="contacts")
    for key, value in extra.items():
        if value:
            name = _storable(str(key), "contacts", MAX_CONTACT_NAME)
            contacts[name] = _storable(str(value), "contacts", MAX_CONTACT)
    if len(contacts) > MAX_CONTACTS:
        raise InputError(f"has more than {MAX_CONTACTS} contact points", field="contacts")
    return contacts


def _count(row: Mapping[str, Any], name: str) -> int | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    text = str(value).strip() if _scalar(value) else ""
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        raise InputError(f"{shown(value)} is not a whole number", field=name)
    number = int(text)
    if number < 0:
        raise InputError("cannot be negative", field=name)
    if number > MAX_COUNT:
        raise InputError(f"is larger than {MAX_COUNT}", field=name)
    return number


def parse_attributes(row: Mapping[str, Any], declared: Mapping[str, AttributeType]) -> dict[str, Any]:
    """The declared attributes a row carries, each checked against its type, in their stored form.

    A value comes from the row's ``attributes`` object (a JSON line, an API
    body) or from a column of its name (a CSV file). A name the policy does
    not declare, in ``attributes``, is an error naming it. A blank value is
    None (it clears a stored one); an attribute the row does not carry at all
    is left out (a stored one stays).
    """
    given = row.get("attributes")
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InputError("must map attribute names to values", field="attributes")
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none declared"
            raise InputError(
                f"is not an attribute the policy declares (known: {known})", field=f"attributes.{name}"
            )
    values = {}
    for name, kind in declared.items():
        if name not in given and name not in row:
            continue
        raw = given[name] if name in given else row[name]
        try:
            values[name] = parse_value(raw, kind)
        except ValueError as exc:
            where = f"attributes.{name}" if name in given else name
            raise InputError(f"{shown(raw)} {exc}", field=where) from None
    return values


def parse_case(
    row: Mapping[str, Any],
    *,
    default_region: str | None = None,
    decimal: DecimalMark | None = None,
    attributes: Mapping[str, AttributeType] | None = None,
) -> Case:
    """Validate one case (import row, case file or API body); raise InputError.

    Every text fits its column in the store and every number its type, so a
    validated case is never refused by the database. ``attributes`` are the
    ones the policy declares (None or empty: the row's extra columns are not
    read, and a re-import keeps what is stored).
    """
    for name in _REQUIRED:
        if _blank(row.get(name)):
            raise InputError("is required", field=name)
    fields = {name: _text(row, name, limit=_limit(cases, name)) for name in _TEXTS}
    phone_raw = _text(row, "phone", limit=MAX_PHONE_TEXT)
    phone = normalise_phone(phone_raw, default_region) if phone_raw else None
    currency = (_text(row, "currency", True) or "").upper()
    if currency not in _currencies():
        raise InputError(f"{shown(currency)} is not an ISO 4217 currency", field="currency")
    tz = fields["timezone"]
    if tz and not is_valid_zone(tz):
        raise InputError(f"{shown(tz)} is not an IANA time zone", field="timezone")
    locale = fields["locale"] or "en"
    if not _locale_ok(locale):
        raise InputError(f"{shown(locale)} is not a locale (e.g. zh-CN, en)", field="locale")
    payment_url = fields["payment_url"]
    if payment_url and not payment_url.startswith(("https://", "http://")):
        raise InputError("must be an http(s) URL", field="payment_url")
    email = _text(row, "email", limit=MAX_EMAIL)
    if not (phone or fields["push_token"] or email):
        raise InputError("a case needs a phone, a push token or an e-mail", field="phone")
    profile = {name: v for name in _PROFILE if (v := _count(row, name)) is not None}
    return Case(
        case_id=fields["case_id"] or "",
        debtor_id=fields["debtor_id"] or "",
        name=fields["name"] or "",
        account=fields["account"] or "",
        amount_due=parse_amount(row.get("amount_due"), "amount_due", decimal),
        currency=currency,
        due_date=_due_date(row.get("due_date")),
        locale=locale,
        phone=phone,
        push_token=fields["push_token"],
        timezone=tz,
        payment_url=payment_url,
        contact=fields["contact"],
        tags=_tags(row.get("tags")),
        contacts=_contacts(row, email),
        profile=profile,
        deadline=_due_date(row["deadline"], "deadline") if row.get("deadline") not in (None, "") else None,
        attributes=parse_attributes(row, attributes) if attributes is not None else {},
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
        raise InputError(f"unknown kind {shown(kind_raw)} (known: {kinds})", field="kind") from exc
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
    channel = _text(row, "channel", limit=_limit(events, "channel"))
    if kind in (EventKind.WRONG_NUMBER,) and channel is None:
        channel = "sms"
    return Event(
        kind=kind,
        at=at,
        case_id=_text(row, "case_id", limit=_limit(events, "case_id")) or case_id,
        amount=amount,
        full=full,
        date=day,
        channel=channel,
        text=_text(row, "text"),
        address=_text(row, "address", limit=_limit(events, "address")),
        intent_id=_text(row, "intent_id", limit=_limit(events, "intent_id")),
        event_id=_text(row, "event_id", limit=_limit(events, "event_id")),
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
    if case.deadline is not None:
        out["deadline"] = case.deadline.isoformat()
    out.update(case.profile)
    if case.attributes:
        out["attributes"] = {k: v for k, v in case.attributes.items() if v is not None}
    return out


def load_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} at line {exc.lineno}", field=what) from exc
    if not isinstance(data, dict):
        raise InputError("must be a JSON object", field=what)
    return data
