"""Binding delivery to Dramatiq: the actor function and the dispatcher of a runtime."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dramatiq

from dunning.core.runtime import tracing
from dunning.core.runtime.delivery import Outcome, deliver
from dunning.core.runtime.dispatch import Dispatcher
from dunning.core.runtime.outage import is_unavailable
from dunning.core.runtime.runtime import Runtime
from dunning.core.runtime.telemetry import observed_delivery
from dunning.core.runtime.webhooks import QUEUE, declare_webhook_actor

__all__ = ["attach_broker", "delivery_actor"]


def delivery_actor(rt: Runtime, channel: str) -> Callable[[str], None]:
    """The body of a channel's delivery actor: deliver, or hand the intent over again later.

    While the store cannot be reached the message is let go (and the failure
    logged once per outage); the sweeper hands the intent over again.
    """

    def dunning_deliver(intent_id: str, case_id: str | None = None) -> None:
        with observed_delivery(rt, channel, intent_id, case_id) as seen:
            try:
                result = deliver(rt, intent_id, case_id)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                # The store is the source of truth: the intent is still there, and the sweeper
                # hands it over again (or settles a send it leaves in doubt) once the store is back.
                # Retrying through the broker would only fill the log with the same failure.
                rt.outages.failed("delivery", exc)
                return
            seen(result)
        rt.outages.ok("delivery")
        if result.outcome == Outcome.RETRY:
            raise dramatiq.Retry(
                message=f"transient: {result.reason}", delay=int((result.retry_after or 1) * 1000)
            )

    return dunning_deliver


def attach_broker(
    rt: Runtime, broker: dramatiq.Broker, *, channels: Sequence[str] | None = None, webhooks: bool = True
) -> Dispatcher:
    """Give the runtime a dispatcher on ``broker``, with the delivery actors declared.

    While tracing is on, messages carry the trace context from the tick to the delivery.
    The webhook actor (queue ``dunning.webhooks``) is declared too when the
    deployment has subscribers and ``webhooks`` is true.
    """
    if tracing.active():
        from dunning.core.runtime.trace_context import TraceContext

        broker.add_middleware(TraceContext())
    specs = {name: rt.registry.channels[name].spec() for name in rt.channels}
    dispatcher = Dispatcher(broker, specs, rt.settings)
    dispatcher.declare_actors(lambda name: delivery_actor(rt, name), channels)
    if webhooks and rt.store.subscriptions:
        declare_webhook_actor(rt, broker)
        dispatcher.extra_queues.append(QUEUE)
    rt.dispatcher = dispatcher
    return dispatcher
