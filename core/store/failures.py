"""Telling a store outage from a bad row: the first stops a tick, the second parks one case."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

__all__ = ["is_outage"]


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means the store cannot be reached or is busy, rather than refusing one row.

    Connection failures, timeouts, a pool with no free connection and SQLite's
    "database is locked" are outages: retrying later helps everyone, and
    parking a case for them would be wrong. Anything else (a value too long,
    a constraint, a bind that cannot be converted) concerns the row at hand.
    """
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError,
    )
