"""The runtime: scheduler tick, sweeper, delivery actor, and the in-process runner."""

from __future__ import annotations

from dunning.core.runtime.delivery import Delivery, Outcome, deliver
from dunning.core.runtime.runtime import Runtime, build_runtime
from dunning.core.runtime.scheduler import SweepReport, TickReport, sweep, tick
from dunning.core.runtime.worker import attach_broker

__all__ = [
    "Delivery",
    "Outcome",
    "Runtime",
    "SweepReport",
    "TickReport",
    "attach_broker",
    "build_runtime",
    "deliver",
    "sweep",
    "tick",
]
