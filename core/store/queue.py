"""The work queue in the store: one open item per case held for a person, and the cases to search.

The scheduler writes each decided case's hold reason (the engine's hold
rule, when the hold waits for a person) and opens, re-labels or releases
the case's work item in the same transaction. A person's claim, assignment
and resolution are events; :meth:`WorkQueueMixin.apply_work_event` applies
them to the item inside the event's own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, tuple_, update
from sqlalchemy import case as sql_case

from dunning.core.domain.model import Event, EventKind
from dunning.core.domain.work import Outcome, WorkState
from dunning.core.errors import StateError
from dunning.core.store.schema import audit, cases, work_items
from dunning.core.store.webhooks import WebhookOutboxMixin
from dunning.core.webhooks.topics import Topic

__all__ = ["SYSTEM", "CaseRow", "QueueFilter", "WorkItem", "WorkQueueMixin"]

#: The actor of what the store does by itself (a hold that ended without a person's resolution).
SYSTEM = "system"
#: Most rows one page of a list may hold.
MAX_PAGE = 200


@dataclass(frozen=True)
class WorkItem:
    """One item of the queue, with what an agent sees of its case at a glance."""

    id: int
    case_id: str
    reason: str
    opened_at: datetime
    sla_due: datetime
    owner: str | None
    state: str
    outcome: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    call_status: str | None
    call_seconds: int | None
    debtor_id: str
    name: str
    phone: str | None
    locale: str
    amount_due: Decimal
    currency: str
    status: str

    def overdue(self, now: datetime) -> bool:
        return self.state != WorkState.RESOLVED and self.sla_due <= now


@dataclass(frozen=True)
class CaseRow:
    """A case as lists and searches show it."""

    case_id: str
    debtor_id: str
    name: str
    phone: str | None
    account: str
    locale: str
    status: str
    hold_reason: str | None
    held_since: datetime | None
    outcome: str | None
    amount_due: Decimal
    currency: str
    due_date: date
    segment: str | None
    ladder: str | None
    next_check_at: datetime | None


@dataclass(frozen=True)
class QueueFilter:
    """What a queue listing is narrowed to; None means any."""

    reason: str | None = None
    owner: str | None = None
    #: only items whose SLA deadline passed before this moment
    overdue_at: datetime | None = None
    #: include resolved items too
    resolved: bool = False


_ITEM_COLUMNS = (
    *work_items.c,
    cases.c.debtor_id,
    cases.c.name,
    cases.c.phone,
    cases.c.locale,
    cases.c.amount_due,
    cases.c.currency,
    cases.c.status,
)
_CASE_COLUMNS = [cases.c[name] for name in CaseRow.__dataclass_fields__]


def _item(row: Any) -> WorkItem:
    return WorkItem(**row._mapping)


class WorkQueueMixin(WebhookOutboxMixin):
    """Opening, acting on and listing work items; listing and searching cases."""

    # ------------------------------------------------------------ written by the scheduler

    def sync_holds(
        self,
        conn: Connection,
        holds: Sequence[tuple[str, str | None]],
        now: datetime,
        sla: Callable[[str], timedelta],
    ) -> list[str]:
        """Bring each decided case's work item in line with its hold reason; return the cases opened.

        A reason and no open item: open one (and tell the subscribers it was
        handed off). Another reason than the open item's: relabel it. No
        reason and an open item: the hold ended by itself (a payment, a resume
        from the CLI), so the item is released.
        """
        if not holds:
            return []
        wanted = dict(holds)
        open_now = {item.case_id: item for item in self._open_items(conn, list(wanted))}
        opened = []
        for case_id, reason in wanted.items():
            item = open_now.get(case_id)
            if reason and item is None:
                self._open(conn, case_id, reason, now, sla(reason))
                opened.append(case_id)
            elif reason and item is not None and item.reason != reason:
                conn.execute(
                    update(work_items)
                    .where(work_items.c.id == item.id)
                    .values(reason=reason, sla_due=item.opened_at + sla(reason))
                )
            elif not reason and item is not None:
                self.resolve_open_item(conn, case_id, Outcome.RELEASED, SYSTEM, now)
        return opened

    def _open(self, conn: Connection, case_id: str, reason: str, now: datetime, sla: timedelta) -> None:
        call = self._agent_call_since_last_item(conn, case_id)
        conn.execute(
            work_items.insert().values(
                case_id=case_id,
                reason=reason,
                opened_at=now,
                sla_due=now + sla,
                state=WorkState.OPEN,
                call_status=call[0] if call else None,
                call_seconds=call[1] if call else None,
            )
        )
        self.add_queue_audit(conn, case_id, "opened", reason, {"sla_due": (now + sla).isoformat()}, now)
        self.emit(conn, Topic.HANDED_OFF, case_id, {"reason": reason, "sla_due": now + sla}, now)

    def _agent_call_since_last_item(self, conn: Connection, case_id: str) -> tuple[str, int | None] | None:
        """A call to an agent recorded before the case's item opened (the tick comes after the call)."""
        since = conn.scalar(select(func.max(work_items.c.resolved_at)).where(work_items.c.case_id == case_id))
        query = select(audit.c.detail).where(
            audit.c.case_id == case_id, audit.c.kind == "queue", audit.c.action == "agent_call"
        )
        if since is not None:
            query = query.where(audit.c.at > since)
        detail = conn.scalar(query.order_by(audit.c.at.desc(), audit.c.id.desc()).limit(1))
        if not detail:
            return None
        return str(detail.get("status")), detail.get("seconds")

    def add_queue_audit(
        self,
        conn: Connection,
        case_id: str,
        action: str,
        rule: str | None,
        detail: dict[str, Any],
        now: datetime,
    ) -> None:
        conn.execute(
            audit.insert().values(
                at=now, case_id=case_id, kind="queue", action=action, rule=rule, detail=detail or None
            )
        )

    # ------------------------------------------------------------ a person's actions

    def apply_work_event(self, conn: Connection, event: Event, now: datetime) -> None:
        """Apply a claim, an assignment or a resolution to the case's open item."""
        case_id = event.case_id or ""
        if event.kind in (EventKind.CLAIM, EventKind.ASSIGN):
            where = [work_items.c.case_id == case_id, work_items.c.state != WorkState.RESOLVED]
            if event.kind == EventKind.CLAIM:  # a claim never takes an item from someone else
                where.append(or_(work_items.c.owner.is_(None), work_items.c.owner == event.text))
            done = conn.execute(
                update(work_items).where(*where).values(owner=event.text, state=WorkState.CLAIMED)
            )
            if not done.rowcount:
                raise self._not_workable(conn, case_id)
        elif event.kind == EventKind.RESOLVE and not self.resolve_open_item(
            conn, case_id, event.text or "", event.actor or SYSTEM, now
        ):
            raise self._not_workable(conn, case_id)

    def _not_workable(self, conn: Connection, case_id: str) -> StateError:
        """Why a claim or resolution cannot be done (raised inside its transaction: nothing is recorded)."""
        item = self.open_item(conn, case_id)
        if item is None:
            return StateError(f"case {case_id!r} is not in the work queue", field="case_id")
        return StateError(
            f"case {case_id!r} is already claimed by {item.owner}; assign it instead", field="owner"
        )

    def resolve_open_item(self, conn: Connection, case_id: str, outcome: str, by: str, now: datetime) -> bool:
        """Resolve the case's open item, if it has one; return whether it had."""
        done = conn.execute(
            update(work_items)
            .where(work_items.c.case_id == case_id, work_items.c.state != WorkState.RESOLVED)
            .values(state=WorkState.RESOLVED, outcome=outcome, resolved_by=by, resolved_at=now)
        )
        if done.rowcount and outcome == Outcome.RELEASED:
            self.add_queue_audit(conn, case_id, "released", None, {"by": by}, now)
        return bool(done.rowcount)

    def record_agent_call(
        self, conn: Connection, case_id: str, status: str, seconds: int | None, now: datetime
    ) -> None:
        """The debtor's call to an agent ended: on the timeline, and on the case's open item."""
        self.add_queue_audit(conn, case_id, "agent_call", status, {"status": status, "seconds": seconds}, now)
        conn.execute(
            update(work_items)
            .where(work_items.c.case_id == case_id, work_items.c.state != WorkState.RESOLVED)
            .values(call_status=status[:32], call_seconds=seconds)
        )

    def record_reveal(self, conn: Connection, case_id: str, field: str, user: str, now: datetime) -> None:
        """Someone saw a case's full phone or account number: who, when, which case and what."""
        conn.execute(
            audit.insert().values(
                at=now,
                case_id=case_id,
                kind="reveal",
                action=field[:32],
                rule=user[:256],
                detail={"by": user},
            )
        )

    # ------------------------------------------------------------ reading

    def _open_items(self, conn: Connection, case_ids: Sequence[str]) -> list[WorkItem]:
        out: list[WorkItem] = []
        for start in range(0, len(case_ids), 500):
            query = (
                select(*_ITEM_COLUMNS)
                .select_from(work_items.join(cases, cases.c.case_id == work_items.c.case_id))
                .where(
                    work_items.c.case_id.in_(list(case_ids[start : start + 500])),
                    work_items.c.state != WorkState.RESOLVED,
                )
            )
            out.extend(_item(row) for row in conn.execute(query))
        return out

    def open_item(self, conn: Connection, case_id: str) -> WorkItem | None:
        found = self._open_items(conn, [case_id])
        return found[0] if found else None

    def items_of(self, conn: Connection, case_id: str) -> list[WorkItem]:
        """Every item a case ever had, newest first."""
        query = (
            select(*_ITEM_COLUMNS)
            .select_from(work_items.join(cases, cases.c.case_id == work_items.c.case_id))
            .where(work_items.c.case_id == case_id)
            .order_by(work_items.c.opened_at.desc(), work_items.c.id.desc())
        )
        return [_item(row) for row in conn.execute(query)]

    def work_queue(
        self,
        conn: Connection,
        where: QueueFilter,
        *,
        after: tuple[datetime, int] | None = None,
        limit: int = 50,
    ) -> list[WorkItem]:
        """Items by SLA deadline (soonest first), then id: a stable order for cursor pages."""
        query = select(*_ITEM_COLUMNS).select_from(
            work_items.join(cases, cases.c.case_id == work_items.c.case_id)
        )
        if not where.resolved:
            query = query.where(work_items.c.state != WorkState.RESOLVED)
        if where.reason:
            query = query.where(work_items.c.reason == where.reason)
        if where.owner is not None:
            query = query.where(
                work_items.c.owner.is_(None) if where.owner == "" else work_items.c.owner == where.owner
            )
        if where.overdue_at is not None:
            query = query.where(work_items.c.sla_due <= where.overdue_at)
        if after is not None:
            query = query.where(tuple_(work_items.c.sla_due, work_items.c.id) > tuple_(after[0], after[1]))
        query = query.order_by(work_items.c.sla_due, work_items.c.id).limit(min(limit, MAX_PAGE))
        return [_item(row) for row in conn.execute(query)]

    def backlog(self, conn: Connection, now: datetime) -> list[tuple[str, int, int]]:
        """Open items per reason: (reason, open, past their SLA)."""
        overdue = func.sum(sql_case((work_items.c.sla_due <= now, 1), else_=0))
        rows = conn.execute(
            select(work_items.c.reason, func.count(), overdue)
            .where(work_items.c.state != WorkState.RESOLVED)
            .group_by(work_items.c.reason)
            .order_by(work_items.c.reason)
        )
        return [(reason, int(count), int(late or 0)) for reason, count, late in rows]

    def search_cases(
        self,
        conn: Connection,
        *,
        case_id: str | None = None,
        debtor_id: str | None = None,
        phone_last: str | None = None,
        status: str | None = None,
        reason: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[CaseRow]:
        """Cases matching every given criterion, by case id (a stable order for cursor pages)."""
        query = select(*_CASE_COLUMNS)
        conditions: list[Any] = []
        if case_id:
            conditions.append(cases.c.case_id == case_id)
        if debtor_id:
            conditions.append(cases.c.debtor_id == debtor_id)
        if phone_last:
            conditions.append(cases.c.phone.like(f"%{phone_last}"))
        if status:
            conditions.append(cases.c.status == status)
        if reason:
            conditions.append(cases.c.hold_reason == reason)
        if after is not None:
            conditions.append(cases.c.case_id > after)
        if conditions:
            query = query.where(and_(*conditions))
        query = query.order_by(cases.c.case_id).limit(min(limit, MAX_PAGE))
        return [CaseRow(**row._mapping) for row in conn.execute(query)]

    def case_row(self, conn: Connection, case_id: str) -> CaseRow | None:
        row = conn.execute(select(*_CASE_COLUMNS).where(cases.c.case_id == case_id)).first()
        return CaseRow(**row._mapping) if row is not None else None

    def hold_reasons(self, conn: Connection) -> list[str]:
        """Every reason the queue has seen, for filters (new reasons appear by themselves)."""
        return sorted(set(conn.scalars(select(work_items.c.reason).distinct())))
