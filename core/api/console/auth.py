"""Who is signed in to the console, and what they may do.

Sessions live in the store; the cookie carries only a random id (its
SHA-256 is the key), HttpOnly, SameSite=Lax, Secure when the console is
served over https, expiring with the session. Every form of a session
carries its CSRF token, and every POST is refused (403, nothing changed)
unless it sends it back. Viewers see; agents and admins act and reveal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from enum import StrEnum
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from dunning.core.runtime.runtime import Runtime
from dunning.core.store.users import SessionRow

__all__ = [
    "COOKIE",
    "LOGIN_COOKIE",
    "ConsoleRefusal",
    "Role",
    "can_act",
    "checked_form",
    "new_session",
    "session_of",
]

#: The session cookie.
COOKIE = "dunning_session"
#: The sign-in form's own CSRF cookie (before there is a session): a double-submitted token.
LOGIN_COOKIE = "dunning_login"


class Role(StrEnum):
    """What a console user may do."""

    VIEWER = "viewer"  #: sees the queue, cases (masked), the portfolio and the policy
    AGENT = "agent"  #: also claims, assigns, notes, resolves and reveals full numbers (audited)
    ADMIN = "admin"  #: as an agent (users are managed from the CLI)


class ConsoleRefusal(Exception):
    """A console request refused: the status, and the sentence the page shows."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def can_act(session: SessionRow) -> bool:
    return session.user.role in (Role.AGENT, Role.ADMIN)


def new_session(rt: Runtime, user_name: str) -> tuple[str, timedelta]:
    """Open a session for ``user_name``; return the cookie's value and how long it lasts."""
    session_id = secrets.token_urlsafe(32)
    lasts = timedelta(hours=rt.settings.console_session_hours)
    now = rt.now()
    with rt.store.write() as conn:
        rt.store.create_session(
            conn, _key(session_id), user_name, secrets.token_urlsafe(32), now, now + lasts
        )
    return session_id, lasts


def end_session(rt: Runtime, session_id: str) -> None:
    with rt.store.write() as conn:
        rt.store.end_session(conn, _key(session_id))


def session_of(request: Request) -> SessionRow | None:
    """The live session the request's cookie names, or None."""
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    rt: Runtime = request.app.state.intake.rt
    with rt.store.read() as conn:
        return rt.store.session(conn, _key(session_id), rt.now())


async def checked_form(request: Request, *, act: bool = True) -> tuple[SessionRow, FormData]:
    """The session and form of a POST, after the checks every POST passes before it changes anything.

    Signed in (else 401), the session's CSRF token sent back in the form or
    the ``X-CSRF-Token`` header (else 403), and, for an action, a role that
    may act (else 403).
    """
    session = session_of(request)
    if session is None:
        raise ConsoleRefusal(401, "Your session has ended. Sign in again.")
    form = await request.form()
    sent: Any = form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise ConsoleRefusal(403, "Refused: the form's security token is missing or stale. Reload the page.")
    if act and not can_act(session):
        raise ConsoleRefusal(403, "Viewers cannot act on cases. Ask an admin for the agent role.")
    return session, form
