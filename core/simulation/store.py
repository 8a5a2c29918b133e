"""A simulated run's rows, in a store of its own with the real schema.

The store is SQLite, created by the same migrations as a production store,
so that ``dunning report`` (and its SQL) reads it exactly as it reads a real
one — and an operator may keep it and query it afterwards. Chunks of rows
are written in chunk order, whatever order the workers finish them in, so a
run's store does not depend on how many workers made it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dunning.core.simulation.rows import Rows
from dunning.core.store import Store, open_store
from dunning.core.store.schema import attempts, audit, cases, debtors, events, insert_rows, intents

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["SimulationStore", "write_store"]

#: Rows per INSERT statement (SQLite's executemany, chunked to bound memory).
CHUNK = 5000


class SimulationStore:
    """A fresh store at ``path`` (any old one replaced) that takes numbered chunks of rows."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        for stale in (self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))):
            stale.unlink(missing_ok=True)
        self.store: Store = open_store(f"sqlite:///{self.path}")
        self._waiting: dict[int, Rows] = {}
        self._next = 0

    def add(self, index: int, rows: Rows) -> None:
        """Take chunk ``index``; write it, and any chunks after it that were waiting, in order."""
        self._waiting[index] = rows
        while self._next in self._waiting:
            ready = self._waiting.pop(self._next)
            with self.store.write() as conn:
                _insert_rows(conn, ready)
            self._next += 1


def write_store(path: str | Path, rows: Rows) -> Store:
    """A fresh store at ``path`` holding ``rows``, returned open."""
    target = SimulationStore(path)
    target.add(0, rows)
    return target.store


def _insert_rows(conn: Connection, rows: Rows) -> None:
    insert_rows(
        conn,
        [
            (debtors, rows.debtors),
            (cases, rows.cases),
            (intents, rows.intents),
            (events, rows.events),
            (audit, rows.audit),
            (attempts, rows.attempts),
        ],
        chunk=CHUNK,
    )
