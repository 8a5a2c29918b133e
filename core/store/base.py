"""The store's engine, transactions and migrations.

SQLite (the embedded default, a file) and PostgreSQL (by URL) behave alike:
``write()`` is one write transaction (``BEGIN IMMEDIATE`` on SQLite, so two
writers queue instead of failing half-way), ``read()`` a read transaction.
The schema is created and upgraded by Alembic (:meth:`StoreBase.migrate`,
one process at a time: see :mod:`dunning.core.store.upgrade`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from dunning.core.store.gate import CaseGate, FileGate, PostgresGate
from dunning.core.store.upgrade import Upgrade, check_schema, upgrade

__all__ = ["StoreBase", "normalise_url"]

#: How long a SQLite writer waits for another before giving up (seconds).
SQLITE_BUSY_TIMEOUT = 60
#: A pooled PostgreSQL connection idle for longer than this (seconds) is pinged before
#: use, and replaced if the server has let it go (a restart, an idle timeout on the way).
#: One in steady use is not: a ping per checkout would be a round trip on every
#: delivery and every API request. If such a connection turns out dead, that operation
#: fails as in any outage (retried; the pool is renewed) and the next one gets a new one.
PING_AFTER_IDLE = 5.0
#: SQLite's page cache per connection, in KiB.
SQLITE_CACHE_KIB = 65536


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class StoreBase:
    """Engine, transactions, gate and migrations; the operations live in mixins."""

    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 10.0) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self.engine: Engine = self._make_engine(pool_size)
        self.gate: CaseGate = self._make_gate(parsed.database)

    # ------------------------------------------------------------ set-up

    def _make_engine(self, pool_size: int) -> Engine:
        if self.dialect == "sqlite":
            engine = create_engine(
                self.url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=self.pool_timeout,
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
            return engine
        if self.dialect == "postgresql":
            # Plain executemany: psycopg pipelines one prepared statement, where one giant
            # multi-row INSERT per page costs more to build and parse than it saves.
            engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=self.pool_timeout,
                use_insertmanyvalues=False,
            )
            event.listen(engine, "connect", _postgres_on_connect)
            event.listen(engine, "checkin", _note_idle)
            event.listen(engine, "checkout", _pinging_if_idle(engine))
            return engine
        raise ValueError(f"unsupported database {self.dialect!r}: use sqlite:/// or postgresql://")

    def _make_gate(self, database: str | None) -> CaseGate:
        if self.dialect == "postgresql":
            return PostgresGate()
        if database and database != ":memory:":
            return FileGate(Path(database + ".locks"))
        return FileGate(None)

    def migrate(self) -> Upgrade:
        """Create or upgrade the schema to the latest migration, one process at a time."""
        return upgrade(self.engine)

    def check_schema(self) -> None:
        """Raise :class:`~dunning.core.errors.SchemaError` if the schema is absent or behind."""
        check_schema(self.engine)

    def has_schema(self) -> bool:
        return "cases" in inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction; committed on success, rolled back on error."""
        with self.engine.connect() as conn:
            conn.execution_options(dunning_write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection whose transactions the caller manages (deliveries)."""
        with self.engine.connect() as conn:
            conn.execution_options(dunning_write=True)
            yield conn

    def probe(self) -> None:
        """Raise whatever the database raises if it cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")


def _postgres_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # psycopg prepares a statement after a few runs, and PostgreSQL may then reuse one
    # generic plan; a plan made while a table was nearly empty (the first tick after an
    # import) scans it whole ever after. Plan each run for its own parameters instead.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _pinging_if_idle(engine: Engine) -> Any:
    """A checkout listener that pings a connection which sat idle in the pool.

    A dead one raises DisconnectionError, on which the pool replaces it with a
    fresh connection (and renews the connections older than it).
    """
    dialect = engine.dialect

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.DisconnectionError(f"an idle pooled connection was lost: {exc}") from exc

    return ping_if_idle


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred and late).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
    # A page cache of 64 MiB (the default is 2 MiB): a tick's writes land all over a large portfolio.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("dunning_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
