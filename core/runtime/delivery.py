"""The delivery of one intent: lock, re-check, render, send, record.

Called by the channel's Dramatiq actor with an intent id. At-least-once
delivery of broker messages is made harmless by the intent's state: only a
``planned`` or ``enqueued`` intent is taken, and taking it is a state change
under a lock. The case gate is held shared from the re-check until the
provider answered, so a payment committed meanwhile waits for this send,
and any payment committed before is seen by the re-check.

Failures follow the channel's typed errors: permanent → fall back to the
next step at once (invalidating the contact point or recording an opt-out
when the provider says so); transient → retry with backoff, honouring
Retry-After; ambiguous → never resend blindly: the intent is ``unknown``
until a status callback or reconciliation settles it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from dunning.core.channel import Channel, OutboundMessage
from dunning.core.content.masking import mask_address
from dunning.core.content.sms import sms_shape
from dunning.core.content.templating import loan_fields, render_context
from dunning.core.domain.engine import outstanding, recheck
from dunning.core.domain.model import Case, History, IntentState
from dunning.core.domain.responses import event_for_delivery_error
from dunning.core.domain.zones import candidate_zones
from dunning.core.errors import (
    AmbiguousDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    TemplateError,
    TransientDeliveryError,
)
from dunning.core.runtime import combined
from dunning.core.runtime.runtime import Runtime
from dunning.core.runtime.telemetry import provider_call
from dunning.core.store.failures import is_outage
from dunning.core.store.quarantine import describe
from dunning.core.store.sending import SendPath

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Delivery", "Outcome", "deliver"]

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  #: not ours to send (already taken, done or withdrawn)
    CANCELLED = "cancelled"
    DEFERRED = "deferred"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    RETRY = "retry"
    AMBIGUOUS = "ambiguous"


@dataclass
class Delivery:
    """The result of one delivery attempt; ``retry_after`` is seconds for a RETRY."""

    outcome: Outcome
    reason: str | None = None
    retry_after: float | None = None


_TAKEABLE = (IntentState.PLANNED, IntentState.ENQUEUED)


def deliver(rt: Runtime, intent_id: str, case_id: str | None = None) -> Delivery:
    """Deliver one intent if it is still due; see the module docstring.

    ``case_id`` (the broker message carries it) names the case gate to take;
    without it the intent is looked up first.
    """
    store = rt.store
    if case_id is not None and store.sending is not None:
        done = _deliver_direct(rt, store.sending, intent_id, case_id)
        if done is not None:
            return done
    if case_id is None:
        with store.read() as conn:
            row = store.intent(conn, intent_id)
        if row is None or row.state not in _TAKEABLE:
            return Delivery(Outcome.SKIPPED, None if row is None else row.state)
        case_id = row.case_id
    joined: list[tuple[str, str]] = []
    if rt.policy.combine:
        with store.read() as conn:
            joined = combined.joined_to(rt, conn, intent_id)
    with store.connection() as conn, combined.gates(rt, conn, [case_id, *(c for _, c in joined)]):
        try:
            taken = _take(rt, conn, intent_id, case_id, joined)
        except Exception as exc:
            if is_outage(exc):
                raise  # the store is away: the broker (or the sweeper) brings the intent back
            return _broken(rt, conn, intent_id, exc)
        if isinstance(taken, Delivery):
            return taken
        intent, case, channel, message, ready = taken
        result = _send(rt, conn, intent, case, channel, message)
    combined.mirror(rt, intent_id, ready)
    return result


def _deliver_direct(rt: Runtime, path: SendPath, intent_id: str, case_id: str) -> Delivery | None:
    """A usual delivery in a few statements (see :mod:`dunning.core.store.sending`).

    None, having written nothing, when the intent needs more than the usual:
    the caller then delivers it the ordinary way, which re-reads it under the
    gate and records whatever becomes of it.
    """
    with rt.store.connection() as conn, path.session(conn, case_id) as session:
        try:
            taken = path.take(session, intent_id, case_id, rt.settling, rt.policy.combine)
        except Exception as exc:
            if is_outage(exc):
                raise
            path.abandon(session)
            return None
        if taken is None:
            return None
        intent, case, history = taken.intent, taken.case, taken.history
        channel = rt.channel(intent.channel)
        now = rt.now()
        try:
            if channel is None or _recheck(rt, intent, case, history, now) is not None:
                path.abandon(session)
                return None
            message = _message(rt, intent, case, channel, history, now)
        except Exception:  # the ordinary way records why it cannot go
            path.abandon(session)
            return None
        wait = rt.limiters.try_acquire(intent.channel) if rt.limiters is not None else None
        if wait is not None:
            path.abandon(session)
            return None
        # Committed before the call, with the call's start: after this a crash leaves the send ambiguous.
        path.lease(
            session,
            intent_id,
            now,
            {
                **combined.lease_values(rt, message.to, now, channel.can_reconcile),
                "attempts": intent.attempts + 1,
                "call_started_at": now,
            },
        )

        def record(done: datetime, provider_id: str | None, segments: int | None) -> None:
            path.sent(session, intent, done, provider_id, segments)

        return _call(rt, conn, intent, case, channel, message, record)


def _recheck(rt: Runtime, intent: Any, case: Case, history: History, now: datetime) -> Any:
    return recheck(
        case,
        history,
        rt.policy,
        channel=intent.channel,
        intent_id=intent.intent_id,
        now=now,
        ladder=intent.ladder,
        step=intent.step,
    )


def _take(
    rt: Runtime, conn: Connection, intent_id: str, case_id: str, joined: Sequence[tuple[str, str]] = ()
) -> Delivery | tuple[Any, Case, Channel, OutboundMessage, list[combined.Joined]]:
    """Lock the intent, re-check it against the freshest history, render it, and lease it.

    ``joined`` are other loans of the person going in this message: each is
    re-checked too, and those still due are rendered into it and leased with it.
    """
    store = rt.store
    now = rt.now()
    with conn.begin():
        intent = store.intent(conn, intent_id, lock=True)
        if intent is None or intent.state not in _TAKEABLE:
            return Delivery(Outcome.SKIPPED, None if intent is None else intent.state)
        if intent.case_id != case_id:  # a message naming the wrong case holds the wrong gate
            log.error("intent %s belongs to another case than its message says; not sent", intent_id)
            return Delivery(Outcome.SKIPPED, "wrong_case")
        loaded = store.load_cases(conn, [intent.case_id]).get(intent.case_id)
        channel = rt.channel(intent.channel)
        if loaded is None or channel is None:
            reason = "case_gone" if loaded is None else f"channel_unavailable:{intent.channel}"
            store.cancel_intents(conn, [intent_id], reason, now)
            return Delivery(Outcome.CANCELLED, reason)
        case, _status = loaded
        history = store.histories(conn, [case], rt.settling)[case.case_id]
        verdict = _recheck(rt, intent, case, history, now)
        if verdict is not None:
            combined.release(rt, conn, joined, now)
            return _not_now(rt, conn, intent, verdict.kind, verdict.rule or verdict.kind, verdict.until, now)
        ready, refused = combined.take_joined(rt, conn, joined, intent.channel, now)
        for other, why in refused:
            _not_now(rt, conn, other, why.kind, why.rule or why.kind, why.until, now)
        try:
            message = _message(rt, intent, case, channel, history, now, combined.loans_of(rt, ready, now))
        except TemplateError as exc:
            log.error("intent %s: template %s did not render: %s", intent_id, intent.template, exc)
            combined.release(rt, conn, joined, now)
            return _fail_in(rt, conn, intent, now, "template_error", None, str(exc))
        wait = rt.limiters.try_acquire(intent.channel) if rt.limiters is not None else None
        if wait is not None:
            return _over_limit_in(rt, conn, intent, wait, now)
        # The provider can tell later whether it arrived, so the call may be marked as
        # started in this same transaction (one commit fewer per reminder).
        lease = combined.lease_values(rt, message.to, now, channel.can_reconcile)
        store.update_intent(conn, intent_id, now, **lease, attempts=intent.attempts + 1)
        combined.lease(rt, conn, ready, lease, now)
    return intent, case, channel, message, ready


def _broken(rt: Runtime, conn: Connection, intent_id: str, error: Exception) -> Delivery:
    """Re-checking or rendering raised: end the intent with the reason, never retry it forever.

    The case is woken: the engine falls through to the next step, or parks
    the case if deciding it fails the same way.
    """
    store = rt.store
    now = rt.now()
    with conn.begin():
        intent = store.intent(conn, intent_id, lock=True)
        if intent is None or intent.state not in _TAKEABLE:
            return Delivery(Outcome.SKIPPED, None if intent is None else intent.state)
        loaded = store.load_cases(conn, [intent.case_id]).get(intent.case_id)
        detail = describe(error, loaded[0] if loaded else None)
        log.error("intent %s not sent: preparing it failed (%s)", intent_id, type(error).__name__)
        return _fail_in(rt, conn, intent, now, f"error:{type(error).__name__}"[:128], None, detail)


def _not_now(
    rt: Runtime, conn: Connection, intent: Any, kind: str, rule: str, until: datetime | None, now: datetime
) -> Delivery:
    store = rt.store
    if kind == "defer" and until is not None:
        store.update_intent(
            conn, intent.intent_id, now, state=IntentState.PLANNED, not_before=until, contact_at=until
        )
        store.add_audit(conn, [_audit(intent, now, "defer", rule, {"until": until.isoformat()})])
        store.add_attempt(conn, **_attempt(intent, now, "deferred", detail=rule))
        return Delivery(Outcome.DEFERRED, rule)
    if kind == "suppress":
        store.update_intent(
            conn, intent.intent_id, now, state=IntentState.SUPPRESSED, reason=rule, completed_at=now
        )
        store.add_audit(conn, [_audit(intent, now, "suppress", rule)])
        store.add_attempt(conn, **_attempt(intent, now, "suppressed", detail=rule))
        store.wake_case(conn, intent.case_id, now)
        return Delivery(Outcome.SUPPRESSED, rule)
    store.cancel_intents(conn, [intent.intent_id], rule, now)
    store.wake_case(conn, intent.case_id, now)
    return Delivery(Outcome.CANCELLED, rule)


def _send(
    rt: Runtime, conn: Connection, intent: Any, case: Case, channel: Channel, message: OutboundMessage
) -> Delivery:
    store = rt.store
    now = rt.now()
    if not channel.can_reconcile:
        # Committed before the call: after this point a crash leaves the send ambiguous.
        with conn.begin():
            store.update_intent(conn, intent.intent_id, now, call_started_at=now)

    def record(done: datetime, provider_id: str | None, segments: int | None) -> None:
        with conn.begin():
            store.update_intent(
                conn,
                intent.intent_id,
                done,
                state=IntentState.SENT,
                provider_id=provider_id,
                contact_at=done,
                completed_at=done,
                lease_until=None,
                segments=segments,
            )
            store.add_attempt(conn, **_attempt(intent, done, "sent", provider_id=provider_id))
            store.add_audit(conn, [_audit(intent, done, "sent", None, {"provider_id": provider_id})])
            store.wake_case(conn, intent.case_id, done)

    return _call(rt, conn, intent, case, channel, message, record)


def _call(
    rt: Runtime,
    conn: Connection,
    intent: Any,
    case: Case,
    channel: Channel,
    message: OutboundMessage,
    record: Callable[[datetime, str | None, int | None], None],
) -> Delivery:
    """Call the provider; ``record(done, provider_id, segments)`` writes a send it accepted."""
    try:
        with provider_call(rt, intent.channel):
            receipt = channel.send(message)
    except PermanentDeliveryError as exc:
        return _permanent(rt, conn, intent, case, exc, message.to)
    except TransientDeliveryError as exc:
        return _transient(rt, conn, intent, exc)
    except AmbiguousDeliveryError as exc:
        return _ambiguous(rt, conn, intent, str(exc), exc.code)
    except DeliveryError as exc:
        return _ambiguous(rt, conn, intent, f"untyped delivery error: {exc}", exc.code)
    except Exception as exc:  # a channel that broke its contract: the message may have left
        log.exception(
            "channel %s raised an untyped error for intent %s", channel.spec().name, intent.intent_id
        )
        return _ambiguous(rt, conn, intent, f"{type(exc).__name__}: {exc}", None)
    done = rt.now()
    segments = sms_shape(message.body).segments if channel.spec().kind == "text" else None
    record(done, receipt.provider_id, segments)
    log.info("intent %s sent by %s to %s", intent.intent_id, intent.channel, mask_address(message.to))
    return Delivery(Outcome.SENT)


def _message(
    rt: Runtime,
    intent: Any,
    case: Case,
    channel: Channel,
    history: History,
    now: datetime,
    joined: Sequence[tuple[Case, Decimal]] = (),
) -> OutboundMessage:
    address = channel.address(case)
    if not address:
        raise TemplateError(f"no {channel.spec().contact_kind} for case {case.case_id}")
    amount, _ = outstanding(case, [e for e in history.events if e.at <= now])
    loans: list[dict[str, Any]] = []
    if joined:
        zone = candidate_zones(case.timezone, case.phone, rt.policy.default_timezone)[0]
        today = now.astimezone(zone).date()
        loans = [loan_fields(c, owed, today, rt.policy.deadline) for c, owed in [(case, amount), *joined]]
    context = render_context(
        case,
        amount=amount,
        now=now,
        deadline=rt.policy.deadline,
        contact=rt.policy.contact,
        default_timezone=rt.policy.default_timezone,
        loans=loans,
        attributes=rt.policy.attributes,
    )
    cls = rt.registry.channels.get(intent.channel)
    parts = cls.template_parts if cls is not None else ("body",)
    rendered = rt.templates.render(intent.channel, intent.template, case.locale, context, parts)
    data = {"case_id": case.case_id, "intent_id": intent.intent_id}
    if case.payment_url:
        data["link"] = case.payment_url
    return OutboundMessage(
        intent_id=intent.intent_id,
        case_id=case.case_id,
        channel=intent.channel,
        to=address,
        parts=dict(rendered.parts),
        locale=case.locale,
        data=data,
    )


def _fail(
    rt: Runtime,
    conn: Connection,
    intent: Any,
    now: datetime,
    reason: str,
    code: str | None,
    detail: str,
    also: Callable[[Connection], None] | None = None,
) -> Delivery:
    with conn.begin():
        return _fail_in(rt, conn, intent, now, reason, code, detail, also)


def _fail_in(
    rt: Runtime,
    conn: Connection,
    intent: Any,
    now: datetime,
    reason: str,
    code: str | None,
    detail: str,
    also: Callable[[Connection], None] | None = None,
) -> Delivery:
    """Record a failure in the caller's transaction; the engine then falls back to the next step."""
    store = rt.store
    if also is not None:
        also(conn)
    store.update_intent(
        conn,
        intent.intent_id,
        now,
        state=IntentState.FAILED,
        reason=reason,
        error_code=code,
        completed_at=now,
        lease_until=None,
    )
    store.add_attempt(conn, **_attempt(intent, now, "failed", error_code=code, detail=detail[:500]))
    store.add_audit(conn, [_audit(intent, now, "failed", reason, {"code": code})])
    store.wake_case(conn, intent.case_id, now)
    return Delivery(Outcome.FAILED, reason)


def _permanent(
    rt: Runtime, conn: Connection, intent: Any, case: Case, exc: PermanentDeliveryError, address: str
) -> Delivery:
    now = rt.now()
    follow = event_for_delivery_error(
        exc, case_id=case.case_id, channel=intent.channel, address=address, at=now
    )

    def record(conn: Connection) -> None:
        if follow is not None:
            rt.store.record_provider_event(conn, follow, now=now)

    return _fail(rt, conn, intent, now, "permanent", exc.code, str(exc), also=record)


def _transient(rt: Runtime, conn: Connection, intent: Any, exc: TransientDeliveryError) -> Delivery:
    store = rt.store
    now = rt.now()
    if intent.attempts + 1 >= rt.settings.max_retries:
        return _fail(rt, conn, intent, now, "retries_exhausted", exc.code, str(exc))
    backoff = rt.settings.min_backoff_ms / 1000 * (2**intent.attempts)
    delay = min(max(exc.retry_after or 0, backoff), rt.settings.max_backoff_ms / 1000)
    with conn.begin():
        # Nothing reached the debtor: the intent may go again after the delay. The
        # broker holds the retry; the sweeper counts staleness from when it is due.
        store.update_intent(
            conn,
            intent.intent_id,
            now,
            state=IntentState.ENQUEUED,
            enqueued_at=now + timedelta(seconds=delay),
            lease_until=None,
            call_started_at=None,
            error_code=exc.code,
        )
        store.add_attempt(conn, **_attempt(intent, now, "retry", error_code=exc.code, detail=str(exc)[:500]))
    return Delivery(Outcome.RETRY, exc.code, retry_after=delay)


def _over_limit_in(rt: Runtime, conn: Connection, intent: Any, wait: float, now: datetime) -> Delivery:
    """The provider account is at its rate limit: the intent goes back, to go after ``wait``."""
    rt.store.update_intent(
        conn,
        intent.intent_id,
        now,
        state=IntentState.ENQUEUED,
        enqueued_at=now + timedelta(seconds=wait),
    )
    return Delivery(Outcome.RETRY, "rate_limited", retry_after=wait)


def _ambiguous(rt: Runtime, conn: Connection, intent: Any, detail: str, code: str | None) -> Delivery:
    store = rt.store
    now = rt.now()
    with conn.begin():
        store.update_intent(
            conn,
            intent.intent_id,
            now,
            state=IntentState.UNKNOWN,
            reason="ambiguous",
            error_code=code,
            contact_at=now,
            completed_at=now,
            lease_until=None,
        )
        store.add_attempt(conn, **_attempt(intent, now, "ambiguous", error_code=code, detail=detail[:500]))
        store.add_audit(conn, [_audit(intent, now, "ambiguous", "ambiguous", {"code": code})])
        store.wake_case(conn, intent.case_id, now)
    log.warning("intent %s: outcome unknown (%s); waiting for a status callback", intent.intent_id, code)
    return Delivery(Outcome.AMBIGUOUS, code)


def _attempt(intent: Any, at: datetime, outcome: str, **extra: Any) -> dict[str, Any]:
    return {
        "intent_id": intent.intent_id,
        "case_id": intent.case_id,
        "channel": intent.channel,
        "at": at,
        "outcome": outcome,
        **extra,
    }


def _audit(
    intent: Any, at: datetime, action: str, rule: str | None, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "at": at,
        "case_id": intent.case_id,
        "kind": "intent",
        "action": action,
        "channel": intent.channel,
        "step": intent.step,
        "rule": rule,
        "intent_id": intent.intent_id,
        "detail": detail,
    }
