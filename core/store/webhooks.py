"""The webhook outbox: a delivery per subscriber, written in the transaction of what caused it.

Like reminders, a delivery is a row before it is a message: committed with
the event, decision or quarantine that caused it, handed to the broker after
commit, and handed over again by the sweeper if the broker lost it. The
body is fixed when the row is written; each attempt signs it afresh.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from dunning.core.store.base import StoreBase
from dunning.core.store.schema import webhook_deliveries
from dunning.core.webhooks.topics import Subscription, Topic

__all__ = ["DeliveryRow", "DeliveryState", "WebhookOutboxMixin"]


class DeliveryState:
    """Where a delivery stands (the column's values)."""

    PENDING = "pending"  #: to be handed to the broker when due
    ENQUEUED = "enqueued"  #: the broker has it (or is retrying it)
    DELIVERED = "delivered"  #: the receiver answered 2xx
    FAILED = "failed"  #: every attempt failed; shown in the console and counted in /metrics


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery, as the sender and the console read it."""

    id: str
    url: str
    topic: str
    case_id: str | None
    body: str
    created_at: datetime
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


class WebhookOutboxMixin(StoreBase):
    """Writing, handing over and settling webhook deliveries."""

    #: who listens to what (set from DUNNING_WEBHOOKS when the runtime is built)
    subscriptions: tuple[Subscription, ...] = ()

    def emit(
        self, conn: Connection, topic: Topic, case_id: str | None, data: Mapping[str, Any], now: datetime
    ) -> list[str]:
        """Write one delivery per subscriber of ``topic``; return their ids (none without subscribers)."""
        ids = []
        for subscription in self.subscriptions:
            if topic not in subscription.topics:
                continue
            delivery_id = f"whd_{uuid.uuid4().hex}"
            body = {
                "id": delivery_id,
                "type": str(topic),
                "created_at": now.isoformat().replace("+00:00", "Z"),
                "case_id": case_id,
                "data": dict(data),
            }
            conn.execute(
                webhook_deliveries.insert().values(
                    id=delivery_id,
                    url=subscription.url,
                    topic=str(topic),
                    case_id=case_id,
                    body=json.dumps(body, ensure_ascii=False, sort_keys=True, default=str),
                    created_at=now,
                    state=DeliveryState.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
            ids.append(delivery_id)
        return ids

    def deliveries_due(
        self, conn: Connection, now: datetime, stale: timedelta, limit: int = 500
    ) -> list[str]:
        """Deliveries to hand to the broker: pending and due, or handed over long ago and lost."""
        query = (
            select(webhook_deliveries.c.id)
            .where(
                or_(
                    and_(
                        webhook_deliveries.c.state == DeliveryState.PENDING,
                        webhook_deliveries.c.next_attempt_at <= now,
                    ),
                    and_(
                        webhook_deliveries.c.state == DeliveryState.ENQUEUED,
                        webhook_deliveries.c.next_attempt_at <= now - stale,
                    ),
                )
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
        )
        return list(conn.scalars(query))

    def mark_deliveries(self, conn: Connection, ids: Sequence[str], state: str, now: datetime) -> None:
        """Mark deliveries enqueued before they go to the broker (or pending again if it failed).

        Only deliveries still on their way are touched: one a worker settled meanwhile stays settled.
        """
        if ids:
            conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id.in_(list(ids)),
                    webhook_deliveries.c.state.in_([DeliveryState.PENDING, DeliveryState.ENQUEUED]),
                )
                .values(state=state, next_attempt_at=now)
            )

    def delivery(self, conn: Connection, delivery_id: str) -> DeliveryRow | None:
        row = conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)).first()
        return DeliveryRow(**row._mapping) if row is not None else None

    def delivery_attempted(
        self,
        conn: Connection,
        delivery_id: str,
        now: datetime,
        *,
        status: int | None,
        error: str | None,
        retry_at: datetime | None,
    ) -> None:
        """Record one attempt: delivered (no error), to retry at ``retry_at``, or failed for good."""
        values: dict[str, Any] = {
            "attempts": webhook_deliveries.c.attempts + 1,
            "last_status": status,
            "last_error": (error or "")[:512] or None,
        }
        if error is None:
            values.update(state=DeliveryState.DELIVERED, delivered_at=now)
        elif retry_at is not None:
            values.update(state=DeliveryState.ENQUEUED, next_attempt_at=retry_at)
        else:
            values.update(state=DeliveryState.FAILED)
        conn.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values)
        )

    def recent_deliveries(
        self, conn: Connection, *, failed_only: bool = False, limit: int = 100
    ) -> list[DeliveryRow]:
        """The latest deliveries (failed ones only if asked), newest first."""
        query = select(webhook_deliveries)
        if failed_only:
            query = query.where(
                or_(
                    webhook_deliveries.c.state == DeliveryState.FAILED,
                    webhook_deliveries.c.last_error.is_not(None)
                    & (webhook_deliveries.c.state != DeliveryState.DELIVERED),
                )
            )
        rows = conn.execute(
            query.order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id).limit(limit)
        )
        return [DeliveryRow(**row._mapping) for row in rows]

    def delivery_counts(self, conn: Connection) -> tuple[dict[str, int], int]:
        """Deliveries by state, and the failed attempts counted so far (for /metrics)."""
        by_state = {
            state: int(count)
            for state, count in conn.execute(
                select(webhook_deliveries.c.state, func.count()).group_by(webhook_deliveries.c.state)
            )
        }
        attempts = conn.scalar(select(func.coalesce(func.sum(webhook_deliveries.c.attempts), 0)))
        # Every delivered delivery had exactly one attempt that succeeded; the rest failed.
        delivered = by_state.get(DeliveryState.DELIVERED, 0)
        return by_state, int(attempts or 0) - delivered
