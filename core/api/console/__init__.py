"""The operations console at ``/console``: the work queue, cases, the portfolio and the policy.

Server-rendered HTML (Jinja2) with htmx for in-place updates, both served
from the package: no CDN, no build step, works offline. Mounted on the API
app by :func:`mount_console`; users are managed with ``dunning users``.
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from dunning.core.api.console import views_case, views_login, views_overview, views_queue
from dunning.core.api.console.auth import ConsoleRefusal, session_of
from dunning.core.api.console.render import page

__all__ = ["PREFIX", "mount_console"]

#: Where the console lives.
PREFIX = "/console"


def mount_console(app: FastAPI) -> None:
    """Add the console's pages, its static files and its error pages to ``app``."""
    for module in (views_login, views_queue, views_case, views_overview):
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)
    static = files("dunning.core.api.console") / "static"
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(static)), name="console-static")
    app.add_exception_handler(ConsoleRefusal, _refused)


async def _refused(request: Request, exc: Exception) -> Response:
    """A refusal as a page; signing in first when a page was asked for without a session."""
    if not isinstance(exc, ConsoleRefusal):
        raise exc
    if exc.status == 401 and request.method == "GET":
        return RedirectResponse(f"{PREFIX}/login?next={quote(request.url.path, safe='/')}", status_code=303)
    return page(
        request, "refused.html", session_of(request), exc.status, title="Refused", message=exc.message
    )
