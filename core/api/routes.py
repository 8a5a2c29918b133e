"""The lender-facing API: events, cases, timelines, push acknowledgements."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from dunning.core.api.auth import require_token
from dunning.core.api.paging import decode_cursor, encode_cursor, strict_query
from dunning.core.api.problems import unprocessable
from dunning.core.api.schemas import (
    CaseIn,
    CaseOut,
    CasePage,
    CasesIn,
    CaseSummary,
    EventIn,
    EventResult,
    EventsIn,
    Problem,
    PushAckIn,
    WorkItemOut,
)
from dunning.core.content.masking import mask_address, mask_phone
from dunning.core.domain.engine import outstanding
from dunning.core.domain.model import Case, Event
from dunning.core.domain.zones import candidate_zones
from dunning.core.errors import ConflictError, InputError
from dunning.core.intake.aliases import normalise_channel
from dunning.core.intake.keys import Namespace, client_id, fingerprint, namespaced
from dunning.core.intake.records import case_to_json, parse_case, parse_event
from dunning.core.intake.service import Intake
from dunning.core.reporting.timeline import timeline
from dunning.core.store.queue import CaseRow, WorkItem

__all__ = ["router", "work_item_out"]

#: Statuses the OpenAPI description documents besides 200 and 422 (clients and fuzzers rely on it).
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or unknown bearer token"}
}
_NOT_JSON: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not UTF-8 text, so not JSON"}
}
_NO_CASE: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such case"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The event id was already used for another event (the body names it)"}
}
_BUSY: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests at once: retry after Retry-After seconds"},
    503: {"description": "The store is busy or unavailable: retry after Retry-After seconds"},
}

#: A case id in a path: any text a store can hold (PostgreSQL refuses NUL).
CaseId = Annotated[str, Path(pattern=r"^[^\x00]+$")]

router = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], responses=_UNAUTHORIZED)


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _event(item: EventIn, now: datetime, loc: tuple[Any, ...], known: Collection[str]) -> Event:
    """One event of a request, its channel normalised and its id in the API's namespace."""
    body = item.model_dump(mode="json", exclude_none=True)
    try:
        event = parse_event(body, default_at=now)
        channel = normalise_channel(event.channel, known)
    except InputError as exc:
        raise unprocessable([((*loc, exc.field or "event"), str(exc))]) from exc
    return replace(
        event,
        channel=channel,
        event_id=namespaced(Namespace.API, event.event_id),
        fingerprint=fingerprint(body),
    )


def _past_promise(event: Event, case: Case, policy: Any, now: datetime) -> bool:
    """A promise dated before the debtor's today: a record of the past, not a promise."""
    if event.kind != "promise" or event.date is None:
        return False
    zone = candidate_zones(case.timezone, case.phone, policy.default_timezone)[-1]
    return event.date < now.astimezone(zone).date()


def conflict(exc: ConflictError) -> HTTPException:
    """409: the id names another event; the body says which (RFC 9457 problem details)."""
    return HTTPException(
        status_code=409,
        detail={
            "title": "event id already used",
            "detail": str(exc),
            "field": exc.field,
            "stored": exc.stored,
        },
    )


@router.post(
    "/events",
    response_model=list[EventResult],
    responses={**_NOT_JSON, **_CONFLICT, **_BUSY},
    summary="Record events (one, or a batch)",
    operation_id="record_events",
    tags=["events"],
)
def post_events(body: EventIn | EventsIn, request: Request) -> list[EventResult]:
    """Payments, promises, disputes, opt-outs, acknowledgements, replies. Idempotent by ``event_id``.

    A batch is all-or-nothing: if any event is invalid or names an unknown
    case, none is recorded and the 422 names each bad one's index and field.
    The same ``event_id`` sent again with the same content is answered as a
    duplicate; with another content, 409 names the event recorded under it.
    """
    intake = _intake(request)
    now = intake.rt.now()
    known = [name for name in intake.rt.registry.channels if name != "outbox"]
    batch = isinstance(body, EventsIn)
    items = body.events if isinstance(body, EventsIn) else [body]
    prefix: tuple[Any, ...] = ("body", "events") if batch else ("body",)

    def loc(i: int, *rest: str) -> tuple[Any, ...]:
        return (*prefix, i, *rest) if batch else (*prefix, *rest)

    parsed = [_event(item, now, loc(i), known) for i, item in enumerate(items)]
    with intake.rt.store.read() as conn:
        loaded = intake.rt.store.load_cases(conn, {e.case_id or "" for e in parsed})
    errors = []
    for i, event in enumerate(parsed):
        found = loaded.get(event.case_id or "")
        if found is None:
            errors.append((loc(i, "case_id"), f"unknown case {event.case_id!r}"))
        elif _past_promise(event, found[0], intake.rt.policy, now):
            errors.append((loc(i, "date"), "a promise to pay must be dated today or later"))
    if errors:
        raise unprocessable(errors)
    groups: list[list[Event]] = []
    readings: list[Any] = []
    for event in parsed:
        case = loaded[event.case_id or ""][0]
        if event.kind == "reply" and event.text:
            found_kind, group = intake.reply_events(
                case,
                event.text,
                at=event.at,
                channel=event.channel or "sms",
                event_id=event.event_id,
                fingerprint=event.fingerprint,
            )
            readings.append(found_kind)
            groups.append(group)
        else:
            readings.append(None)
            groups.append([event])
    try:
        debtors = {case_id: case.debtor_id for case_id, (case, _) in loaded.items()}
        recorded = intake.record_groups(groups, source="api", debtors=debtors)
    except ConflictError as exc:
        raise conflict(exc) from exc
    results = []
    for event, found_kind, done in zip(parsed, readings, recorded, strict=True):
        if found_kind is not None and not done[0].duplicate:
            intake.follow_up(
                loaded[event.case_id or ""][0], found_kind, event.at, event.channel or "sms", event.event_id
            )
        cancelled = sum(len(r.cancelled) for r in done)
        status = next((r.status for r in reversed(done) if r.status), None)
        results.append(_result(event, done[0].duplicate, cancelled, status))
    return results


def _result(event: Event, duplicate: bool, cancelled: int, status: str | None) -> EventResult:
    return EventResult(
        event_id=client_id(event.event_id),
        case_id=event.case_id or "",
        kind=str(event.kind),
        status="duplicate" if duplicate else "recorded",
        cancelled=cancelled,
        case_status=status,
    )


@router.post(
    "/cases",
    responses=_NOT_JSON,
    summary="Create or update cases (one, or a batch)",
    operation_id="upsert_cases",
    tags=["cases"],
)
def post_cases(body: CaseIn | CasesIn, request: Request) -> dict[str, int]:
    """Upsert by ``case_id`` with the import's validation; a batch is all-or-nothing.

    ``attributes`` are checked against the types the policy declares; a value
    of another type, or a name it does not declare, is a 422 naming it.
    """
    intake = _intake(request)
    declared = intake.rt.policy.attributes
    items = body.cases if isinstance(body, CasesIn) else [body]
    parsed, errors = [], []
    for i, item in enumerate(items):
        loc: tuple[Any, ...] = ("body", "cases", i) if isinstance(body, CasesIn) else ("body",)
        try:
            row = item.model_dump(mode="json", exclude_none=True)
            if item.attributes is not None:
                row["attributes"] = dict(item.attributes)  # a null clears a stored value
            parsed.append(parse_case(row, attributes=declared))
        except InputError as exc:
            errors.append(((*loc, *(exc.field or "case").split(".", 1)), str(exc)))
    if errors:
        raise unprocessable(errors)
    with intake.rt.store.write() as conn:
        result = intake.rt.store.upsert_cases(conn, parsed, intake.rt.now())
    return {"inserted": result.inserted, "updated": result.updated}


@router.get(
    "/cases",
    response_model=CasePage,
    summary="List and search cases",
    operation_id="list_cases",
    tags=["cases"],
    dependencies=[
        Depends(
            strict_query("case_id", "debtor_id", "phone_last", "status", "hold_reason", "cursor", "limit")
        )
    ],
)
def list_cases(
    request: Request,
    case_id: Annotated[str | None, Query(max_length=128)] = None,
    debtor_id: Annotated[str | None, Query(max_length=128)] = None,
    phone_last: Annotated[
        str | None, Query(pattern=r"^[0-9]{2,15}$", description="The last digits of the phone (2 or more)")
    ] = None,
    status: Annotated[
        str | None, Query(max_length=16, description="open, held, stopped, paid, closed")
    ] = None,
    hold_reason: Annotated[str | None, Query(max_length=64, description="dispute, handoff, ...")] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Cases matching every filter given, by case id; ``next_cursor`` pages through the rest."""
    store = _intake(request).rt.store
    after = decode_cursor(cursor, 1)
    with store.read() as conn:
        rows = store.search_cases(
            conn,
            case_id=_storable(case_id),
            debtor_id=_storable(debtor_id),
            phone_last=phone_last,
            status=_storable(status),
            reason=_storable(hold_reason),
            after=str(after[0]) if after else None,
            limit=limit + 1,
        )
    page = rows[:limit]
    return CasePage(
        items=[_summary(row) for row in page],
        next_cursor=encode_cursor(page[-1].case_id) if len(rows) > limit else None,
    )


def _storable(value: str | None) -> str | None:
    """A query value as a filter: text PostgreSQL cannot hold (NUL) matches nothing rather than fail."""
    if value is not None and "\x00" in value:
        raise unprocessable([(("query", "value"), "cannot contain NUL characters")])
    return value


def _summary(row: CaseRow) -> CaseSummary:
    return CaseSummary(
        case_id=row.case_id,
        debtor_id=row.debtor_id,
        phone=mask_phone(row.phone),
        status=row.status,
        hold_reason=row.hold_reason,
        held_since=row.held_since,
        outcome=row.outcome,
        amount_due=str(row.amount_due),
        currency=row.currency,
        due_date=row.due_date,
        segment=row.segment,
    )


@router.get(
    "/cases/{case_id}",
    response_model=CaseOut,
    responses=_NO_CASE,
    summary="A case, its status and what it still owes",
    operation_id="get_case",
    tags=["cases"],
)
def get_case(case_id: CaseId, request: Request) -> CaseOut:
    intake = _intake(request)
    store = intake.rt.store
    with store.read() as conn:
        loaded = store.load_cases(conn, [case_id]).get(case_id)
        row = store.case_row(conn, case_id)
        if loaded is None or row is None:
            raise HTTPException(status_code=404, detail=f"no case {case_id!r}")
        history = store.histories(conn, [loaded[0]])[case_id]
        item = store.open_item(conn, case_id)
    case = loaded[0]
    owed, _ = outstanding(case, [e for e in history.events if e.at <= datetime.now(UTC)])
    return CaseOut(
        case_id=case_id,
        debtor_id=case.debtor_id,
        status=row.status,
        segment=row.segment,
        ladder=row.ladder,
        amount_due=str(case.amount_due),
        outstanding=str(max(owed, 0)),
        currency=case.currency,
        due_date=case.due_date,
        next_check_at=row.next_check_at,
        hold_reason=row.hold_reason,
        held_since=row.held_since,
        outcome=row.outcome,
        work_item=work_item_out(item, intake.rt.now()) if item else None,
        case=case_to_json(case),
    )


def work_item_out(item: WorkItem, now: datetime) -> WorkItemOut:
    """A work item as the API shows it (the phone masked)."""
    return WorkItemOut(
        id=item.id,
        case_id=item.case_id,
        reason=item.reason,
        state=item.state,  # type: ignore[arg-type]
        opened_at=item.opened_at,
        sla_due=item.sla_due,
        overdue=item.overdue(now),
        owner=item.owner,
        outcome=item.outcome,
        resolved_by=item.resolved_by,
        resolved_at=item.resolved_at,
        call_status=item.call_status,
        call_seconds=item.call_seconds,
        debtor_id=item.debtor_id,
        phone=mask_phone(item.phone),
        amount_due=str(item.amount_due),
        currency=item.currency,
        case_status=item.status,
    )


@router.get(
    "/cases/{case_id}/timeline",
    responses=_NO_CASE,
    summary="Every decision, reminder and event of a case",
    operation_id="get_case_timeline",
    tags=["cases"],
)
def get_timeline(case_id: CaseId, request: Request) -> list[dict[str, Any]]:
    entries = timeline(_intake(request).rt.store, case_id)
    if entries is None:
        raise HTTPException(status_code=404, detail=f"no case {case_id!r}")
    return [entry.to_json() for entry in entries]


@router.get(
    "/debtors/{debtor_id}",
    operation_id="get_debtor",
    tags=["debtors"],
    responses={404: {"model": Problem, "description": "No such debtor"}},
    summary="A person's standing: their loans, contact points and the rights recorded on them",
)
def get_debtor(debtor_id: CaseId, request: Request) -> dict[str, Any]:
    """Opt-outs per channel, cease, wrong numbers and consents, on the person and on each number.

    Numbers and tokens are masked; ``shared_with`` names other debtors at the same number.
    """
    rt = _intake(request).rt
    store = rt.store
    kinds = {name: cls.spec().contact_kind for name, cls in rt.registry.channels.items() if name != "outbox"}
    with store.read() as conn:
        found = store.standing_of(conn, debtor_id, kinds)
        loans = store.cases_of_debtor(conn, debtor_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no debtor {debtor_id!r}")
    return {**found.to_json(mask_address), "cases": [{"case_id": c, "status": s} for c, s in loans]}


@router.post(
    "/push/ack",
    response_model=EventResult,
    responses={**_NOT_JSON, **_CONFLICT},
    summary="The debtor opened a reminder push",
    operation_id="acknowledge_push",
    tags=["events"],
)
def push_ack(body: PushAckIn, request: Request) -> EventResult:
    intake = _intake(request)
    try:
        recorded = intake.push_ack(body.intent_id, at=body.at or intake.rt.now(), event_id=body.event_id)
    except ConflictError as exc:
        raise conflict(exc) from exc
    except InputError as exc:
        raise unprocessable([(("body", exc.field or "intent_id"), str(exc))]) from exc
    return _result(recorded.event, recorded.duplicate, len(recorded.cancelled), recorded.status)
