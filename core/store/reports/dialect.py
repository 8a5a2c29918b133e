"""Date arithmetic, the one thing SQLite and PostgreSQL spell differently.

Every other query of the report is plain SQLAlchemy Core; :class:`plus_days`
lets them add days to a stored UTC time without knowing which store they run on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from dunning.core.store.schema import UTCDateTime

__all__ = ["plus_days"]


class plus_days(FunctionElement[Any]):
    """``moment + N days`` for a stored UTC time, in each dialect's own spelling."""

    type = UTCDateTime()
    inherit_cache = False

    def __init__(self, moment: ColumnElement[Any], days: int) -> None:
        self.days = int(days)
        super().__init__(moment)


@compiles(plus_days)
def _plus_days_postgresql(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    moment = compiler.process(next(iter(element.clauses)), **kw)
    return f"({moment} + INTERVAL '{element.days} days')"


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps times as 'YYYY-MM-DD HH:MM:SS.ffffff' text and strftime gives milliseconds:
    # the trailing 999 makes a time exactly on the boundary compare as inside it.
    moment = compiler.process(next(iter(element.clauses)), **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', {moment}, '+{element.days} days') || '999')"
