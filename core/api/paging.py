"""Cursor pagination: an opaque token naming the last row of a page, in the list's stable order."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

from dunning.core.api.problems import unprocessable

__all__ = ["decode_cursor", "encode_cursor", "strict_query"]


def encode_cursor(*key: Any) -> str:
    """The cursor after a row whose sort key is ``key`` (times as ISO 8601)."""
    plain = [k.isoformat() if isinstance(k, datetime) else k for k in key]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[Any] | None:
    """The sort key a cursor names; a cursor that was not made here is a 422 naming ``cursor``."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError) as exc:
        raise _bad() from exc
    if not isinstance(key, list) or len(key) != size:
        raise _bad()
    return key


def _bad() -> HTTPException:
    return unprocessable([(("query", "cursor"), "is not a cursor this API gave out")])


def strict_query(*names: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters a list does not take, or gives twice (422 naming each)."""
    allowed = frozenset(names)

    def check(request: Request) -> None:
        problems = []
        pairs = parse_qsl(request.url.query, keep_blank_values=True)  # an empty name counts too
        counts = Counter(key for key, _value in pairs)
        for key, count in counts.items():
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                problems.append((("query", key or "(empty)"), f"unknown parameter (known: {known})"))
            elif count > 1:
                problems.append((("query", key), "is given more than once"))
        if problems:
            raise unprocessable(problems)

    return check
