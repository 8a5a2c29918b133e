"""What the console's portfolio page draws: reminders per channel and day, cures, opt-outs, errors.

Plain aggregates over the outbox, events and attempts; the day of a
reminder is taken in UTC. Windows are bounded (the last ``days`` days) so
the page costs what a month of reminders costs, not the whole history.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, func, select

from dunning.core.domain.model import EventKind, IntentState
from dunning.core.store.base import StoreBase
from dunning.core.store.schema import attempts, cases, events, intents

__all__ = ["Attempted", "PortfolioMixin", "PortfolioView"]

#: Intent states that mean a reminder (may have) reached the debtor.
_SENT = (IntentState.SENT, IntentState.DELIVERED, IntentState.UNKNOWN)


@dataclass(frozen=True)
class PortfolioView:
    """The portfolio page's figures."""

    #: (day, channel) -> reminders sent that day
    reminders: dict[tuple[date, str], int]
    #: days since the first reminder -> share of reminded cases paid by then (0..1)
    cure_curve: list[tuple[int, float]]
    reminded_cases: int
    opt_outs: dict[str, int]
    #: (channel, provider error code) -> attempts that failed with it
    errors: dict[tuple[str, str], int]
    statuses: dict[str, int]


@dataclass(frozen=True)
class Attempted:
    """One delivery attempt, for a case's timeline."""

    at: datetime
    intent_id: str
    channel: str
    outcome: str
    error_code: str | None
    detail: str | None


class PortfolioMixin(StoreBase):
    """The console's aggregates, and a case's delivery attempts."""

    def portfolio(self, conn: Connection, now: datetime, days: int = 30) -> PortfolioView:
        since = now - timedelta(days=days)
        reminders: Counter[tuple[date, str]] = Counter()
        for channel, at in conn.execute(
            select(intents.c.channel, intents.c.contact_at).where(
                intents.c.state.in_(_SENT), intents.c.contact_at >= since
            )
        ):
            reminders[(at.date(), channel)] += 1
        curve, reminded = self._cure_curve(conn, days)
        opt_outs = {
            channel or "all": int(count)
            for channel, count in conn.execute(
                select(events.c.channel, func.count())
                .where(events.c.kind == EventKind.OPT_OUT)
                .group_by(events.c.channel)
            )
        }
        errors = {
            (channel, code): int(count)
            for channel, code, count in conn.execute(
                select(attempts.c.channel, attempts.c.error_code, func.count())
                .where(attempts.c.error_code.is_not(None), attempts.c.at >= since)
                .group_by(attempts.c.channel, attempts.c.error_code)
            )
        }
        statuses = {
            status: int(count)
            for status, count in conn.execute(select(cases.c.status, func.count()).group_by(cases.c.status))
        }
        return PortfolioView(dict(reminders), curve, reminded, opt_outs, errors, statuses)

    def _cure_curve(self, conn: Connection, days: int) -> tuple[list[tuple[int, float]], int]:
        """For each day after the first reminder, the share of reminded cases paid by then."""
        first = (
            select(intents.c.case_id, func.min(intents.c.contact_at).label("first"))
            .where(intents.c.state.in_(_SENT))
            .group_by(intents.c.case_id)
            .subquery()
        )
        rows = conn.execute(
            select(first.c.first, cases.c.closed_at, cases.c.status).select_from(
                first.join(cases, cases.c.case_id == first.c.case_id)
            )
        ).all()
        if not rows:
            return [], 0
        paid_after = Counter(
            max(0, (closed - started).days)
            for started, closed, status in rows
            if status == "paid" and closed is not None
        )
        curve, total = [], 0
        for day in range(days + 1):
            total += paid_after.get(day, 0)
            curve.append((day, total / len(rows)))
        return curve, len(rows)

    def attempts_of(self, conn: Connection, case_id: str) -> list[Attempted]:
        """Every delivery attempt and provider status of a case, oldest first."""
        rows = conn.execute(
            select(
                attempts.c.at,
                attempts.c.intent_id,
                attempts.c.channel,
                attempts.c.outcome,
                attempts.c.error_code,
                attempts.c.detail,
            )
            .where(attempts.c.case_id == case_id)
            .order_by(attempts.c.at, attempts.c.id)
        )
        return [Attempted(**row._mapping) for row in rows]
