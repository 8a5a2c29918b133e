"""Liveness and readiness, asked separately, as an orchestrator asks them.

``/livez`` answers 200 while the process serves requests at all: restart it
only when that fails. ``/readyz`` answers 200 only when the store is
reachable at the schema this version needs and the broker answers; 503
otherwise, so a load balancer sends requests elsewhere while the process
waits. ``/healthz`` is ``/readyz`` under its old name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from dunning.core.runtime.readiness import check_readiness
from dunning.core.runtime.runtime import Runtime

__all__ = ["install_health"]

_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "The store, its schema or the broker is not ready"}
}


def install_health(app: FastAPI, rt: Runtime, broker_ping: Callable[[], object] | None) -> None:
    """Add ``/livez``, ``/readyz`` and ``/healthz`` to ``app``."""

    @app.get("/livez", summary="The process is up", operation_id="liveness", tags=["health"])
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    def readiness() -> JSONResponse:
        found = check_readiness(rt.store, broker_ping, rt.outages)
        # The reasons go to the log (once per outage), not to whoever asks.
        body = {name: "ok" if answer == "ok" else "down" for name, answer in found.checks.items()}
        body.setdefault("broker", "ok")  # no shared broker: the process's own is in memory
        return JSONResponse(body, status_code=200 if found.ready else 503)

    app.get(
        "/readyz",
        summary="Store, schema and broker ready",
        responses=_NOT_READY,
        operation_id="readiness",
        tags=["health"],
    )(readiness)
    app.get(
        "/healthz", summary="Alias of /readyz", responses=_NOT_READY, operation_id="health", tags=["health"]
    )(readiness)
