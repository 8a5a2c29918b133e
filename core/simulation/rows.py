"""The store rows a simulated run writes, built as the scheduler, the worker and the store build them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dunning.core.domain.model import Case, Event
from dunning.core.store.cases import case_values
from dunning.core.store.events import event_values

__all__ = ["Rows", "attempt_row", "audit_row", "case_row", "event_row"]


@dataclass
class Rows:
    """Store rows of a simulated run, ready for a bulk insert."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    debtors: list[dict[str, Any]] = field(default_factory=list)
    intents: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        """Append another run's rows (a later chunk of debtors)."""
        for name in ("cases", "debtors", "intents", "events", "audit", "attempts"):
            getattr(self, name).extend(getattr(other, name))


def event_row(event: Event, debtor_id: str) -> dict[str, Any]:
    """An event as the store records it (source ``simulation``, recorded when it happened)."""
    return event_values(event, debtor_id, "simulation", event.at)


def audit_row(
    at: datetime,
    case_id: str,
    kind: str,
    action: str,
    channel: str | None = None,
    step: int | None = None,
    intent_id: str | None = None,
    rule: str | None = None,
) -> dict[str, Any]:
    """An audit row, with every column named (a bulk insert takes the first row's columns)."""
    return {
        "at": at,
        "case_id": case_id,
        "kind": kind,
        "action": action,
        "channel": channel,
        "step": step,
        "rule": rule,
        "intent_id": intent_id,
        "detail": None,
    }


def attempt_row(intent: dict[str, Any], at: datetime, outcome: str) -> dict[str, Any]:
    """One try of an intent at the provider, as the delivery worker records it."""
    return {
        "intent_id": intent["intent_id"],
        "case_id": intent["case_id"],
        "channel": intent["channel"],
        "at": at,
        "outcome": outcome,
        "provider_id": None,
        "error_code": None,
        "detail": "simulated",
    }


def case_row(case: Case, start: datetime, last: datetime, **outcome: Any) -> dict[str, Any]:
    """A case as the store keeps it; ``outcome`` holds status, segment, ladder, next check, closure, promise."""
    closed = outcome.get("closed_at")
    return {
        "case_id": case.case_id,
        **case_values(case),
        "amount_due": case.amount_due,
        "original_amount": case.amount_due,
        "amount_as_of": start,
        "status": outcome["status"],
        "segment": outcome["segment"],
        "ladder": outcome["ladder"],
        "next_check_at": outcome["next_check_at"],
        "created_at": start,
        "updated_at": closed or last,
        "closed_at": closed,
        "promise_until": outcome["promise_until"],
        "attributes": dict(case.attributes) or None,
    }
