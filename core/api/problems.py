"""Errors as RFC 9457 problem details, across the whole API.

Every error answer is ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``; a 422 adds ``errors``, one entry per field at
fault (``loc`` as FastAPI gives it, ``field`` as a dotted name, ``msg``),
and a 409 adds what the conflict is about. Input is echoed only escaped, so
any text a client sent can be rendered back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dunning.core.errors import ConflictError, InputError, NotFoundError, StateError

__all__ = [
    "PROBLEM_JSON",
    "ProblemResponse",
    "field_name",
    "http_problem",
    "input_problem",
    "problem",
    "unprocessable",
    "validation_problem",
]

#: The media type of every error answer.
PROBLEM_JSON = "application/problem+json"
#: Problem types by status: a URI per kind of problem, stable for clients to switch on.
_TYPES = {
    400: "urn:dunning:problem:bad-request",
    401: "urn:dunning:problem:unauthorized",
    403: "urn:dunning:problem:forbidden",
    404: "urn:dunning:problem:not-found",
    405: "urn:dunning:problem:method-not-allowed",
    409: "urn:dunning:problem:conflict",
    422: "urn:dunning:problem:validation",
    429: "urn:dunning:problem:busy",
    503: "urn:dunning:problem:unavailable",
}


class ProblemResponse(JSONResponse):
    """Problem details, with non-ASCII escaped: an error may echo an unpaired surrogate a client sent."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(
            _finite(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode()


def problem(
    status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> ProblemResponse:
    """A problem-details answer; ``extra`` members are added as the RFC allows."""
    body = {
        "type": _TYPES.get(status, "about:blank"),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return ProblemResponse(jsonable_encoder(body), status_code=status, headers=headers)


def field_name(loc: Sequence[Any]) -> str:
    """``["body", "events", 2, "at"]`` as ``events[2].at``: the field a person would name."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or (str(loc[0]) if loc else "")


def _errors(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(item.get("loc", ())),
            "field": field_name(list(item.get("loc", ()))),
            "msg": str(item.get("msg", "")),
            "type": str(item.get("type", "value_error")),
            **({"input": item["input"]} if "input" in item else {}),
        }
        for item in items
    ]


def _unprocessable_answer(errors: list[dict[str, Any]]) -> ProblemResponse:
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors if e["field"]))
    detail = f"{len(errors)} problem(s) with the request: {fields}" if fields else "the request is not valid"
    return problem(422, detail, title="The request is not valid", errors=errors)


async def validation_problem(request: Request, exc: Exception) -> ProblemResponse:
    """FastAPI's validation error (422) as problem details, one entry per field."""
    items = exc.errors() if isinstance(exc, RequestValidationError) else []
    return _unprocessable_answer(_errors(jsonable_encoder(items)))


async def http_problem(request: Request, exc: Exception) -> ProblemResponse:
    """Every ``HTTPException`` as problem details (a 422's list of errors, a 409's members)."""
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    headers = dict(exc.headers or {})
    detail: Any = exc.detail
    if exc.status_code == 422 and isinstance(detail, list):
        return _unprocessable_answer(_errors(detail))
    if isinstance(detail, dict):
        members = {k: v for k, v in detail.items() if k not in ("type", "status", "detail", "title")}
        return problem(
            exc.status_code,
            str(detail.get("detail", "")),
            title=detail.get("title"),
            headers=headers,
            **members,
        )
    return problem(exc.status_code, str(detail), headers=headers)


def unprocessable(errors: list[tuple[tuple[Any, ...], str]]) -> HTTPException:
    """A 422 naming each field at fault: its location and message."""
    return HTTPException(
        status_code=422, detail=[{"loc": list(loc), "msg": msg, "type": "value_error"} for loc, msg in errors]
    )


def input_problem(exc: InputError, where: tuple[Any, ...] = ("body",)) -> HTTPException:
    """An ``InputError`` of the service layer as the HTTP error it stands for."""
    if isinstance(exc, NotFoundError):
        return HTTPException(status_code=404, detail=str(exc))
    if isinstance(exc, StateError):
        return HTTPException(status_code=409, detail={"detail": str(exc), "field": exc.field})
    if isinstance(exc, ConflictError):
        return HTTPException(
            status_code=409, detail={"detail": str(exc), "field": exc.field, "stored": exc.stored}
        )
    return unprocessable([((*where, exc.field or "body"), str(exc))])


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name (``"NaN"``, ``"Infinity"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
