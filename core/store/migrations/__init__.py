"""Alembic migrations of the store, run by ``dunning db upgrade`` (and on first use)."""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import Connection

__all__ = ["alembic_config"]


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that migrates over ``connection`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", "dunning.core.store:migrations")
    config.attributes["connection"] = connection
    return config
