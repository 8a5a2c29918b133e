"""What the store learns across the portfolio: how each strategy is taken, when each segment answers.

The scheduler asks now and then (not every tick): per strategy, the debtors
it contacted and those of them who opted out or complained, for the
challenger guardrail; per segment, the local hours at which its debtors
answered or paid lately, for learned send times. Both are aggregates the
pure engine then reads from its history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from dunning.core.domain.guard import StrategyStats
from dunning.core.domain.learning import RESPONDED
from dunning.core.domain.model import EventKind, IntentState
from dunning.core.domain.zones import candidate_zones
from dunning.core.store.base import StoreBase
from dunning.core.store.schema import cases, debtors, events, intents

__all__ = ["LearningMixin"]

#: Intent states in which a reminder reached the debtor, or may have.
_REACHED = (IntentState.SENT, IntentState.DELIVERED, IntentState.UNKNOWN)
#: Hold reasons that are complaints, besides a dispute itself.
_COMPLAINTS = ("complaint", "dispute")
#: Most recent answers read to learn the segments' hours (enough for a clear peak).
SEGMENT_SAMPLE = 200_000


class LearningMixin(StoreBase):
    """Aggregates over the whole portfolio, for the scheduler's periodic learning."""

    def strategy_stats(self, conn: Connection) -> dict[str, StrategyStats]:
        """Per strategy: debtors contacted, and of those who opted out and who complained."""
        query = (
            select(intents.c.strategy, func.count(func.distinct(intents.c.debtor_id)))
            .where(intents.c.strategy.is_not(None), intents.c.state.in_([str(s) for s in _REACHED]))
            .group_by(intents.c.strategy)
        )
        contacted: dict[str, int] = {name: count for name, count in conn.execute(query).all()}
        complaint = or_(
            events.c.kind == str(EventKind.DISPUTE),
            and_(events.c.kind == str(EventKind.HOLD), events.c.reason.in_(_COMPLAINTS)),
        )
        opted = self._debtors_with(conn, events.c.kind == str(EventKind.OPT_OUT))
        complained = self._debtors_with(conn, complaint)
        return {
            name: StrategyStats(count, opted.get(name, 0), complained.get(name, 0))
            for name, count in contacted.items()
        }

    def _debtors_with(self, conn: Connection, condition: ColumnElement[bool]) -> dict[str, int]:
        """Per strategy, how many of its debtors have an event matching ``condition``."""
        query = (
            select(debtors.c.strategy, func.count(func.distinct(events.c.debtor_id)))
            .select_from(events.join(debtors, debtors.c.debtor_id == events.c.debtor_id))
            .where(debtors.c.strategy.is_not(None), condition)
            .group_by(debtors.c.strategy)
        )
        return {name: count for name, count in conn.execute(query).all()}

    def segment_hours(
        self, conn: Connection, since: datetime, default_timezone: str | None = None
    ) -> dict[str, dict[int, int]]:
        """Per segment, how many answers and payments since ``since`` fell in each local hour."""
        query = (
            select(events.c.at, cases.c.segment, cases.c.timezone, cases.c.phone)
            .select_from(events.join(cases, cases.c.case_id == events.c.case_id))
            .where(
                events.c.kind.in_([str(k) for k in RESPONDED]),
                events.c.at >= since,
                cases.c.segment.is_not(None),
            )
            .order_by(events.c.at.desc())
            .limit(SEGMENT_SAMPLE)
        )
        counts: dict[str, Counter[int]] = defaultdict(Counter)
        for at, segment, timezone, phone in conn.execute(query):
            zone = candidate_zones(timezone, phone, default_timezone)[0]
            counts[segment][at.astimezone(zone).hour] += 1
        return {segment: dict(hours) for segment, hours in counts.items()}
