"""Promises to pay in the store: the running one per case, and each broken one counted once.

The scheduler tells the store, for every case it decides, when the promise
it holds the case for runs out; a promise that ran out unpaid is counted
against the debtor once (even with two schedulers), put on the timeline and
told to the webhook subscribers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from dunning.core.store.schema import audit, cases, debtors
from dunning.core.store.webhooks import WebhookOutboxMixin
from dunning.core.webhooks.topics import Topic

__all__ = ["PromisesMixin"]


class PromisesMixin(WebhookOutboxMixin):
    """Tracking running and broken promises."""

    def track_promises(
        self,
        conn: Connection,
        decided: Sequence[tuple[str, str, datetime | None]],
        now: datetime,
        stored: Mapping[str, datetime] | None = None,
    ) -> list[str]:
        """Count each promise that ran out unpaid as broken, once; remember the running ones.

        ``decided`` is (case_id, debtor_id, until) per case the tick just decided, ``until``
        being the end of the promise hold the engine decided (None when it holds for none).
        Returns the cases whose promise was counted as broken now. ``stored`` is each
        case's running promise as the caller read it (read here when not given).
        """
        if stored is None:
            ids = [case_id for case_id, _, _ in decided]
            found: dict[str, datetime] = {}
            for start in range(0, len(ids), 500):
                query = select(cases.c.case_id, cases.c.promise_until).where(
                    cases.c.case_id.in_(ids[start : start + 500]), cases.c.promise_until.is_not(None)
                )
                found.update((row.case_id, row.promise_until) for row in conn.execute(query))
            stored = found
        broken = []
        for case_id, debtor_id, until in decided:
            old = stored.get(case_id)
            if old is not None and old <= now:
                # A conditional update, so that two schedulers cannot count it twice.
                done = conn.execute(
                    update(cases)
                    .where(cases.c.case_id == case_id, cases.c.promise_until == old)
                    .values(promise_until=until)
                )
                if done.rowcount == 1:
                    conn.execute(
                        update(debtors)
                        .where(debtors.c.debtor_id == debtor_id)
                        .values(broken_promises=debtors.c.broken_promises + 1, updated_at=now)
                    )
                    conn.execute(audit.insert().values(**_broken_audit(case_id, old, now)))
                    self.emit(conn, Topic.PROMISE_BROKEN, case_id, {"until": old}, now)
                    broken.append(case_id)
            elif until is not None and until != old:
                conn.execute(update(cases).where(cases.c.case_id == case_id).values(promise_until=until))
        return broken


def _broken_audit(case_id: str, until: datetime, now: datetime) -> dict[str, Any]:
    return {
        "at": now,
        "case_id": case_id,
        "kind": "case",
        "action": "broken_promise",
        "rule": "promise",
        "detail": {"until": until.isoformat()},
    }
