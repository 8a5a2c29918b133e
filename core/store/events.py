"""Recording events, and withdrawing what they make obsolete in the same transaction.

A payment in full closes the case and cancels every pending intent of it; an
opt-out, a wrong number, a dispute or a reply cancels what it supersedes. The
case gate is held exclusively while this commits, so a delivery either
finished before, or sees the event in its re-check after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from dunning.core.domain.model import Event, EventKind
from dunning.core.domain.work import Outcome
from dunning.core.errors import ConflictError, InputError
from dunning.core.store.outbox import OutboxMixin
from dunning.core.store.promises import PromisesMixin
from dunning.core.store.queue import SYSTEM, WorkQueueMixin
from dunning.core.store.schema import cases, contact_points, debtors, events, intents
from dunning.core.webhooks.topics import Topic

__all__ = ["EventsMixin", "Recorded", "event_values"]

#: Events that concern the person's contact points, not one loan.
_DEBTOR_WIDE = (
    EventKind.OPT_OUT,
    EventKind.OPT_IN,
    EventKind.CONSENT,
    EventKind.WRONG_NUMBER,
    EventKind.INVALID_CONTACT,
)
#: Who a person- or number-wide event reaches: its debtor, and the contact point it was recorded on.
Reach = tuple[str, str | None]
#: Rights recorded on a contact point: they bind everyone who shares it.
_ON_CONTACT_POINT = (EventKind.OPT_OUT, EventKind.OPT_IN, EventKind.CONSENT, EventKind.INVALID_CONTACT)


def _reach_key(event: Event, debtor_of: Mapping[str, str]) -> Reach | None:
    if event.kind not in _DEBTOR_WIDE:
        return None
    address = event.address if event.kind in _ON_CONTACT_POINT else None
    return debtor_of[event.case_id or ""], address


#: Events that change nothing planned: a resume, a request for help, an opt-in (the engine plans
#: anew), and a person's work on the queue (a claim, an assignment, a note, a resolution).
_KEEPS_PLANS = (
    EventKind.RESUME,
    EventKind.HELP,
    EventKind.OPT_IN,
    EventKind.CONSENT,
    EventKind.CLAIM,
    EventKind.ASSIGN,
    EventKind.NOTE,
    EventKind.RESOLVE,
)
#: Work on the queue, applied to the case's work item.
_WORK = (EventKind.CLAIM, EventKind.ASSIGN, EventKind.RESOLVE)
#: Statuses a case never leaves by itself: nothing wakes it.
FINAL = ("paid", "closed")
_ALL = (None, "", "all", "any")


@dataclass
class Recorded:
    """What recording an event did."""

    event: Event
    duplicate: bool = False
    cancelled: list[str] = field(default_factory=list)
    status: str | None = None
    debtor_id: str | None = None


class EventsMixin(OutboxMixin, WorkQueueMixin, PromisesMixin):
    """Operations on events."""

    @contextlib.contextmanager
    def stop_transaction(self, case_ids: Sequence[str]) -> Iterator[Connection]:
        """A write transaction holding the case gate of each case exclusively."""
        ids = sorted(set(case_ids))
        if self.dialect == "postgresql":
            # Transaction locks, taken before any row is touched.
            with self.write() as conn, self.gate.exclusive(conn, ids):
                yield conn
            return
        # SQLite: the gate first, then the write lock, as deliveries take them. The file gate
        # needs no connection: holding one while waiting for the gate would starve the pool.
        with self.gate.exclusive(None, ids), self.write() as conn:
            yield conn

    def record_event(self, event: Event, *, source: str, now: datetime) -> Recorded:
        """Record one event for ``event.case_id`` and withdraw what it supersedes."""
        return self.record_events([[event]], source=source, now=now)[0][0]

    def record_events(
        self,
        groups: Sequence[Sequence[Event]],
        *,
        source: str,
        now: datetime,
        debtors: Mapping[str, str] | None = None,
    ) -> list[list[Recorded]]:
        """Record every group of events in one transaction: all of them, or none.

        A group is an event and what it implies (a reply, then the opt-out it
        says): when its first event is a retry of one already recorded, the
        rest were recorded with it and are not recorded again. An id recorded
        before with another content raises ``ConflictError`` and records nothing.
        ``debtors`` (case id to debtor id), when the caller has just read the
        cases, spares a read of them here.
        """
        flat = [event for group in groups for event in group]
        if not flat:
            return []
        for event in flat:
            if not event.case_id:
                raise InputError("is required", field="case_id")
        debtor_of, reach = self._gated_cases(flat, debtors or {})
        gated = sorted({c for e in flat for c in self._gated_for(e, debtor_of, reach)})
        for attempt in (1, 2):
            try:
                with self.stop_transaction(gated) as conn:
                    return [
                        self._record_group(conn, group, debtor_of, reach, source, now) for group in groups
                    ]
            except IntegrityError:
                # The same id recorded by a concurrent request between our check and our insert:
                # the second attempt finds it and answers as a retry (or a conflict) would.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _gated_cases(
        self, batch: Sequence[Event], known: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[Reach, list[str]]]:
        """Each event's debtor, and the cases each person- or number-wide event reaches.

        An opt-out reaches every case of its debtor and, when it was recorded on
        a contact point, every case of everyone who shares that point. With every
        debtor ``known`` and no such event, nothing is read.
        """
        ids = sorted({e.case_id or "" for e in batch})
        if all(case_id in known for case_id in ids) and not any(e.kind in _DEBTOR_WIDE for e in batch):
            return {case_id: known[case_id] for case_id in ids}, {}
        with self.read() as conn:
            debtor_of: dict[str, str] = {}
            for start in range(0, len(ids), 500):
                query = select(cases.c.case_id, cases.c.debtor_id).where(
                    cases.c.case_id.in_(ids[start : start + 500])
                )
                debtor_of.update((row.case_id, row.debtor_id) for row in conn.execute(query))
            unknown = [case_id for case_id in ids if case_id not in debtor_of]
            if unknown:
                raise InputError(f"unknown case {unknown[0]!r}", field="case_id")
            reach: dict[Reach, list[str]] = {}
            for event in batch:
                key = _reach_key(event, debtor_of)
                if key is not None and key not in reach:
                    reach[key] = self._reached(conn, *key)
        return debtor_of, reach

    def _reached(self, conn: Connection, debtor_id: str, address: str | None) -> list[str]:
        debtors = {debtor_id}
        if address is not None:
            debtors |= set(
                conn.scalars(select(contact_points.c.debtor_id).where(contact_points.c.address == address))
            )
            debtors |= set(
                conn.scalars(
                    select(cases.c.debtor_id).where(
                        or_(cases.c.phone == address, cases.c.push_token == address)
                    )
                )
            )
        return sorted(conn.scalars(select(cases.c.case_id).where(cases.c.debtor_id.in_(sorted(debtors)))))

    @staticmethod
    def _gated_for(event: Event, debtor_of: Mapping[str, str], reach: Mapping[Reach, list[str]]) -> list[str]:
        key = _reach_key(event, debtor_of)
        case_id = event.case_id or ""
        return reach.get(key, [case_id]) if key is not None else [case_id]

    def _record_group(
        self,
        conn: Connection,
        group: Sequence[Event],
        debtor_of: Mapping[str, str],
        reach: Mapping[Reach, list[str]],
        source: str,
        now: datetime,
    ) -> list[Recorded]:
        out: list[Recorded] = []
        for index, event in enumerate(group):
            debtor_id = debtor_of[event.case_id or ""]
            if index > 0 and out[0].duplicate:
                out.append(Recorded(event, duplicate=True, debtor_id=debtor_id))
                continue
            gated = self._gated_for(event, debtor_of, reach)
            out.append(self.record_event_in(conn, event, debtor_id, gated, source=source, now=now))
        return out

    def record_provider_event(self, conn: Connection, event: Event, *, now: datetime) -> Recorded:
        """Record what a provider reported inside the caller's transaction (the caller holds the gate)."""
        debtor_id = conn.scalar(select(cases.c.debtor_id).where(cases.c.case_id == event.case_id))
        if debtor_id is None:
            raise InputError(f"unknown case {event.case_id!r}", field="case_id")
        key = _reach_key(event, {event.case_id or "": debtor_id})
        reached = self._reached(conn, *key) if key is not None else [event.case_id or ""]
        return self.record_event_in(conn, event, debtor_id, reached, source="provider", now=now)

    def record_event_in(
        self,
        conn: Connection,
        event: Event,
        debtor_id: str,
        debtor_cases: list[str],
        *,
        source: str,
        now: datetime,
    ) -> Recorded:
        """Record an event inside the caller's transaction (the caller holds the gate)."""
        if event.event_id:
            seen = conn.execute(
                select(events.c.kind, events.c.case_id, events.c.fingerprint, events.c.recorded_at).where(
                    events.c.event_id == event.event_id
                )
            ).first()
            if seen is not None:
                if seen.fingerprint and event.fingerprint and seen.fingerprint != event.fingerprint:
                    raise _conflict(event.event_id, seen)
                return Recorded(event, duplicate=True, debtor_id=debtor_id)
        conn.execute(insert(events).values(**event_values(event, debtor_id, source, now)))
        recorded = self._apply(conn, event, debtor_id, debtor_cases, now)
        self.add_audit(
            conn,
            [
                {
                    "at": event.at,
                    "case_id": event.case_id,
                    "kind": "event",
                    "action": str(event.kind),
                    "channel": event.channel,
                    "rule": source,
                    "detail": _event_detail(event),
                }
            ],
        )
        return recorded

    def _apply(
        self, conn: Connection, event: Event, debtor_id: str, debtor_cases: list[str], now: datetime
    ) -> Recorded:
        case_id = event.case_id or ""
        recorded = Recorded(event, debtor_id=debtor_id)
        kind = event.kind
        if kind == EventKind.PAYMENT:
            case = conn.execute(
                select(
                    cases.c.status,
                    cases.c.amount_due,
                    cases.c.amount_as_of,
                    cases.c.due_date,
                    cases.c.promise_until,
                ).where(cases.c.case_id == case_id)
            ).one()
            if case.status in FINAL:
                recorded.status = case.status  # recorded, but it settles nothing new: no second cure
                return recorded
            if self._settled(conn, case_id, event, case):
                recorded.cancelled = self.cancel_where(
                    conn, intents.c.case_id == case_id, reason="paid", now=now
                )
                conn.execute(
                    update(cases)
                    .where(cases.c.case_id == case_id)
                    .values(
                        status="paid",
                        next_check_at=None,
                        closed_at=now,
                        updated_at=now,
                        hold_reason=None,
                        held_since=None,
                    )
                )
                self._count_cure(conn, case_id, debtor_id, event, case)
                self.resolve_open_item(conn, case_id, Outcome.PAID, event.actor or SYSTEM, now)
                self.emit(conn, Topic.PAID, case_id, {"amount": event.amount, "outcome": "paid"}, now)
                recorded.status = "paid"
                return recorded
        elif kind in (EventKind.OPT_OUT, EventKind.INVALID_CONTACT):
            # Everything planned for the people it reaches on that channel: the engine plans anew.
            where: list[Any] = [intents.c.case_id.in_(debtor_cases)]
            if event.channel not in _ALL:
                where.append(intents.c.channel == event.channel)
            recorded.cancelled = self.cancel_where(conn, *where, reason=str(kind), now=now)
            if kind == EventKind.OPT_OUT:  # on the person, or on a contact point (the number it came from)
                scope = "person" if event.address is None else "contact_point"
                self.emit(
                    conn, Topic.OPTED_OUT, case_id, {"channel": event.channel or "all", "scope": scope}, now
                )
        elif kind == EventKind.CLOSE:
            return self._close(conn, event, recorded, now)
        elif kind == EventKind.WRONG_NUMBER:
            recorded.cancelled = self.cancel_where(
                conn, intents.c.debtor_id == debtor_id, reason=str(kind), now=now
            )
        elif kind not in _KEEPS_PLANS:
            # A dispute, hand-off, reply, acknowledgement, promise or conversation
            # supersedes what was planned for this case; the engine plans anew.
            recorded.cancelled = self.cancel_where(
                conn, intents.c.case_id == case_id, reason=str(kind), now=now
            )
            if kind == EventKind.DISPUTE:
                self.emit(conn, Topic.DISPUTED, case_id, {"at": event.at, "channel": event.channel}, now)
        elif kind in _WORK:
            self.apply_work_event(conn, event, now)
        woken = debtor_cases if kind in _DEBTOR_WIDE else [case_id]
        conn.execute(
            update(cases)
            .where(cases.c.case_id.in_(woken), cases.c.status.not_in(FINAL))
            .values(next_check_at=now, updated_at=now)
        )
        return recorded

    def _close(self, conn: Connection, event: Event, recorded: Recorded, now: datetime) -> Recorded:
        """A person closed the case for good: nothing is sent again, whatever arrives later."""
        case_id = event.case_id or ""
        outcome = event.text or "closed"
        recorded.cancelled = self.cancel_where(conn, intents.c.case_id == case_id, reason="closed", now=now)
        conn.execute(
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(
                status="closed",
                outcome=outcome[:32],
                next_check_at=None,
                closed_at=now,
                updated_at=now,
                hold_reason=None,
                held_since=None,
            )
        )
        if outcome == Outcome.PAID:
            self.emit(conn, Topic.PAID, case_id, {"outcome": outcome, "by": event.actor}, now)
        recorded.status = "closed"
        return recorded

    def _settled(self, conn: Connection, case_id: str, event: Event, row: Any) -> bool:
        """Whether the payments recorded so far (this one included) cover the amount."""
        if event.amount is None or event.full:
            return True
        query = select(events.c.amount).where(events.c.case_id == case_id, events.c.kind == EventKind.PAYMENT)
        if row.amount_as_of is not None:
            query = query.where(events.c.at > row.amount_as_of)
        paid = sum((amount or Decimal(0) for amount in conn.scalars(query)), Decimal(0))
        return bool(paid >= row.amount_due)

    def _count_cure(self, conn: Connection, case_id: str, debtor_id: str, event: Event, case: Any) -> None:
        """Keep the debtor's repayment history for segment conditions."""
        due, until = case.due_date, case.promise_until
        promised = conn.scalar(
            select(func.max(events.c.date)).where(
                events.c.case_id == case_id, events.c.kind == EventKind.PROMISE
            )
        )
        values: dict[str, Any] = {
            "previous_cures": debtors.c.previous_cures + 1,
            "days_to_pay_last": max(0, (event.at.date() - due).days) if due else None,
            "updated_at": event.at,
        }
        if promised is not None and event.at.date() <= promised:
            values["kept_promises"] = debtors.c.kept_promises + 1
        if until is not None and event.at > until:
            values["broken_promises"] = debtors.c.broken_promises + 1  # paid after the promise ran out
        conn.execute(update(debtors).where(debtors.c.debtor_id == debtor_id).values(**values))
        if until is not None:
            conn.execute(update(cases).where(cases.c.case_id == case_id).values(promise_until=None))

    def events_for(self, conn: Connection, case_id: str) -> list[Any]:
        return list(conn.execute(select(events).where(events.c.case_id == case_id).order_by(events.c.at)))


def _conflict(event_id: str, seen: Any) -> ConflictError:
    stored = {
        "event_id": event_id.partition(":")[2] or event_id,
        "kind": str(seen.kind),
        "case_id": str(seen.case_id),
        "recorded_at": seen.recorded_at.isoformat().replace("+00:00", "Z"),
    }
    return ConflictError(
        f"already recorded with another content: a {stored['kind']} for case {stored['case_id']!r}"
        f" at {stored['recorded_at']}; send a new event id for a new event",
        stored=stored,
    )


def event_values(event: Event, debtor_id: str, source: str, now: datetime) -> dict[str, Any]:
    """An event as a row of the events table."""
    return {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "debtor_id": debtor_id,
        "kind": str(event.kind),
        "at": event.at,
        "amount": event.amount,
        "full": event.full,
        "date": event.date,
        "channel": event.channel,
        "text": event.text,
        "address": event.address,
        "intent_id": event.intent_id,
        "reason": event.reason,
        "source": source,
        "recorded_at": now,
        "fingerprint": event.fingerprint,
        "actor": event.actor,
    }


def _event_detail(event: Event) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if event.amount is not None:
        detail["amount"] = str(event.amount)
    if event.date is not None:
        detail["date"] = event.date.isoformat()
    if event.intent_id:
        detail["intent_id"] = event.intent_id
    if event.actor:
        detail["actor"] = event.actor
    if event.kind in _NOTED and event.text:
        detail["text"] = event.text[:500]
    return detail


#: Events whose text a person wrote for other people: shown on the timeline (a debtor's reply is not).
_NOTED = (EventKind.CLAIM, EventKind.ASSIGN, EventKind.NOTE, EventKind.RESOLVE, EventKind.CLOSE)
