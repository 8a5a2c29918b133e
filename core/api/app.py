"""The HTTP API application: ``create_app(runtime)``; served by ``dunning serve``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dunning.core.api import queue_routes, routes
from dunning.core.api.admission import Admission, store_unavailable
from dunning.core.api.auth import parse_tokens
from dunning.core.api.console import mount_console
from dunning.core.api.metrics import Metrics
from dunning.core.api.openapi import problem_openapi
from dunning.core.api.problems import http_problem, validation_problem
from dunning.core.intake.service import Intake
from dunning.core.runtime.outage import is_unavailable
from dunning.core.runtime.runtime import Runtime

__all__ = ["create_app"]


def create_app(rt: Runtime, *, broker_ping: Any = None) -> FastAPI:
    """The API over a runtime: lender events, cases, Twilio webhooks, health and metrics."""
    app = FastAPI(
        title="dunning",
        version="0.1.0",
        description="Events, cases and provider webhooks of a dunning deployment.",
    )
    settings = rt.settings
    app.state.intake = Intake(rt)
    app.state.api_tokens = parse_tokens([t.get_secret_value() for t in settings.api_tokens])
    app.state.public_url = settings.public_url.rstrip("/")
    app.state.settings = settings
    app.state.metrics = Metrics(rt.store)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(SQLAlchemyError, store_unavailable)
    app.add_middleware(Admission, slots=settings.api_slots, wait=settings.api_queue_seconds)
    app.include_router(routes.router)
    app.include_router(queue_routes.router)
    mount_console(app)
    # Channel plugins bring their providers' webhooks (Twilio's among them).
    for impl in rt.registry.pm.hook.dunning_register_routes.get_hookimpls():
        impl.function(register=app.include_router)

    @app.get(
        "/healthz",
        summary="Store and broker reachable",
        operation_id="health",
        tags=["health"],
        responses={503: {"description": "The store or the broker is down"}},
    )
    def healthz() -> JSONResponse:
        store_ok = _store_reachable(rt)
        broker_ok = True if broker_ping is None else bool(broker_ping())
        body = {"store": "ok" if store_ok else "down", "broker": "ok" if broker_ok else "down"}
        return JSONResponse(body, status_code=200 if store_ok and broker_ok else 503)

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    def metrics() -> Response:
        try:
            exposition = generate_latest(app.state.metrics.registry)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            rt.outages.failed("metrics", exc)  # scraped every few seconds: one line per outage
            return Response("the store is unreachable\n", status_code=503, media_type="text/plain")
        rt.outages.ok("metrics")
        return Response(exposition, media_type=CONTENT_TYPE_LATEST)

    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    return app


def _store_reachable(rt: Runtime) -> bool:
    """Whether the store answers; an outage is logged once, however often the check is polled."""
    try:
        rt.store.probe()
    except Exception as exc:
        rt.outages.failed("store health check", exc)
        return False
    rt.outages.ok("store health check")
    return True
