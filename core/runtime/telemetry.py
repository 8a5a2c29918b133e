"""Instrumentation at the boundaries of work: a tick, a delivery, a provider call, an event.

Each helper does the three things an operator reads afterwards at once: it
sets the log context (so every line inside carries the tick, case or intent
id), opens a span when tracing is on, and counts and times the work in the
process's :class:`~dunning.core.runtime.metrics.Metrics`. The flow's own
modules call one of them and stay free of observability code.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from dunning.core.errors import (
    AmbiguousDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from dunning.core.runtime import context, tracing
from dunning.core.runtime.metrics import Metrics

__all__ = ["count_event", "observed_delivery", "observed_tick", "provider_call"]

#: The longest provider error code kept as a label value.
MAX_CODE = 32


def _metrics(rt: Any) -> Metrics | None:
    return getattr(rt, "metrics", None)


@contextlib.contextmanager
def observed_tick(rt: Any) -> Iterator[Callable[[Any], None]]:
    """Around one scheduler round; call what it yields with the tick's report (or None if it failed)."""
    seen: list[Any] = []
    started = time.perf_counter()
    with context.bound(tick=context.new_id()), tracing.span("dunning.tick") as span:
        yield seen.append
        report = seen[-1] if seen else None
        if span is not None and report is not None:
            span.set_attribute("dunning.cases", report.cases)
            span.set_attribute("dunning.planned", report.planned)
    metrics = _metrics(rt)
    if metrics is None:
        return
    metrics.tick_seconds.observe(time.perf_counter() - started)
    if report is not None:
        metrics.cases_decided.inc(report.cases)
        metrics.reminders_planned.inc(report.planned)


@contextlib.contextmanager
def observed_delivery(
    rt: Any, channel: str, intent_id: str, case_id: str | None
) -> Iterator[Callable[[Any], None]]:
    """Around one delivery; call what it yields with its :class:`Delivery`.

    A delivery that raises (the store is away) counts with the outcome ``error``.
    """
    seen: list[Any] = []
    attributes = {"dunning.channel": channel, "dunning.intent_id": intent_id, "dunning.case_id": case_id}
    started = time.perf_counter()
    outcome = "error"
    try:
        with (
            context.bound(intent_id=intent_id, case_id=case_id, channel=channel),
            tracing.span("dunning.deliver", attributes) as span,
        ):
            yield seen.append
            if seen:
                outcome = str(seen[-1].outcome)
                if span is not None:
                    span.set_attribute("dunning.outcome", outcome)
                    if seen[-1].reason:
                        span.set_attribute("dunning.reason", str(seen[-1].reason)[:128])
    finally:
        metrics = _metrics(rt)
        if metrics is not None:
            metrics.reminders.labels(channel=channel, outcome=outcome).inc()
            metrics.delivery_seconds.labels(channel=channel).observe(time.perf_counter() - started)


@contextlib.contextmanager
def provider_call(rt: Any, channel: str) -> Iterator[None]:
    """Around a channel's ``send``: times it, and counts a typed error by kind and provider code."""
    started = time.perf_counter()
    try:
        with tracing.span("dunning.provider.send", {"dunning.channel": channel}) as span:
            try:
                yield
            except DeliveryError as exc:
                if span is not None and exc.code:
                    span.set_attribute("dunning.provider.error_code", str(exc.code)[:MAX_CODE])
                _count_error(rt, channel, exc)
                raise
            except Exception:
                _count(rt, channel, "untyped", None)
                raise
    finally:
        metrics = _metrics(rt)
        if metrics is not None:
            metrics.provider_seconds.labels(channel=channel).observe(time.perf_counter() - started)


def _count_error(rt: Any, channel: str, exc: DeliveryError) -> None:
    kind = (
        "permanent"
        if isinstance(exc, PermanentDeliveryError)
        else "transient"
        if isinstance(exc, TransientDeliveryError)
        else "ambiguous"
        if isinstance(exc, AmbiguousDeliveryError)
        else "untyped"
    )
    _count(rt, channel, kind, exc.code)


def _count(rt: Any, channel: str, kind: str, code: str | None) -> None:
    metrics = _metrics(rt)
    if metrics is not None:
        label = str(code)[:MAX_CODE] if code else "none"
        metrics.provider_errors.labels(channel=channel, kind=kind, code=label).inc()


def count_event(rt: Any, kind: str) -> None:
    """An event was recorded (not a duplicate)."""
    metrics = _metrics(rt)
    if metrics is not None:
        metrics.events.labels(kind=str(kind)).inc()
