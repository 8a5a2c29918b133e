"""The work queue in the API: cases held for a person, and what people do with them.

Every action is recorded as an event carrying the acting person (the name
of the API token), through the one intake path: it shows on the case's
timeline and in the audit trail, and applies to the case's work item in the
same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from dunning.core.api.auth import require_token
from dunning.core.api.paging import decode_cursor, encode_cursor, strict_query
from dunning.core.api.problems import input_problem, unprocessable
from dunning.core.api.routes import CaseId, work_item_out
from dunning.core.api.schemas import AssignIn, NoteIn, Problem, QueuePage, ResolveIn, WorkItemOut
from dunning.core.domain.work import Outcome, Resolution
from dunning.core.errors import InputError
from dunning.core.intake.aliases import normalise_channel
from dunning.core.intake.work import WorkActions
from dunning.core.store.queue import QueueFilter, WorkItem

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not UTF-8 text, so not JSON"},
    401: {"model": Problem, "description": "Missing or unknown bearer token"},
    404: {"model": Problem, "description": "No such case"},
    409: {"model": Problem, "description": "The case is not in the queue, or someone else has it"},
}

router = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], responses=_ERRORS)


def _actions(request: Request) -> WorkActions:
    return WorkActions(request.app.state.intake)


def _actor(request: Request) -> str:
    return str(getattr(request.state, "actor", "api"))


@router.get(
    "/queue",
    response_model=QueuePage,
    summary="Cases held for a person, soonest SLA deadline first",
    operation_id="list_queue",
    tags=["queue"],
    dependencies=[Depends(strict_query("reason", "owner", "overdue", "cursor", "limit"))],
)
def list_queue(
    request: Request,
    reason: Annotated[str | None, Query(max_length=64, description="dispute, handoff, ...")] = None,
    owner: Annotated[
        str | None, Query(max_length=128, description="Items this person owns; empty: nobody's")
    ] = None,
    overdue: Annotated[bool, Query(description="Only items past their SLA deadline")] = False,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QueuePage:
    """Open and claimed items; ``next_cursor`` pages through the rest in the same order."""
    intake = request.app.state.intake
    now = intake.rt.now()
    for name, value in (("reason", reason), ("owner", owner)):
        if value is not None and "\x00" in value:
            raise unprocessable([(("query", name), "cannot contain NUL characters")])
    after = decode_cursor(cursor, 2)
    where = QueueFilter(reason=reason, owner=owner, overdue_at=now if overdue else None)
    store = intake.rt.store
    try:
        key = (datetime.fromisoformat(after[0]), int(after[1])) if after else None
    except (TypeError, ValueError) as exc:
        raise unprocessable([(("query", "cursor"), "is not a cursor this API gave out")]) from exc
    with store.read() as conn:
        items = store.work_queue(conn, where, after=key, limit=limit + 1)
    page = items[:limit]
    last = page[-1] if page else None
    return QueuePage(
        items=[work_item_out(item, now) for item in page],
        next_cursor=encode_cursor(last.sla_due, last.id) if last and len(items) > limit else None,
    )


def _out(item: WorkItem | None, request: Request, case_id: str) -> WorkItemOut:
    if item is None:
        raise input_problem(InputError(f"case {case_id!r} has no work item", field="case_id"))
    return work_item_out(item, request.app.state.intake.rt.now())


@router.post(
    "/cases/{case_id}/claim",
    response_model=WorkItemOut,
    summary="Take the case's work item (the token's name becomes its owner)",
    operation_id="claim_case",
    tags=["queue"],
)
def claim(case_id: CaseId, request: Request) -> WorkItemOut:
    try:
        item = _actions(request).claim(case_id, _actor(request))
    except InputError as exc:
        raise input_problem(exc) from exc
    return _out(item, request, case_id)


@router.post(
    "/cases/{case_id}/assign",
    response_model=WorkItemOut,
    summary="Give the case's work item to someone",
    operation_id="assign_case",
    tags=["queue"],
)
def assign(case_id: CaseId, body: AssignIn, request: Request) -> WorkItemOut:
    try:
        item = _actions(request).assign(case_id, body.owner, _actor(request))
    except InputError as exc:
        raise input_problem(exc) from exc
    return _out(item, request, case_id)


@router.post(
    "/cases/{case_id}/notes",
    status_code=201,
    summary="Add a note to the case's timeline",
    operation_id="add_case_note",
    tags=["queue"],
)
def add_note(case_id: CaseId, body: NoteIn, request: Request) -> dict[str, str]:
    try:
        _actions(request).note(case_id, body.text, _actor(request))
    except InputError as exc:
        raise input_problem(exc) from exc
    return {"case_id": case_id, "status": "recorded"}


@router.post(
    "/cases/{case_id}/resolve",
    response_model=WorkItemOut,
    summary="Resolve the case's work item with an outcome",
    operation_id="resolve_case",
    tags=["queue"],
)
def resolve(case_id: CaseId, body: ResolveIn, request: Request) -> WorkItemOut:
    """``resumed``, ``promise`` (with ``date``), ``arrangement`` (with ``date``) and ``opted_out``
    (``channel``, default all) send the case back to its ladder; ``paid``, ``settled``,
    ``written_off``, ``fraud`` and ``dispute_upheld`` close it for good and cancel what was planned.
    """
    actions = _actions(request)
    try:
        channel = body.channel
        if channel is not None:
            known = [name for name in actions.intake.rt.registry.channels if name != "outbox"]
            channel = normalise_channel(channel, known)
        resolution = Resolution(Outcome(body.outcome), date=body.date, channel=channel, note=body.note)
        item = actions.resolve(case_id, resolution, _actor(request))
    except InputError as exc:
        raise input_problem(exc) from exc
    return _out(item, request, case_id)
