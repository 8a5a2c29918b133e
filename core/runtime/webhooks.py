"""Outbound webhooks on Dramatiq: the delivery actor (queue ``dunning.webhooks``) and the hand-over.

The store is the source of truth: a delivery row is written with what
caused it, handed to the broker after commit (by the sweeper and after each
tick), and handed over again if the broker lost it. A failed attempt is
retried through Dramatiq with exponential backoff; after the last attempt
the delivery is ``failed`` — shown in the console and counted in /metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import dramatiq

from dunning.core.runtime.runtime import Runtime
from dunning.core.store.webhooks import DeliveryState
from dunning.core.webhooks.sender import post_signed

__all__ = ["ACTOR", "QUEUE", "backoff", "declare_webhook_actor", "deliver_webhook", "hand_over_webhooks"]

log = logging.getLogger(__name__)

#: The queue webhook deliveries travel on (a worker serves it with ``--queues dunning.webhooks``).
QUEUE = "dunning.webhooks"
#: The delivery actor's name.
ACTOR = "dunning_webhook"


def backoff(attempts: int, minimum_ms: int, maximum_ms: int) -> int:
    """Milliseconds before the next attempt after ``attempts`` failed ones: doubling, capped."""
    return int(min(minimum_ms * 2 ** min(max(attempts - 1, 0), 30), maximum_ms))


def deliver_webhook(rt: Runtime, delivery_id: str) -> int | None:
    """One attempt at a delivery; the milliseconds to wait before retrying, or None when done."""
    store = rt.store
    settings = rt.settings
    with store.read() as conn:
        row = store.delivery(conn, delivery_id)
    if row is None or row.state in (DeliveryState.DELIVERED, DeliveryState.FAILED):
        return None  # delivered meanwhile (a second hand-over), or given up
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    now = rt.now()
    attempt = post_signed(
        row.url,
        row.body,
        delivery_id=row.id,
        topic=row.topic,
        secret=secret,
        timestamp=int(time.time()),  # the wall clock: receivers refuse signatures far from theirs
        timeout=settings.webhook_timeout,
    )
    wait = None
    retry_at: datetime | None = None
    if attempt.error is not None and row.attempts + 1 < settings.webhook_max_attempts:
        wait = backoff(row.attempts + 1, settings.webhook_min_backoff_ms, settings.webhook_max_backoff_ms)
        retry_at = now + timedelta(milliseconds=wait)
    with store.write() as conn:
        store.delivery_attempted(
            conn, row.id, rt.now(), status=attempt.status, error=attempt.error, retry_at=retry_at
        )
    if attempt.error is not None:
        log.warning(
            "webhook %s (%s) to %s failed, attempt %d: %s",
            row.id,
            row.topic,
            row.url,
            row.attempts + 1,
            attempt.error,
        )
    return wait


def declare_webhook_actor(rt: Runtime, broker: dramatiq.Broker) -> None:
    """Declare the delivery actor on ``broker``; a failed attempt is retried with Dramatiq's ``Retry``."""
    broker.declare_queue(QUEUE)

    def dunning_webhook(delivery_id: str) -> None:
        wait = deliver_webhook(rt, delivery_id)
        if wait is not None:
            raise dramatiq.Retry(message="webhook receiver failed", delay=wait)

    dramatiq.actor(
        broker=broker,
        actor_name=ACTOR,
        queue_name=QUEUE,
        max_retries=rt.settings.webhook_max_attempts + 2,  # the store gives up first; a backstop
        min_backoff=rt.settings.webhook_min_backoff_ms,
        max_backoff=rt.settings.webhook_max_backoff_ms,
    )(dunning_webhook)


def hand_over_webhooks(rt: Runtime, now: datetime, enqueue: Callable[[str], None] | None = None) -> int:
    """Give due deliveries to the broker and mark them enqueued; return how many went."""
    broker = getattr(rt.dispatcher, "broker", None)
    if broker is None or not rt.store.subscriptions or QUEUE not in broker.get_declared_queues():
        return 0
    send = enqueue or (lambda delivery_id: _enqueue(broker, delivery_id))
    stale = timedelta(seconds=max(rt.settings.lease_seconds, rt.settings.webhook_timeout * 2))
    with rt.store.write() as conn:
        due = rt.store.deliveries_due(conn, now, stale)
        rt.store.mark_deliveries(conn, due, DeliveryState.ENQUEUED, now)
    for index, delivery_id in enumerate(due):
        try:
            send(delivery_id)
        except Exception as exc:  # the rest go back to pending: the next round hands them over
            rt.outages.failed("webhook hand-over", exc)
            with rt.store.write() as conn:
                rt.store.mark_deliveries(conn, due[index:], DeliveryState.PENDING, now)
            return index
    if due:
        rt.outages.ok("webhook hand-over")
    return len(due)


def _enqueue(broker: dramatiq.Broker, delivery_id: str) -> None:
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=QUEUE, actor_name=ACTOR, args=(delivery_id,), kwargs={}, options={}
    )
    broker.enqueue(message)
