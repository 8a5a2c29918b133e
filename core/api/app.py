"""The HTTP API application: ``create_app(runtime)``; served by ``dunning serve``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dunning.core.api import queue_routes, routes
from dunning.core.api.admission import Admission, store_unavailable
from dunning.core.api.auth import parse_tokens
from dunning.core.api.console import mount_console
from dunning.core.api.health import install_health
from dunning.core.api.metrics import install_metrics
from dunning.core.api.openapi import problem_openapi
from dunning.core.api.problems import http_problem, validation_problem
from dunning.core.api.requests import RequestContext
from dunning.core.intake.service import Intake
from dunning.core.runtime.runtime import Runtime
from dunning.core.store.failures import StoreError

__all__ = ["create_app"]


def create_app(rt: Runtime, *, broker_ping: Any = None) -> FastAPI:
    """The API over a runtime: lender events, cases, providers' webhooks, health and metrics."""
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
    app.state.metrics = rt.metrics
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(StoreError, store_unavailable)
    app.add_middleware(Admission, slots=settings.api_slots, wait=settings.api_queue_seconds)
    app.add_middleware(RequestContext)  # outermost: a request refused for load has an id too
    app.include_router(routes.router)
    app.include_router(queue_routes.router)
    mount_console(app)
    # Channel plugins bring their providers' webhooks.
    rt.registry.pm.hook.dunning_register_routes(register=app.include_router)

    install_health(app, rt, broker_ping)
    install_metrics(app, rt)
    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    return app
