"""Logging a run of failures once, not once per failure.

When the store or the broker goes away, every tick, sweep and delivery fails
the same way, several times a second; logging each with its chained
traceback buries the one line an operator needs. :class:`Outages` logs the
first failure of a kind at a place as one ERROR line (the traceback only at
DEBUG, or for a failure that looks like a bug), counts the repeats silently,
summarises them once per interval, and says when the place works again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Outages", "failure_kind", "is_unavailable", "one_line"]

log = logging.getLogger(__name__)

#: How often a failure that goes on is summarised, in seconds (DUNNING_OUTAGE_LOG_SECONDS).
DEFAULT_INTERVAL = 60.0
#: The longest summary of an exception a log line carries.
MAX_SUMMARY = 300
#: Exception modules whose errors mean the store could not be used.
STORE_MODULES = ("sqlalchemy", "psycopg", "sqlite3")
#: Exception modules whose errors mean the broker could not be used.
BROKER_MODULES = ("redis", "dramatiq", "pika")
#: SQLAlchemy's errors that say the database could not be reached or used, not that a query is wrong.
UNAVAILABLE_STORE_ERRORS = ("OperationalError", "InterfaceError", "TimeoutError", "DisconnectionError")
#: Connection-level errors of the broker clients.
UNAVAILABLE_BROKER_ERRORS = ("ConnectionError", "TimeoutError", "BusyLoadingError", "ConnectionClosed")


def failure_kind(exc: BaseException) -> str:
    """``store``, ``broker``, or the exception's type name: one kind is logged as one run."""
    module = type(exc).__module__
    if module.startswith(STORE_MODULES):
        return "store"
    if module.startswith(BROKER_MODULES):
        return "broker"
    return type(exc).__name__


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store or broker cannot be reached (as opposed to a bug)."""
    kind = failure_kind(exc)
    name = type(exc).__name__
    if kind == "store":
        return name in UNAVAILABLE_STORE_ERRORS
    if kind == "broker":
        return name in UNAVAILABLE_BROKER_ERRORS
    return False


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``; a database error speaks through the driver's own."""
    inner = getattr(exc, "orig", None)
    shown = inner if isinstance(inner, BaseException) else exc
    lines = str(shown).strip().splitlines()
    text = f"{type(shown).__name__}: {lines[0].strip()}" if lines else type(shown).__name__
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


@dataclass
class _Run:
    """One failure that is going on at one place."""

    started: float
    reported: float
    errors: int = 1
    unreported: int = 0


class Outages:
    """Failures by place and kind, logged once per run and once per interval; thread-safe."""

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        *,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.log = logger or log
        self.clock = clock
        self._runs: dict[tuple[str, str], _Run] = {}
        self._lock = threading.Lock()

    def failed(self, where: str, exc: BaseException) -> None:
        """``where`` failed with ``exc``: log it if it is new, or if an interval has passed."""
        kind = failure_kind(exc)
        now = self.clock()
        with self._lock:
            run = self._runs.get((where, kind))
            if run is None:
                self._runs[(where, kind)] = _Run(started=now, reported=now)
                self._first(where, kind, exc)
                return
            run.errors += 1
            run.unreported += 1
            if now - run.reported < self.interval:
                return
            count, since = run.unreported, now - run.reported
            run.unreported, run.reported = 0, now
        self.log.error(
            "%s still failing (%s): %d error(s) in the last %.0fs; latest %s",
            where,
            kind,
            count,
            since,
            one_line(exc),
        )

    def ok(self, where: str) -> None:
        """``where`` worked: close its runs of failures, saying how long they lasted."""
        if not self._runs:  # the common case, without taking the lock
            return
        now = self.clock()
        with self._lock:
            ended = [(key, run) for key, run in self._runs.items() if key[0] == where]
            for key, _run in ended:
                del self._runs[key]
        for (_where, kind), run in ended:
            self.log.warning(
                "%s recovered (%s) after %.1fs (%d error(s))", where, kind, now - run.started, run.errors
            )

    def failing(self) -> list[tuple[str, str]]:
        """(place, kind) of every failure going on now."""
        with self._lock:
            return sorted(self._runs)

    def _first(self, where: str, kind: str, exc: BaseException) -> None:
        # An outage is told in one line; what looks like a bug keeps its traceback.
        trace = self.log.isEnabledFor(logging.DEBUG) or not is_unavailable(exc)
        self.log.error(
            "%s failing (%s): %s; a summary follows every %gs until it recovers",
            where,
            kind,
            one_line(exc),
            self.interval,
            exc_info=exc if trace else None,
        )
