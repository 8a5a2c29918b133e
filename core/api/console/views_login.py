"""Signing in and out of the console."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dunning.core.api.console.auth import COOKIE, LOGIN_COOKIE, checked_form, end_session, new_session
from dunning.core.api.console.passwords import verify_password
from dunning.core.api.console.render import page
from dunning.core.runtime.runtime import Runtime

__all__ = ["router"]

router = APIRouter()


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.intake.rt
    return rt


def _secure(request: Request) -> bool:
    return str(request.app.state.public_url).startswith("https://")


def _next(value: Any) -> str:
    """Where to go after signing in: a console page, never another site."""
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/console") and "//" not in text and "\\" not in text else "/console"


@router.get("/login")
def login_form(request: Request, next: str = "/console") -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = page(request, "login.html", None, csrf=token, next=_next(next), error=None)
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/console"
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    sent, cookie = str(form.get("csrf") or ""), request.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
        return page(
            request,
            "login.html",
            None,
            403,
            csrf=cookie,
            next="/console",
            error="The form expired: try again.",
        )
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    rt = _rt(request)
    with rt.store.read() as conn:
        user = rt.store.user(conn, name)
    stored = user.password_hash if user and not user.disabled else None
    if not verify_password(password, stored):
        error = "Wrong name or password, or the user is disabled."
        return page(request, "login.html", None, 401, csrf=cookie, next=_next(form.get("next")), error=error)
    session_id, lasts = new_session(rt, name)
    response = RedirectResponse(_next(form.get("next")), status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(lasts.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/console",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_form(request, act=False)
    end_session(_rt(request), request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response
