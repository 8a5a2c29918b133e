"""Alembic migrations of the store, run by ``dunning db upgrade`` (and on first use)."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

__all__ = ["alembic_config", "current_revision", "head_revision", "is_known_revision"]


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config that migrates over ``connection`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", "dunning.core.store:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The latest migration this version of dunning knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations (else it is newer)."""
    return any(
        script.revision == revision
        for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def current_revision(connection: Connection) -> str | None:
    """The store's revision, None when it has no schema yet."""
    return MigrationContext.configure(connection).get_current_revision()
