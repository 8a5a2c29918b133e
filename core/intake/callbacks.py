"""A provider's status callback as dunning keeps it: its natural key, its timeline row, its proof of a person.

Providers retry a callback they think was lost, so each is applied once, by
its natural key: the channel, the provider's id of the message or call, the
status, and the call's ``SequenceNumber`` where the provider sends one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["PERSON", "StatusCallback", "conversation_event_id"]

#: ``AnsweredBy`` values that prove a person took the call; machines, faxes, ``unknown``
#: and no answer at all (detection off) prove nothing (Reg F counts a conversation only).
PERSON = frozenset({"human"})


@dataclass(frozen=True)
class StatusCallback:
    """One delivery-status callback: what the provider said about a message or call."""

    provider_id: str | None
    status: str
    code: str | None = None
    answered_by: str | None = None
    sequence: str | None = None

    @property
    def by_person(self) -> bool:
        """Whether the provider says a person answered the call."""
        return (self.answered_by or "").strip().lower() in PERSON

    def key(self, channel: str) -> str | None:
        """The natural key of this callback, or None without a provider id (nothing to match on)."""
        if not self.provider_id:
            return None
        key = f"{channel}:{self.provider_id}:{self.status}"
        return f"{key}:{self.sequence}" if self.sequence else key

    def audit_row(self, intent: Any, at: datetime) -> dict[str, Any]:
        """The callback's row in the case's timeline (no address, no message text)."""
        detail = {
            "status": self.status,
            "code": self.code,
            "answered_by": self.answered_by,
            "provider_id": self.provider_id,
        }
        return {
            "at": at,
            "case_id": intent.case_id,
            "kind": "callback",
            "action": self.status[:32],
            "channel": intent.channel,
            "step": intent.step,
            "rule": "provider",
            "intent_id": intent.intent_id,
            "detail": {k: v for k, v in detail.items() if v},
        }


def conversation_event_id(intent_id: str) -> str:
    """One conversation per call, however many times a person is proven on it."""
    return f"conversation:{intent_id}"
