"""A whole deployment on a simulated clock, for end-to-end tests of a ladder.

The embedded runtime (scheduler tick, sweeper, in-process Dramatiq worker)
runs with the channels the settings configure; the test moves the clock and
steps the runner, then reads what the store recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dunning.core.domain.model import Case
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.runtime.runtime import Runtime
from dunning.core.settings import Settings
from dunning.core.store.schema import attempts, events, intents

__all__ = ["World", "start_world"]


class World:
    """The runtime on a simulated clock, its embedded runner, and what the store says."""

    def __init__(self, rt: Runtime, runner: Embedded, clock: list[datetime]) -> None:
        self.rt, self.runner, self.clock = rt, runner, clock

    def step(self, after: timedelta = timedelta(0)) -> None:
        """Move the clock by ``after``, then sweep, tick and deliver once."""
        self.clock[0] += after
        self.runner.step()

    def run(self, days: float, every: timedelta = timedelta(hours=12)) -> None:
        """Let ``days`` pass, a step every ``every``."""
        end = self.clock[0] + timedelta(days=days)
        while self.clock[0] < end:
            self.clock[0] = min(end, self.clock[0] + every)
            self.runner.step()

    def intents(self) -> list[Any]:
        with self.rt.store.read() as conn:
            return list(conn.execute(select(intents).order_by(intents.c.case_id, intents.c.seq)))

    def sends(self) -> list[tuple[str, str]]:
        return [(row.channel, row.state) for row in self.intents()]

    def events(self) -> list[tuple[str, str | None, str | None]]:
        """Recorded events as (kind, channel, address), oldest first."""
        with self.rt.store.read() as conn:
            rows = conn.execute(
                select(events.c.kind, events.c.channel, events.c.address).order_by(events.c.id)
            )
            return [(row.kind, row.channel, row.address) for row in rows]

    def attempts(self, intent_id: str) -> list[tuple[str, str | None]]:
        """An intent's attempts as (outcome, provider error code), oldest first."""
        with self.rt.store.read() as conn:
            rows = conn.execute(
                select(attempts.c.outcome, attempts.c.error_code)
                .where(attempts.c.intent_id == intent_id)
                .order_by(attempts.c.id)
            )
            return [(row.outcome, row.error_code) for row in rows]

    def outcomes(self, intent_id: str) -> list[str]:
        """An intent's attempt outcomes, oldest first."""
        return [outcome for outcome, _code in self.attempts(intent_id)]

    def close(self) -> None:
        self.runner.stop()
        self.rt.close()


def start_world(
    directory: Path,
    database_url: str,
    policy: str,
    cases: Sequence[Case],
    clock: list[datetime],
    *,
    threads: int = 2,
    **settings: Any,
) -> World:
    """Write ``policy``, start the embedded runtime on ``clock`` and import ``cases`` at its time.

    ``settings`` are passed to :class:`Settings` (channel credentials, back-off, ...).
    """
    (directory / "policy.yaml").write_text(policy)
    rt = build_runtime(
        Settings(
            database_url=database_url,
            policy=str(directory / "policy.yaml"),
            public_url="http://127.0.0.1:9",
            **settings,
        ),
        clock=lambda: clock[0],
    )
    runner = Embedded(rt, threads=threads)
    runner.start()
    with rt.store.write() as conn:
        rt.store.upsert_cases(conn, list(cases), clock[0])
    return World(rt, runner, clock)
