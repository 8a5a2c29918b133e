"""The store as one object: cases, histories, the outbox and events together."""

from __future__ import annotations

from dunning.core.store.cases import CasesMixin
from dunning.core.store.events import EventsMixin
from dunning.core.store.history import HistoryMixin
from dunning.core.store.quarantine import QuarantineMixin

__all__ = ["Store", "open_store"]


class Store(EventsMixin, CasesMixin, HistoryMixin, QuarantineMixin):
    """SQLite or PostgreSQL, chosen by URL; the source of truth for every reminder."""


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url``, creating or upgrading its schema unless told not to."""
    store = Store(url)
    if migrate:
        store.migrate()
    return store
