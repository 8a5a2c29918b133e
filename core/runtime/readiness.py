"""Whether a process can do its work: the store answers at the current schema, the broker answers.

The API's ``/readyz`` and ``dunning health`` (a container's health check)
ask the same questions. Liveness — the process is up — is a different
question, answered without touching anything (``/livez``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dunning.core.errors import SchemaError
from dunning.core.runtime.outage import Outages, one_line
from dunning.core.store import Store

__all__ = ["Readiness", "check_readiness"]


@dataclass
class Readiness:
    """Each check by name, ``ok`` or why not; ready when every one is ``ok``."""

    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(answer == "ok" for answer in self.checks.values())

    def __str__(self) -> str:
        return ", ".join(f"{name}: {answer}" for name, answer in self.checks.items())


def check_readiness(
    store: Store, broker_ping: Callable[[], object] | None, outages: Outages | None = None
) -> Readiness:
    """Ask the store, its schema and (when there is one to ask) the broker; log an outage once."""
    result = Readiness()
    result.checks["store"] = _ask(lambda: store.probe(), "store health check", outages)
    if result.checks["store"] == "ok":
        try:
            store.check_schema()
            result.checks["schema"] = "ok"
        except SchemaError as exc:
            result.checks["schema"] = str(exc)
        except Exception as exc:
            result.checks["schema"] = one_line(exc)
    else:
        result.checks["schema"] = "unknown"
    if broker_ping is not None:
        result.checks["broker"] = _ask(broker_ping, "broker health check", outages)
    return result


def _ask(check: Callable[[], object], where: str, outages: Outages | None) -> str:
    """``ok``, or the error in one line; a ping that answers False is ``down``."""
    try:
        answer = check()
    except Exception as exc:
        if outages is not None:
            outages.failed(where, exc)
        return "down: " + one_line(exc)
    if answer is False:
        return "down"
    if outages is not None:
        outages.ok(where)
    return "ok"
