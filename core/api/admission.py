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

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

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


class Admission:
    """Lets ``slots`` requests through at once; one waiting longer than ``wait`` seconds gets a 503.

    Pure ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would add a task and a
    stream to every request, a cost paid on each event the API takes in.
    """

    def __init__(self, app: ASGIApp, *, slots: int, wait: float) -> None:
        self.app = app
        self.slots = asyncio.Semaphore(slots)
        self.wait = wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGATED):
            await self.app(scope, receive, send)
            return
        if self.slots.locked():
            try:
                await asyncio.wait_for(self.slots.acquire(), timeout=self.wait)
            except TimeoutError:
                refusal = busy(f"more requests than this process serves at once; retry after {RETRY_AFTER}s")
                await refusal(scope, receive, send)
                return
        else:
            await self.slots.acquire()  # a free slot: taken at once, without a timer
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """A store outage or timeout while serving a request: 503 and Retry-After, not a 500."""
    if not is_outage(exc):
        raise exc
    log.warning("request to %s: the store is unavailable (%s)", request.url.path, type(exc).__name__)
    return busy("the store is busy or unavailable; nothing was recorded")
