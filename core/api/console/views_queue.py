"""The queue page: cases waiting for a person, SLA first, claimed and resolved in place.

Forms are plain HTML: they work without JavaScript (a POST, then back to
the queue) and with htmx, which swaps just the row. Every control is a
native button, select or input, so the keyboard reaches each in order.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dunning.core.api.console.actions import OUTCOMES, act
from dunning.core.api.console.auth import ConsoleRefusal, checked_form, session_of
from dunning.core.api.console.render import page, sla_level
from dunning.core.intake.service import Intake
from dunning.core.store.queue import QueueFilter
from dunning.core.store.users import SessionRow

__all__ = ["router"]

router = APIRouter()


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def signed_in(request: Request) -> SessionRow:
    session = session_of(request)
    if session is None:
        raise ConsoleRefusal(401, "Sign in to use the console.")
    return session


@router.get("")
def queue_page(
    request: Request, reason: str = "", owner: str = "", overdue: str = "", message: str = ""
) -> Response:
    session = signed_in(request)
    intake = _intake(request)
    store, now = intake.rt.store, intake.rt.now()
    mine = {"me": session.user.name, "nobody": ""}.get(owner)
    where = QueueFilter(reason=reason or None, owner=mine, overdue_at=now if overdue else None)
    with store.read() as conn:
        items = store.work_queue(conn, where, limit=200)
        reasons = store.hold_reasons(conn)
    return page(
        request,
        "queue.html",
        session,
        title="Queue",
        items=items,
        levels={item.id: sla_level(item, now) for item in items},
        now=now,
        reasons=reasons,
        outcomes=OUTCOMES,
        filters={"reason": reason, "owner": owner, "overdue": bool(overdue)},
        message=message,
    )


@router.post("/queue/{case_id}/{action}")
async def queue_action(request: Request, case_id: str, action: str) -> Response:
    """Claim or resolve from the queue: htmx gets the row back, a plain form the queue."""
    session, form = await checked_form(request)
    intake = _intake(request)
    if action not in ("claim", "resolve"):
        raise ConsoleRefusal(404, "No such action.")
    error = act(intake, case_id, action, form, session.user.name)
    if request.headers.get("HX-Request") != "true":
        if error:
            raise ConsoleRefusal(409 if "queue" in error or "claimed" in error else 422, error)
        return RedirectResponse("/console", status_code=303)
    # Keep the keyboard where the work goes on: the outcome after a claim, the case after a resolve.
    return _row(request, session, case_id, error, focus="outcome" if action == "claim" else "case")


def _row(request: Request, session: SessionRow, case_id: str, error: str | None, focus: str = "") -> Response:
    intake = _intake(request)
    store, now = intake.rt.store, intake.rt.now()
    with store.read() as conn:
        items = store.items_of(conn, case_id)
    item = items[0] if items else None
    context: dict[str, Any] = {"item": item, "now": now, "outcomes": OUTCOMES, "error": error, "focus": focus}
    if item is not None:
        context["level"] = sla_level(item, now)
    return page(request, "queue_row.html", session, status=200, **context)
