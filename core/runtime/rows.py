"""The rows a decision writes: its intents (the outbox) and its audit trail.

One home for both writers of decisions: the scheduler tick, which commits
them to the store, and ``dunning simulate``, which writes the same rows into
a simulated store so that the report reads it like a real one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dunning.core.domain.engine import Decision
from dunning.core.domain.model import Case, IntentState

__all__ = ["audit_rows", "intent_rows"]


def intent_rows(case: Case, decision: Decision, now: datetime) -> list[dict[str, Any]]:
    """One planned outbox row per ``send`` of the decision, under the intent's deterministic id."""
    return [
        {
            "intent_id": a.intent_id,
            "case_id": case.case_id,
            "debtor_id": case.debtor_id,
            "channel": a.channel,
            "ladder": a.ladder,
            "segment": a.segment,
            "step": a.step,
            "cycle": a.cycle,
            "seq": a.seq,
            "template": a.template,
            "variant": a.variant,
            "message_id": a.message_id or a.intent_id,
            "strategy": a.strategy,
            "state": IntentState.PLANNED,
            "planned_at": now,
            "not_before": now,
            "contact_at": now,
            "attempts": 0,
            "connected": False,
            "updated_at": now,
        }
        for a in decision.sends
    ]


def audit_rows(decision: Decision) -> list[dict[str, Any]]:
    """One audit row per action, its segment, ladder, deadline, template, variant and strategy in detail."""
    rows = []
    for a in decision.actions:
        detail: dict[str, Any] = {"segment": a.segment, "ladder": a.ladder}
        if a.until is not None:
            detail["until"] = a.until.isoformat()
        if a.template:
            detail["template"] = a.template
        if a.variant:
            detail["variant"] = a.variant
        if a.strategy:
            detail["strategy"] = a.strategy
        rows.append(
            {
                "at": a.at,
                "case_id": decision.case_id,
                "kind": "decision",
                "action": a.kind,
                "channel": a.channel,
                "step": a.step,
                "rule": a.rule,
                "intent_id": a.intent_id,
                "detail": detail,
            }
        )
    return rows
