"""Each API request under its own id, in the log and in a trace.

The id is the caller's ``X-Request-ID`` when it sends a sane one (a proxy's
or a lender's, to follow a request across systems), or a new one; it is sent
back in the response's ``X-Request-ID`` and carried by every log line the
request causes. While tracing is on, each request is a span named after its
route (``POST /webhooks/twilio/sms/status``), never after ids in its path.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dunning.core.runtime import context, tracing

__all__ = ["HEADER", "RequestContext"]

#: The header a request id comes in and goes back in.
HEADER = "x-request-id"
#: A request id taken from a caller: short, and only characters safe in a log line.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContext:
    """Pure ASGI middleware (context variables set here reach the endpoint)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _caller_id(scope) or context.new_id()
        status: dict[str, Any] = {}

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER.encode(), request_id.encode())]
            await send(message)

        method = scope.get("method", "GET")
        with context.bound(request_id=request_id), tracing.span(f"{method} request") as span:
            await self.app(scope, receive, reply)
            if span is not None:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                span.update_name(f"{method} {route}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status.get("code", 0))
                span.set_attribute("dunning.webhook", route.startswith("/webhooks/"))


def _caller_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == HEADER.encode():
            text = value.decode("latin-1").strip()
            return text if _SANE.match(text) else None
    return None
