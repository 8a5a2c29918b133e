"""Carrying a trace from the scheduler's tick to the worker that delivers, through the broker.

A Dramatiq middleware: on enqueue it writes the current span's W3C trace
context into the message's options; before the worker runs the message it
makes that context current, so the delivery's span is a child of the tick
(or sweep) that handed it over. Added to a broker only while tracing is on.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy

__all__ = ["OPTION", "TraceContext"]

#: The message option that carries the trace context (``traceparent``, ``tracestate``).
OPTION = "dunning_trace"


class TraceContext(dramatiq.Middleware):
    """Injects the trace context into messages, and attaches it while a message is processed."""

    def __init__(self) -> None:
        self._tokens = threading.local()

    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int | None
    ) -> None:
        from opentelemetry.propagate import inject

        carrier: dict[str, str] = {}
        inject(carrier)
        if carrier:
            message.options[OPTION] = carrier

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        carrier = message.options.get(OPTION)
        if not isinstance(carrier, dict):
            return
        from opentelemetry import context
        from opentelemetry.propagate import extract

        self._tokens.token = context.attach(extract(carrier))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._detach()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._detach()

    def _detach(self) -> None:
        token = getattr(self._tokens, "token", None)
        if token is None:
            return
        from opentelemetry import context

        self._tokens.token = None
        context.detach(token)
