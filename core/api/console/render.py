"""Rendering console pages: one Jinja2 environment (autoescaped), filters, and the page response."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dunning.core.api.console.auth import can_act
from dunning.core.content.masking import mask_account, mask_phone
from dunning.core.store.queue import WorkItem
from dunning.core.store.users import SessionRow

__all__ = ["page", "sla_level", "templates"]

#: Headers of every console page: no framing, scripts and styles only from this server.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def templates() -> Environment:
    """The console's templates, from the package (a wheel install serves them too)."""
    folder = files("dunning.core.api.console") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["phone"] = mask_phone
    env.filters["account"] = mask_account
    env.filters["span"] = _span
    return env


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _span(delta: timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``12m``: how long, roughly, for a person."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def sla_level(item: WorkItem, now: datetime) -> str:
    """``late`` past the deadline, ``soon`` in its last quarter, else ``ok``."""
    if item.sla_due <= now:
        return "late"
    window = item.sla_due - item.opened_at
    return "soon" if item.sla_due - now <= window / 4 else "ok"


def page(
    request: Request, template: str, session: SessionRow | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A console page (or, for htmx, the fragment the template renders for it)."""
    body = (
        templates()
        .get_template(template)
        .render(
            session=session,
            user=session.user if session else None,
            csrf=session.csrf if session else context.pop("csrf", ""),
            can_act=bool(session and can_act(session)),
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
