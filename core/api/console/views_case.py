"""A case: its details (personal data masked, revealed on request and audited), timeline and actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dunning.core.api.console.actions import ACTIONS, OUTCOMES, act
from dunning.core.api.console.auth import ConsoleRefusal, checked_form
from dunning.core.api.console.render import page, sla_level
from dunning.core.api.console.views_queue import signed_in
from dunning.core.intake.service import Intake
from dunning.core.reporting.timeline import timeline
from dunning.core.store.users import SessionRow

__all__ = ["router"]

router = APIRouter()

#: The numbers a person may reveal, by form value, with the case's attribute that holds each.
REVEALABLE = {"phone": "phone", "account": "account"}


@dataclass(frozen=True)
class Line:
    """One line of the console's timeline: an audit entry or a delivery attempt."""

    at: datetime
    kind: str
    action: str
    channel: str | None
    rule: str | None
    detail: str


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, message: str = "") -> Response:
    return _render(request, signed_in(request), case_id, message=message)


def _render(
    request: Request,
    session: SessionRow,
    case_id: str,
    *,
    message: str = "",
    revealed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    intake = _intake(request)
    store, now = intake.rt.store, intake.rt.now()
    with store.read() as conn:
        row = store.case_row(conn, case_id)
        if row is None:
            raise ConsoleRefusal(404, f"No case {case_id!r}.")
        items = store.items_of(conn, case_id)
        attempts = store.attempts_of(conn, case_id)
        users = [u.name for u in store.list_users(conn) if not u.disabled and u.role != "viewer"]
    item = items[0] if items and items[0].state != "resolved" else None
    lines = _lines(intake, case_id, attempts)
    return page(
        request,
        "case.html",
        session,
        status=status,
        title=f"Case {case_id}",
        case=row,
        item=item,
        level=sla_level(item, now) if item else None,
        history=items,
        lines=lines,
        outcomes=OUTCOMES,
        users=users,
        channels=[name for name in intake.rt.registry.channels if name != "outbox"],
        revealed=revealed or {},
        message=message,
        now=now,
    )


def _lines(intake: Intake, case_id: str, attempts: list[Any]) -> list[Line]:
    """The case's audit timeline and its delivery attempts, merged by time."""
    lines = [
        Line(e.at, e.kind, e.action, e.channel, e.rule, _describe(e.detail))
        for e in timeline(intake.rt.store, case_id) or []
    ]
    for a in attempts:
        detail = " ".join(
            part for part in (f"code {a.error_code}" if a.error_code else "", a.detail or "") if part
        )
        lines.append(Line(a.at, "delivery", a.outcome, a.channel, None, detail[:200]))
    return sorted(lines, key=lambda line: line.at)


def _describe(detail: dict[str, Any]) -> str:
    """What a timeline entry's detail says that a person needs: who, what they wrote, dates, codes."""
    keys = (
        "actor",
        "by",
        "text",
        "date",
        "amount",
        "until",
        "status",
        "code",
        "seconds",
        "reason",
        "sla_due",
    )
    return "; ".join(f"{key}: {detail[key]}" for key in keys if detail.get(key) not in (None, ""))[:300]


@router.post("/cases/{case_id}/reveal")
async def reveal(request: Request, case_id: str) -> Response:
    """Show a full phone or account number to an agent, and audit who saw which, when."""
    session, form = await checked_form(request)
    field = str(form.get("field") or "")
    if field not in REVEALABLE:
        raise ConsoleRefusal(422, "field: choose phone or account")
    intake = _intake(request)
    store = intake.rt.store
    with store.write() as conn:
        row = store.case_row(conn, case_id)
        if row is None:
            raise ConsoleRefusal(404, f"No case {case_id!r}.")
        store.record_reveal(conn, case_id, field, session.user.name, intake.rt.now())
    value = str(getattr(row, REVEALABLE[field]) or "-")
    return _render(request, session, case_id, revealed={field: value})


@router.post("/cases/{case_id}/{action}")
async def case_action(request: Request, case_id: str, action: str) -> Response:
    session, form = await checked_form(request)
    if action not in ACTIONS:
        raise ConsoleRefusal(404, "No such action.")
    error = act(_intake(request), case_id, action, form, session.user.name)
    if error:
        return _render(request, session, case_id, message=error, status=409 if "queue" in error else 422)
    return RedirectResponse(f"/console/cases/{quote(case_id, safe='')}", status_code=303)
