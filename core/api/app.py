"""The HTTP API application: ``create_app(runtime)``; served by ``dunning serve``."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from dunning.core.api import routes
from dunning.core.api.admission import Admission, store_unavailable
from dunning.core.api.health import install_health
from dunning.core.api.metrics import install_metrics
from dunning.core.api.requests import RequestContext
from dunning.core.intake.service import Intake
from dunning.core.runtime.runtime import Runtime

__all__ = ["create_app"]


class _EscapedJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: a 422 echoes what was sent, which may be an unpaired surrogate."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


async def _unprocessable(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, rendered so that any input it echoes can be encoded (its own handler fails with a 500).

    JSON as Python reads it allows ``NaN``, ``Infinity`` and ``1e309`` (an
    infinite float); they are refused by validation, and echoed back as text.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return _EscapedJSONResponse({"detail": _finite(jsonable_encoder(errors))}, status_code=422)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name (``"NaN"``, ``"Infinity"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def create_app(rt: Runtime, *, broker_ping: Any = None) -> FastAPI:
    """The API over a runtime: lender events, cases, providers' webhooks, health and metrics."""
    app = FastAPI(
        title="dunning",
        version="0.1.0",
        description="Events, cases and provider webhooks of a dunning deployment.",
    )
    settings = rt.settings
    app.state.intake = Intake(rt)
    app.state.api_tokens = [t.get_secret_value().encode() for t in settings.api_tokens]
    app.state.public_url = settings.public_url.rstrip("/")
    app.state.settings = settings
    app.state.metrics = rt.metrics
    app.add_exception_handler(RequestValidationError, _unprocessable)
    app.add_exception_handler(SQLAlchemyError, store_unavailable)
    app.add_middleware(Admission, slots=settings.api_slots, wait=settings.api_queue_seconds)
    app.add_middleware(RequestContext)  # outermost: a request refused for load has an id too
    app.include_router(routes.router)
    # Channel plugins bring their providers' webhooks.
    rt.registry.pm.hook.dunning_register_routes(register=app.include_router)

    install_health(app, rt, broker_ping)
    install_metrics(app, rt)
    return app
