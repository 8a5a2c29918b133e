"""What ``dunning demo`` reads back to tell its story: the outbox, sends, statuses, audit rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, func, select

from dunning.core.store.schema import audit, cases, intents, outbox_messages

__all__ = ["audit_rules", "case_statuses", "outbox_after", "sent_count", "sent_per_channel"]


def outbox_after(conn: Connection, seen: int) -> list[Row[Any]]:
    """(case_id, channel) of the messages the outbox channel wrote after the first ``seen``."""
    query = select(outbox_messages.c.case_id, outbox_messages.c.channel).order_by(outbox_messages.c.id)
    return list(conn.execute(query.offset(seen)))


def sent_per_channel(conn: Connection) -> dict[str, int]:
    query = (
        select(intents.c.channel, func.count()).where(intents.c.state == "sent").group_by(intents.c.channel)
    )
    return {channel: int(count) for channel, count in conn.execute(query).all()}


def case_statuses(conn: Connection) -> dict[str, int]:
    query = select(cases.c.status, func.count()).group_by(cases.c.status)
    return {status: int(count) for status, count in conn.execute(query).all()}


def audit_rules(conn: Connection) -> list[Row[Any]]:
    """(action, rule, kind, case_id) of every audit row."""
    return list(conn.execute(select(audit.c.action, audit.c.rule, audit.c.kind, audit.c.case_id)))


def sent_count(conn: Connection, *, joined: bool = False, template: str | None = None) -> int:
    """Reminders sent: all, only those that went in another loan's message, or of one template."""
    query = select(func.count()).where(intents.c.state == "sent")
    if joined:
        query = query.where(intents.c.message_id != intents.c.intent_id)
    if template is not None:
        query = query.where(intents.c.template == template)
    return int(conn.scalar(query) or 0)
