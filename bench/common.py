"""Shared by the benchmark scripts: the machine's description, peak memory, throwaway stores."""

from __future__ import annotations

import os
import platform
import resource
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: One text a week apart: every planned reminder is a first SMS (the delivery benchmarks).
ONE_TEXT_POLICY = """
name: bench
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l: {steps: [{channel: sms, template: overdue_notice, wait: 7d}]}
"""


def machine() -> str:
    """Cores, CPU model, memory and Python: printed with every figure."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(
            next(
                x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")
            ).split()[1]
        )
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (
        f"{os.cpu_count()} cores ({model}){memory}; Python {platform.python_version()} on {platform.system()}"
    )


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MiB."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 if sys.platform != "darwin" else usage / 1024 / 1024


@contextmanager
def throwaway_store(backend: str, workdir: Path, pg_url: str = DEFAULT_PG) -> Iterator[str]:
    """A database URL for one run: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
