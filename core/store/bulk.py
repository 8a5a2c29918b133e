"""Many rows in one go, straight through the database driver: the tick's writes.

The scheduler writes thousands of rows per page (case updates, intents, audit
rows). Through SQLAlchemy each value passes its type's bind processor and
each row its parameter dictionary; here the values are converted once per
column, by a converter chosen from the column's type, and handed to the driver
whole: one ``executemany`` on SQLite (a loop in C), one statement over
``unnest`` arrays on PostgreSQL (one round trip; the arrays go in binary, which
the server takes in far less time than their text, and ``RETURNING`` says which
rows it touched).

Values are stored exactly as SQLAlchemy stores them (the same text for a time
on SQLite, the same JSON), so every other read and comparison sees no
difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Connection, Table, TypeDecorator
from sqlalchemy.engine import Dialect

from dunning.core.store.schema import UTCDateTime

__all__ = [
    "fetch",
    "insert_rows",
    "mark",
    "pg_array_type",
    "read_rows",
    "result_value",
    "sqlite_time",
    "sqlite_value",
]

Convert = Callable[[Any], Any]


@lru_cache(maxsize=4096)
def sqlite_time(value: datetime | None) -> str | None:
    """An aware time as SQLAlchemy keeps it in SQLite: naive UTC text with microseconds.

    Cached: a page's rows share a handful of times (the tick's own above all).
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} cannot be stored")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _json_of(column_type: JSON) -> Convert:
    """JSON text as SQLAlchemy writes it: a none is JSON's ``null`` unless the column keeps it as NULL."""
    return _json if column_type.none_as_null else json.dumps


def _bool(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _same(value: Any) -> Any:
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} cannot be stored")
    return value


def sqlite_value(column_type: Any, dialect: Dialect) -> Convert:
    """How a value of this column type goes to SQLite: as SQLAlchemy's own bind processor sends it.

    Times, the bulk of the values, flags and JSON take a shortcut that writes the same.
    """
    if isinstance(column_type, UTCDateTime):
        return sqlite_time
    if isinstance(column_type, Boolean):
        return _bool
    if isinstance(column_type, JSON):
        return _json_of(column_type)
    process = column_type.bind_processor(dialect)
    return process if process is not None else _same


def _pg_value(column_type: Any) -> Convert:
    """How a value of this column type goes into a PostgreSQL array parameter."""
    if isinstance(column_type, JSON):
        return _json_of(column_type)  # sent as text, cast to json in the statement
    if isinstance(column_type, UTCDateTime):
        return _aware
    return _same


def pg_array_type(conn: Connection, column_type: Any) -> str:
    """The SQL type of an array parameter holding this column's values (JSON travels as text)."""
    if isinstance(column_type, JSON):
        return "text[]"
    return f"{column_type.compile(dialect=conn.dialect)}[]"


def _pg_select(conn: Connection, table: Table, columns: Sequence[str]) -> str:
    """``SELECT`` of one row per index of the array parameters, one array per column."""
    arrays = ", ".join(f"%b::{pg_array_type(conn, table.c[name].type)}" for name in columns)
    names = ", ".join(f'"{name}"' for name in columns)
    casts = ", ".join(
        f'v."{name}"::json' if isinstance(table.c[name].type, JSON) else f'v."{name}"' for name in columns
    )
    return f"SELECT {casts} FROM unnest({arrays}) AS v({names})"


def pg_arrays(table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """One array per column, its values converted for PostgreSQL."""
    out = []
    for name in columns:
        convert = _pg_value(table.c[name].type)
        out.append([convert(row[name]) for row in rows])
    return out


def _sqlite_params(
    converters: Sequence[Convert], columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> list[list[Any]]:
    """Each row's values in column order, converted where the column's type asks for it."""
    get = itemgetter(*columns)
    convert = [(i, c) for i, c in enumerate(converters) if c is not _same]
    params = []
    for row in rows:
        values = list(get(row)) if len(columns) > 1 else [get(row)]
        for i, c in convert:
            values[i] = c(values[i])
        params.append(values)
    return params


def _complete(table: Table, rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """Rows with the same keys: a column some row leaves out takes its default (else none)."""
    keys = rows[0].keys()
    if all(row.keys() == keys for row in rows):
        return rows
    seen = {k for row in rows for k in row}
    columns = [c.name for c in table.columns if c.name in seen]
    defaults = {
        name: table.c[name].default.arg  # type: ignore[union-attr]
        for name in columns
        if table.c[name].default is not None and table.c[name].default.is_scalar  # type: ignore[union-attr]
    }
    return [{name: row.get(name, defaults.get(name)) for name in columns} for row in rows]


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_on: str | None = None,
) -> list[Any]:
    """Insert ``rows`` (all with the same keys); with ``ignore_on``, skip rows whose key exists.

    Returns the ``ignore_on`` values of the rows inserted (an empty list without it).
    On PostgreSQL that is exact even against a concurrent writer; on SQLite it is
    every row's key, the caller having left out the keys it found (writers take
    turns there, so none appears in between).
    """
    if not rows:
        return []
    rows = _complete(table, rows)
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        statement = f'INSERT INTO "{table.name}" ({names}) {_pg_select(conn, table, columns)}'
        if ignore_on is None:
            with raw.cursor(binary=True) as cursor:
                cursor.execute(statement, pg_arrays(table, columns, rows))
            return []
        statement += f' ON CONFLICT DO NOTHING RETURNING "{ignore_on}"'
        with raw.cursor(binary=True) as cursor:
            cursor.execute(statement, pg_arrays(table, columns, rows))
            return [row[0] for row in cursor.fetchall()]
    converters = [sqlite_value(table.c[name].type, conn.dialect) for name in columns]
    marks = ", ".join("?" for _ in columns)
    conflict = " ON CONFLICT DO NOTHING" if ignore_on is not None else ""
    params = _sqlite_params(converters, columns, rows)
    cursor = raw.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}){conflict}', params)
    finally:
        cursor.close()
    return [row[ignore_on] for row in rows] if ignore_on is not None else []


def _sqlite_json_value(value: str | None) -> Any:
    """A JSON column's text back to Python; the empty list and mapping most rows carry, at once."""
    if value == "[]":
        return []
    if value == "{}":
        return {}
    return None if value is None else json.loads(value)


def _sqlite_time_value(value: str | None) -> datetime | None:
    """A time as SQLite keeps it (naive UTC text) back to an aware UTC time."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def result_value(column_type: Any, dialect: Dialect) -> Convert | None:
    """How a value of this column type comes back from the driver, as SQLAlchemy would bring it (None: as is)."""
    if dialect.name == "postgresql":
        # psycopg brings JSON, dates and numbers as Python's own; dunning's types finish the job.
        if isinstance(column_type, TypeDecorator):
            return partial(column_type.process_result_value, dialect=dialect)
        return None
    if isinstance(column_type, UTCDateTime):
        return _sqlite_time_value
    if isinstance(column_type, JSON):
        return _sqlite_json_value
    process: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).result_processor(dialect, None)
    return process


def read_rows(
    conn: Connection, columns: Sequence[Column[Any]], statement: str, params: Any
) -> list[dict[str, Any]]:
    """Rows of ``statement`` (which selects ``columns``, in order) as dicts, each value converted once.

    ``statement`` marks its parameters in the driver's style (:func:`mark`).
    """
    found = fetch(conn, statement, params)
    names = [column.name for column in columns]
    convert = [(c.name, p) for c in columns if (p := result_value(c.type, conn.dialect)) is not None]
    out = []
    for values in found:
        row = dict(zip(names, values, strict=True))
        for name, process in convert:
            row[name] = process(row[name])
        out.append(row)
    return out


def fetch(conn: Connection, statement: str, params: Any) -> list[Any]:
    """Every row of ``statement`` as the driver gives it (PostgreSQL's in binary, which reads faster)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    binary = {"binary": True} if conn.dialect.name == "postgresql" else {}
    cursor = raw.cursor(**binary)
    try:
        cursor.execute(statement, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def mark(conn: Connection) -> str:
    """The driver's mark for a positional parameter."""
    return "%s" if conn.dialect.name == "postgresql" else "?"
