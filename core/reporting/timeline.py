"""A case's timeline: every decision, intent, provider callback and event, in order, with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dunning.core.domain.model import Event
from dunning.core.domain.standing import RIGHTS
from dunning.core.domain.zones import candidate_zones
from dunning.core.store import Store

__all__ = ["TimelineEntry", "timeline"]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    local: datetime
    kind: str  #: decision | intent | event | case | callback | queue | reveal
    action: str
    channel: str | None
    step: int | None
    rule: str | None
    intent_id: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "local": self.local.isoformat(),
            "kind": self.kind,
            "action": self.action,
            "channel": self.channel,
            "step": self.step,
            "rule": self.rule,
            "intent_id": self.intent_id,
            **({"detail": self.detail} if self.detail else {}),
        }


def timeline(store: Store, case_id: str, default_timezone: str | None = None) -> list[TimelineEntry] | None:
    """The case's timeline, oldest first; None when there is no such case.

    Besides the case's own record, it shows the rights recorded elsewhere that
    bind it: the person's opt-outs made on another of their loans, and those
    recorded on one of its contact points by anyone who shares it.
    """
    with store.read() as conn:
        case = store.case_contact(conn, case_id)
        if case is None:
            return None
        zone = candidate_zones(case.timezone, case.phone, default_timezone)[0]
        rows = store.audit_of(conn, case_id)
        own = [
            TimelineEntry(
                at=row.at,
                local=row.at.astimezone(zone),
                kind=row.kind,
                action=row.action,
                channel=row.channel,
                step=row.step,
                rule=row.rule,
                intent_id=row.intent_id,
                detail=dict(row.detail or {}),
            )
            for row in rows
        ]
        addresses = [a for a in (case.phone, case.push_token) if a]
        bound = [
            _binding(event, case.debtor_id, zone)
            for event in store.rights_events(conn, case.debtor_id, addresses)
            if event.case_id != case_id
            and (event.address is None or event.address in addresses)
            and event.kind in RIGHTS
        ]
    return sorted(own + bound, key=lambda entry: entry.at)


def _binding(event: Event, debtor_id: str, zone: Any) -> TimelineEntry:
    """A right recorded elsewhere that binds this case: on the person, or on a shared contact point."""
    scope = (
        "person" if event.address is None else ("number" if event.debtor_id == debtor_id else "shared_number")
    )
    return TimelineEntry(
        at=event.at,
        local=event.at.astimezone(zone),
        kind="event",
        action=str(event.kind),
        channel=event.channel,
        step=None,
        rule=scope,
        intent_id=None,
        detail={
            "source": event.source,
            "recorded_on": "another loan" if event.debtor_id == debtor_id else "another person",
        },
    )
