"""The case gate: a payment waits for in-flight sends of its case, and stops the rest.

A delivery holds the gate *shared* for its case from its re-check until the
provider has answered; recording a payment (or an opt-out, a dispute) takes
it *exclusive* inside its transaction. So a send either finished before the
payment committed, or starts after it and sees the payment in its re-check:
no reminder leaves after a committed payment.

PostgreSQL: advisory locks (shared session lock for a delivery, exclusive
transaction lock for a stop). SQLite, one machine: a reader-writer lock per
bucket within the process plus ``flock`` on a bucket file across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

__all__ = ["CaseGate", "FileGate", "PostgresGate", "gate_key"]

#: Buckets of the SQLite gate; cases hash into them.
BUCKETS = 1024


def gate_key(case_id: str) -> int:
    """A stable signed 64-bit key for a case (PostgreSQL advisory locks take bigint)."""
    digest = hashlib.blake2b(case_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class CaseGate:
    """Interface of both gates."""

    def shared(self, conn: Connection, case_id: str) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def exclusive(
        self, conn: Connection | None, case_ids: Sequence[str]
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the gate of every case while the caller records a stop (payment, opt-out, ...).

        ``conn`` is the transaction the locks belong to (PostgreSQL); the file gate needs none.
        """
        raise NotImplementedError


class PostgresGate(CaseGate):
    """Advisory locks: shared by deliveries, exclusive by stops."""

    @contextlib.contextmanager
    def shared(self, conn: Connection, case_id: str) -> Iterator[None]:
        key = {"k": gate_key(case_id)}
        _outside_transaction(conn, _LOCK_SHARED, key)
        try:
            yield
        finally:
            try:
                if conn.in_transaction():
                    conn.rollback()
                _outside_transaction(conn, _UNLOCK_SHARED, key)
            except Exception:
                conn.invalidate()  # a pooled session must not keep the lock: closing it releases it
                raise

    @contextlib.contextmanager
    def exclusive(self, conn: Connection | None, case_ids: Sequence[str]) -> Iterator[None]:
        # Transaction locks, in key order: released when the caller's transaction ends.
        if conn is None:
            raise ValueError("the PostgreSQL gate locks inside a transaction: pass its connection")
        for key in sorted({gate_key(case_id) for case_id in case_ids}):
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        yield


_LOCK_SHARED = text("SELECT pg_advisory_lock_shared(:k)")
_UNLOCK_SHARED = text("SELECT pg_advisory_unlock_shared(:k)")


def _outside_transaction(conn: Connection, statement: Any, params: dict[str, Any]) -> None:
    """Run one statement in autocommit: a session lock needs no BEGIN and COMMIT round trips."""
    default = conn.default_isolation_level
    conn.execution_options(isolation_level="AUTOCOMMIT")
    try:
        conn.execute(statement, params)
    finally:
        if conn.in_transaction():
            conn.rollback()  # in autocommit this only ends SQLAlchemy's own transaction, failed or not
        conn.execution_options(isolation_level=default)


class _RWLock:
    """Many readers or one writer, within one process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


class FileGate(CaseGate):
    """For SQLite: a thread lock and a file lock per bucket, held as the gate needs."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._locks = [_RWLock() for _ in range(BUCKETS)]

    def _bucket(self, case_id: str) -> int:
        return gate_key(case_id) % BUCKETS

    @contextlib.contextmanager
    def _file(self, bucket: int, mode: int) -> Iterator[None]:
        if self.directory is None:
            yield
            return
        fd = os.open(self.directory / f"{bucket:04d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    @contextlib.contextmanager
    def shared(self, conn: Connection, case_id: str) -> Iterator[None]:
        bucket = self._bucket(case_id)
        with self._locks[bucket].read(), self._file(bucket, fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def exclusive(self, conn: Connection | None, case_ids: Sequence[str]) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for bucket in sorted({self._bucket(case_id) for case_id in case_ids}):
                lock = self._locks[bucket]
                lock.acquire_write()
                stack.callback(lock.release_write)
                stack.enter_context(self._file(bucket, fcntl.LOCK_EX))
            yield
