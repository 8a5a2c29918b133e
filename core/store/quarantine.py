"""Quarantine: cases whose decision or rendering failed, parked with their error and retried later.

One case that cannot be decided (a bad date, a condition that divides by
zero, a template that raises) must never stop the tick for everyone else.
It is parked: its error is kept (type and message, personal data masked),
the timeline shows it, and the scheduler tries it again with growing
pauses. A success releases it; an operator may release it at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy import case as sql_case

from dunning.core.content.masking import redact
from dunning.core.domain.model import Case
from dunning.core.store.cases import LIVE
from dunning.core.store.schema import audit, cases
from dunning.core.store.webhooks import WebhookOutboxMixin
from dunning.core.webhooks.topics import Topic

__all__ = ["Fault", "QuarantineMixin", "QuarantinedCase", "describe", "retry_after"]

#: The first retry of a quarantined case; each further failure doubles it.
FIRST_RETRY = timedelta(minutes=5)
#: The longest pause between two retries of a quarantined case.
LONGEST_RETRY = timedelta(hours=6)


def describe(error: BaseException, case: Case | None = None) -> str:
    """``ErrorType: message`` with the case's personal data and any long number masked."""
    secrets: list[str | None] = []
    if case is not None:
        secrets = [case.name, case.phone, case.account, case.push_token, *case.contacts.values()]
    return redact(f"{type(error).__name__}: {error}", secrets)


def retry_after(faults: int) -> timedelta:
    """How long a case that failed ``faults`` times in a row waits before the next try."""
    return min(FIRST_RETRY * (1 << min(max(faults - 1, 0), 20)), LONGEST_RETRY)


@dataclass(frozen=True)
class Fault:
    """One case that failed: where (``decide``, ``write``, ``render``, ...) and why, already masked."""

    case_id: str
    stage: str
    error: str
    #: the case's version as the failing stage read it (None: write whatever it is now)
    version: datetime | None = None


@dataclass(frozen=True)
class QuarantinedCase:
    case_id: str
    debtor_id: str
    status: str
    faults: int
    fault: str
    quarantined_at: datetime
    next_check_at: datetime | None


class QuarantineMixin(WebhookOutboxMixin):
    """Parking, listing and releasing failed cases."""

    def quarantine(self, conn: Connection, faults: Sequence[Fault], now: datetime) -> list[str]:
        """Park each case with its error; return the cases parked (one changed since is left alone)."""
        parked = []
        for fault in faults:
            where = [cases.c.case_id == fault.case_id]
            if fault.version is not None:
                where.append(cases.c.updated_at == fault.version)
            count = conn.scalar(select(cases.c.faults).where(*where))
            if count is None:
                continue
            tries = int(count) + 1
            retry_at = now + retry_after(tries)
            conn.execute(
                update(cases)
                .where(*where)
                .values(
                    faults=tries,
                    fault=f"{fault.stage}: {fault.error}"[:512],
                    quarantined_at=func.coalesce(cases.c.quarantined_at, now),
                    next_check_at=retry_at,
                    updated_at=now,
                )
            )
            self._quarantine_audit(conn, fault, tries, retry_at, now)
            if tries == 1:  # once per spell in quarantine, not at every failed retry
                data = {"stage": fault.stage, "error": fault.error, "retry_at": retry_at}
                self.emit(conn, Topic.QUARANTINED, fault.case_id, data, now)
            parked.append(fault.case_id)
        return parked

    def _quarantine_audit(
        self, conn: Connection, fault: Fault, tries: int, retry_at: datetime, now: datetime
    ) -> None:
        conn.execute(
            audit.insert().values(
                at=now,
                case_id=fault.case_id,
                kind="case",
                action="quarantined",
                rule=fault.stage,
                detail={"error": fault.error, "failures": tries, "retry_at": retry_at.isoformat()},
            )
        )

    def recovered(self, conn: Connection, case_ids: Sequence[str], now: datetime) -> None:
        """Clear the quarantine of cases that were just decided without error."""
        if not case_ids:
            return
        conn.execute(
            update(cases)
            .where(cases.c.case_id.in_(list(case_ids)))
            .values(faults=0, fault=None, quarantined_at=None)
        )
        conn.execute(
            audit.insert(),
            [
                {
                    "at": now,
                    "case_id": case_id,
                    "kind": "case",
                    "action": "released",
                    "rule": "recovered",
                    "detail": None,
                }
                for case_id in case_ids
            ],
        )

    def quarantined(self, conn: Connection, *, limit: int = 1000) -> list[QuarantinedCase]:
        """The parked cases, longest parked first."""
        rows = conn.execute(
            select(
                cases.c.case_id,
                cases.c.debtor_id,
                cases.c.status,
                cases.c.faults,
                cases.c.fault,
                cases.c.quarantined_at,
                cases.c.next_check_at,
            )
            .where(cases.c.quarantined_at.is_not(None))
            .order_by(cases.c.quarantined_at, cases.c.case_id)
            .limit(limit)
        )
        return [QuarantinedCase(**row._mapping) for row in rows]

    def count_quarantined(self, conn: Connection) -> int:
        return int(conn.scalar(select(func.count()).where(cases.c.quarantined_at.is_not(None))) or 0)

    def release(
        self, conn: Connection, case_ids: Sequence[str] | None, now: datetime, *, by: str
    ) -> list[str]:
        """Release parked cases (all of them when ``case_ids`` is None): decided again at once."""
        where: list[Any] = [cases.c.quarantined_at.is_not(None)]
        if case_ids is not None:
            where.append(cases.c.case_id.in_(list(case_ids)))
        released = list(conn.scalars(select(cases.c.case_id).where(*where)))
        if not released:
            return []
        conn.execute(
            update(cases)
            .where(cases.c.case_id.in_(released))
            .values(
                faults=0,
                fault=None,
                quarantined_at=None,
                updated_at=now,
                next_check_at=_now_if_live(now),
            )
        )
        conn.execute(
            audit.insert(),
            [
                {
                    "at": now,
                    "case_id": case_id,
                    "kind": "case",
                    "action": "released",
                    "rule": by,
                    "detail": None,
                }
                for case_id in released
            ],
        )
        return released


def _now_if_live(now: datetime) -> Any:
    return sql_case((cases.c.status.in_(LIVE), now), else_=cases.c.next_check_at)
