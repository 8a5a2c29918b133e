"""The store: cases, events, the outbox of intents, attempts and the audit trail."""

from __future__ import annotations

from dunning.core.store.store import Store, open_store

__all__ = ["Store", "open_store"]
