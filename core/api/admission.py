"""Backpressure: a bounded number of requests use the store at once; the rest wait briefly, then 503.

Under hundreds of concurrent posts a process must answer every request in
bounded time — recorded, or ``503 Service Unavailable`` with ``Retry-After``
— rather than queue them all on the connection pool until they fail after
half a minute, and starve the scheduler sharing that pool meanwhile. A store
that is away or busy is a 503 with ``Retry-After`` too, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp

from dunning.core.api.problems import ProblemResponse, problem
from dunning.core.store.failures import is_outage

__all__ = ["Admission", "busy", "store_unavailable"]

log = logging.getLogger(__name__)

#: Paths that never touch the store's write path, and must answer even when it is saturated.
UNGATED = ("/healthz", "/livez", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc", "/console/static")
#: Seconds a client is told to wait before retrying.
RETRY_AFTER = 2


def busy(detail: str) -> ProblemResponse:
    """503 with ``Retry-After``, as RFC 9457 problem details."""
    return problem(503, detail, title="Busy", headers={"Retry-After": str(RETRY_AFTER)})


class Admission(BaseHTTPMiddleware):
    """Lets ``slots`` requests through at once; one waiting longer than ``wait`` seconds gets a 503."""

    def __init__(self, app: ASGIApp, *, slots: int, wait: float) -> None:
        super().__init__(app)
        self.slots = asyncio.Semaphore(slots)
        self.wait = wait

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith(UNGATED):
            return await call_next(request)
        try:
            await asyncio.wait_for(self.slots.acquire(), timeout=self.wait)
        except TimeoutError:
            return busy(f"more requests than this process serves at once; retry after {RETRY_AFTER}s")
        try:
            return await call_next(request)
        finally:
            self.slots.release()


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """A store outage or timeout while serving a request: 503 and Retry-After, not a 500."""
    if not is_outage(exc):
        raise exc
    log.warning("request to %s: the store is unavailable (%s)", request.url.path, type(exc).__name__)
    return busy("the store is busy or unavailable; nothing was recorded")
