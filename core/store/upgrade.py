"""Migrating the schema one process at a time, and checking it before serving.

Many processes may open a fresh store at once (a fleet started together, or
several embedded commands). Each migration runs under a lock held by the
database itself — a PostgreSQL session-level advisory lock on a fixed key, or
SQLite's write lock taken by ``BEGIN IMMEDIATE`` — so the first migrates and
the others, once they have the lock, find the schema current and do nothing.
Workers and schedulers do not migrate: they check the schema and refuse to
start, naming ``dunning db upgrade``, when it is absent or behind.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from dunning.core.errors import SchemaError
from dunning.core.store.migrations import (
    alembic_config,
    current_revision,
    head_revision,
    is_known_revision,
)

__all__ = ["MIGRATION_LOCK_KEY", "Upgrade", "check_schema", "upgrade"]

log = logging.getLogger(__name__)

#: The PostgreSQL advisory lock key held while migrating ("dunning" in ASCII).
MIGRATION_LOCK_KEY = 0x64756E6E696E67


@dataclass(frozen=True)
class Upgrade:
    """The store's schema revision before and after an upgrade."""

    before: str | None
    after: str | None

    def __str__(self) -> str:
        if self.before is None:
            return f"schema created at revision {self.after}"
        if self.before != self.after:
            return f"schema upgraded from revision {self.before} to {self.after}"
        return f"schema already at revision {self.after}"


def upgrade(engine: Engine) -> Upgrade:
    """Create or upgrade the schema to the latest migration, under the migration lock."""
    from alembic import command

    with engine.connect() as conn, _migration_lock(conn):
        # On SQLite the write transaction (BEGIN IMMEDIATE) is the lock.
        conn.execution_options(dunning_write=True)
        with conn.begin():
            before = current_revision(conn)
            command.upgrade(alembic_config(conn), "head")
            after = current_revision(conn)
    if before != after:
        log.info("store schema migrated from %s to %s", before, after)
    return Upgrade(before, after)


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaError` unless the schema is at this version's latest revision (or newer)."""
    with engine.connect() as conn:
        current = current_revision(conn)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaError("the store has no schema yet: run `dunning db upgrade` first")
    if is_known_revision(current):
        raise SchemaError(
            f"the store's schema is at revision {current} and this version needs {head}: "
            "run `dunning db upgrade` first"
        )
    log.warning("the store's schema is at revision %s, newer than this version's %s", current, head)


@contextlib.contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    """Hold PostgreSQL's migration advisory lock on ``conn`` (on SQLite, nothing to do here)."""
    if conn.dialect.name != "postgresql":
        yield
        return
    key = {"key": MIGRATION_LOCK_KEY}
    if not conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
        log.info("waiting for another process to finish migrating the store")
        conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
    conn.commit()
    try:
        yield
    finally:
        _unlock(conn, key)


def _unlock(conn: Connection, key: dict[str, int]) -> None:
    """Release the session-level lock; a connection that cannot is closed, which releases it too."""
    try:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        conn.commit()
    except Exception:
        log.warning("could not release the migration lock; closing its connection instead")
        conn.invalidate()
