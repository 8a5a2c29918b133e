"""A case's timeline: every decision, intent, provider callback and event, in order, with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dunning.core.domain.zones import candidate_zones
from dunning.core.store import Store
from dunning.core.store.schema import audit, cases

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
    """The case's timeline, oldest first; None when there is no such case."""
    with store.read() as conn:
        case = conn.execute(select(cases.c.timezone, cases.c.phone).where(cases.c.case_id == case_id)).first()
        if case is None:
            return None
        zone = candidate_zones(case.timezone, case.phone, default_timezone)[0]
        rows = conn.execute(select(audit).where(audit.c.case_id == case_id).order_by(audit.c.at, audit.c.id))
        return [
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
