"""Telling a store outage from a bad row: the first stops a tick, the second parks one case."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

__all__ = ["StoreError", "is_outage", "refusal", "refused"]

#: Whatever the store raises when it fails (an outage or a refusal).
StoreError = sa_exc.SQLAlchemyError


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


def refused(error: BaseException) -> bool:
    """Whether the database turned the data down (rather than being unreachable or busy)."""
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    return isinstance(error, sa_exc.StatementError | ValueError | OverflowError | TypeError)


def refusal(error: BaseException) -> str:
    """Why the database refused a row, naming the column when it says which, never the values."""
    original = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    diag = getattr(original, "diag", None)
    column = getattr(diag, "column_name", None)
    constraint = getattr(diag, "constraint_name", None)
    detail = type(original).__name__ + (f", constraint {constraint}" if constraint else "")
    return f"{column or 'row'}: the database refused it ({detail})"
