"""The resources of the fake Twilio as JSON: one Message or Call, and the lists of them.

A resource's dates are RFC 2822 strings, as Twilio writes them; a text has a
``date_sent`` and a call a ``start_time`` only once it left Twilio's queue.
The list resources, ``Messages.json`` and ``Calls.json``, are filtered and
paged as Twilio does: the real SDK's ``messages.list(to=..., date_sent_after=...)`` and
``calls.list(to=..., status=..., start_time_after=...)`` read them: newest
first, in pages of ``PageSize`` with a ``next_page_uri`` the SDK follows. Date
filters take a day (``2026-12-02``: on or after its midnight, as Twilio
documents) or a full ISO time, and never match a resource whose date is still
empty (a text not yet sent has no ``date_sent``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from dunning.core.content.sms import sms_shape

if TYPE_CHECKING:
    from dunning.testing.fake_twilio import TwilioRecord

__all__ = ["FILTERS", "UNSENT", "ListQueryError", "list_page", "resource_json"]

#: Statuses of a message or call still in Twilio's queue: not sent, not started.
UNSENT = frozenset({"queued", "accepted", "scheduled"})

#: Query parameter → resource field, per kind; ``<``/``>`` variants are ranges on the same field.
FILTERS: dict[str, dict[str, str]] = {
    "message": {"To": "to", "From": "from", "DateSent": "date_sent"},
    "call": {
        "To": "to",
        "From": "from",
        "Status": "status",
        "StartTime": "start_time",
        "EndTime": "end_time",
    },
}
#: Date fields among the filters.
DATES = frozenset({"date_sent", "start_time", "end_time"})
DEFAULT_PAGE_SIZE = 50
D = TypeVar("D", date, datetime)
MAX_PAGE_SIZE = 1000


def resource_json(record: TwilioRecord, status: str, account_sid: str) -> dict[str, Any]:
    """The Message or Call resource of ``record``, in ``status``, as Twilio's API returns it."""
    now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(record.at))
    plural = "Messages" if record.kind == "message" else "Calls"
    common = {
        "sid": record.sid,
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "to": record.to,
        "from": record.from_,
        "status": status,
        "direction": "outbound-api",
        "date_created": now,
        "date_updated": now,
        "uri": f"/2010-04-01/Accounts/{account_sid}/{plural}/{record.sid}.json",
    }
    if record.kind == "call":
        started = None if status in UNSENT else now
        return {**common, "start_time": started, "end_time": None, "duration": None, "price": None}
    return {
        **common,
        "body": record.body,
        "messaging_service_sid": record.params.get("MessagingServiceSid"),
        "num_segments": str(sms_shape(record.body or "").segments),
        "num_media": "0",
        "error_code": None,
        "error_message": None,
        "price": None,
        "price_unit": "USD",
        "date_sent": None if status in UNSENT else now,
    }


class ListQueryError(ValueError):
    """A list query Twilio would refuse (a filter it does not know, a date it cannot read)."""


def list_page(
    kind: str, resources: Sequence[Mapping[str, Any]], query: Mapping[str, list[str]], path: str
) -> dict[str, Any]:
    """One page of ``resources`` (newest first) matching ``query``, shaped like Twilio's answer."""
    tests = _filters(kind, query)
    # Newest first, the later of two created in the same second first too.
    matching = [r for r in reversed(resources) if all(test(r) for test in tests)]
    matching.sort(
        key=lambda r: _when(r.get("date_created")) or datetime.min.replace(tzinfo=UTC), reverse=True
    )
    size = min(MAX_PAGE_SIZE, max(1, int(_one(query, "PageSize") or DEFAULT_PAGE_SIZE)))
    page = max(0, int(_one(query, "Page") or 0))
    start = page * size
    chunk = matching[start : start + size]
    kept = {k: v[0] for k, v in query.items() if k not in ("Page", "PageSize", "PageToken") and v}

    def uri(number: int) -> str:
        params = {**kept, "PageSize": str(size), "Page": str(number)}
        if number:
            params["PageToken"] = f"PA{number}"
        return f"{path}?{urlencode(params)}"

    return {
        "messages" if kind == "message" else "calls": list(chunk),
        "end": start + max(0, len(chunk) - 1),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if start + size < len(matching) else None,
        "page": page,
        "page_size": size,
        "previous_page_uri": uri(page - 1) if page else None,
        "start": start,
        "uri": uri(page),
    }


def _filters(kind: str, query: Mapping[str, list[str]]) -> list[Any]:
    known = FILTERS[kind]
    tests: list[Any] = []
    for key, values in query.items():
        if key in ("Page", "PageSize", "PageToken") or not values:
            continue
        name, op = (key[:-1], key[-1]) if key[-1] in "<>" else (key, "=")
        field = known.get(name)
        if field is None or (op != "=" and field not in DATES):
            raise ListQueryError(f"unknown filter {key!r}")
        tests.append(_date_test(field, op, values[0]) if field in DATES else _equal_test(field, values[0]))
    return tests


def _equal_test(field: str, wanted: str) -> Any:
    return lambda resource: str(resource.get(field) or "") == wanted


def _date_test(field: str, op: str, text: str) -> Any:
    day, moment = _bound(text)

    def test(resource: Mapping[str, Any]) -> bool:
        found = _when(resource.get(field))
        if found is None:
            return False
        if day is not None:
            return _compare(found.date(), op, day)
        return moment is not None and _compare(found, op, moment)

    return test


def _compare(value: D, op: str, bound: D) -> bool:
    if op == ">":
        return value >= bound
    if op == "<":
        return value <= bound
    return value == bound


def _bound(text: str) -> tuple[date | None, datetime | None]:
    """A filter's value: a whole day (``2026-12-02``) or a moment (ISO 8601, UTC if no offset)."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text), None
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ListQueryError(f"cannot read the date {text!r}") from exc
    return None, moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(value: object) -> datetime | None:
    """A resource's RFC 2822 date (``Wed, 02 Dec 2026 02:00:00 +0000``), or None when empty."""
    if not value:
        return None
    return parsedate_to_datetime(str(value))


def _one(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None
