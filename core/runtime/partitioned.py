"""A tick split across processes, one partition of the portfolio each.

The engine and the row handling are Python, so one process uses one core;
partitions (a stable hash of the debtor id) let several processes share a tick
without ever deciding the same case twice. On PostgreSQL they write in
parallel; on SQLite their writes take turns, and the deciding still runs in
parallel.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import datetime

from dunning.core.runtime.runtime import build_runtime
from dunning.core.runtime.scheduler import TickReport, tick
from dunning.core.settings import Settings

__all__ = ["partitioned_tick"]


def _one(settings: Settings, now: datetime, dry_run: bool | None) -> tuple[int, int, dict[str, int]]:
    rt = build_runtime(settings, dry_run=dry_run, clock=lambda: now, migrate=False)
    try:
        report = tick(rt, now)
    finally:
        rt.close()
    return report.cases, report.planned, dict(report.actions)


def partitioned_tick(
    settings: Settings, now: datetime, processes: int, *, dry_run: bool | None = None
) -> TickReport:
    """Decide every due case once, with ``processes`` processes each taking one partition."""
    if processes <= 1:
        rt = build_runtime(settings, dry_run=dry_run, clock=lambda: now)
        try:
            return tick(rt, now)
        finally:
            rt.close()
    parts = [
        settings.model_copy(update={"scheduler_partitions": processes, "scheduler_partition": i})
        for i in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_one, [(part, now, dry_run) for part in parts])
    report = TickReport()
    for decided, planned, actions in results:
        report.cases += decided
        report.planned += planned
        report.actions.update(Counter(actions))
    return report
