"""Promises to pay as the store recorded them, for the promise-kept rate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from dunning.core.domain.model import EventKind
from dunning.core.store.schema import events

__all__ = ["promise_events"]


def promise_events(conn: Connection) -> list[Row[Any]]:
    """(case_id, at, date) of every promise, in the order they were made (``date`` may be NULL)."""
    e = events.c
    query = select(e.case_id, e.at, e.date).where(e.kind == EventKind.PROMISE).order_by(e.case_id, e.at, e.id)
    return list(conn.execute(query))
