"""The OpenAPI description, saying what the API really answers: errors as ``application/problem+json``.

FastAPI documents every error response as ``application/json`` and its own
422 schema; this rewrites each 4xx and 5xx response to the problem-details
media type and schema, so that generated clients and contract tests expect
what the server sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from dunning.core.api.problems import PROBLEM_JSON

__all__ = ["problem_openapi"]

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` with every error response described as problem details."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = default()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    if status[:1] in ("4", "5"):
                        response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
        app.openapi_schema = schema
        return schema

    return openapi
