"""A dry run of one case through time: what the policy would do, and why.

``explain`` steps a simulated clock from ``start`` for ``days``, calling the
pure engine whenever the case is due or an event arrives, and records every
contact it would make (assumed sent, no answer) and every deferral,
suppression, stop and hold, each with the rule that caused it. The debtor's
answers and payments before ``start`` teach a learned send time its hour.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dunning.core.domain.engine import Action, decide
from dunning.core.domain.learning import response_hours
from dunning.core.domain.model import Case, Contact, ContactStatus, Event, History, utc
from dunning.core.domain.zones import candidate_zones
from dunning.core.policy.model import Policy

__all__ = ["ExplainedAction", "explain"]

#: A dry run stops after this many engine calls, whatever the period.
MAX_CALLS = 10_000


@dataclass(frozen=True)
class ExplainedAction:
    """One line of a dry run: the engine's action and the local time it happened."""

    action: Action
    local: datetime

    def to_json(self) -> dict[str, Any]:
        a = self.action
        out: dict[str, Any] = {
            "at": a.at.isoformat().replace("+00:00", "Z"),
            "local": self.local.isoformat(),
            "action": a.kind,
            "channel": a.channel,
            "step": a.step,
            "template": a.template,
            "rule": a.rule,
        }
        if a.variant:
            out["variant"] = a.variant
        if a.until is not None:
            out["until"] = a.until.isoformat().replace("+00:00", "Z")
        if a.segment:
            out["segment"] = a.segment
            out["ladder"] = a.ladder
        if a.cycle is not None:
            out["cycle"] = a.cycle
        if a.strategy:
            out["strategy"] = a.strategy
        return out


def explain(
    case: Case,
    policy: Policy,
    start: datetime,
    days: int,
    events: Sequence[Event] = (),
) -> list[ExplainedAction]:
    """Every action the policy would take for ``case`` from ``start`` over ``days``."""
    return list(_run(case, policy, utc(start), utc(start) + timedelta(days=days), events))


def _run(
    case: Case, policy: Policy, start: datetime, end: datetime, events: Sequence[Event]
) -> Iterator[ExplainedAction]:
    zone = candidate_zones(case.timezone, case.phone, policy.default_timezone)[0]
    hours = response_hours([e for e in events if e.at <= start], zone)
    history = History(events=tuple(sorted(events, key=lambda e: e.at)), response_hours=hours)
    arrivals = sorted({e.at for e in events if e.at > start})
    seen: set[tuple[Any, ...]] = set()
    now = start
    for _ in range(MAX_CALLS):
        if now > end:
            return
        decision = decide(case, history, policy, now)
        for action in decision.actions:
            key = (action.kind, action.step, action.cycle, action.rule, action.until, action.seq)
            if action.kind != "send" and key in seen:
                continue
            seen.add(key)
            yield ExplainedAction(action, action.at.astimezone(zone))
            if action.kind == "send":
                history = history.with_contact(_contact(case, action))
        upcoming = [t for t in arrivals if t > now]
        candidates = [t for t in (decision.next_check, upcoming[0] if upcoming else None) if t]
        if not candidates:
            return
        now = min(candidates)


def _contact(case: Case, action: Action) -> Contact:
    assert action.intent_id and action.channel and action.ladder is not None
    return Contact(
        intent_id=action.intent_id,
        case_id=case.case_id,
        channel=action.channel,
        ladder=action.ladder,
        step=action.step or 0,
        cycle=action.cycle or 0,
        seq=action.seq or 0,
        at=action.at,
        status=ContactStatus.SENT,
    )
