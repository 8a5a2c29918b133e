"""``dunning worker --processes N``: start N worker processes, replace those that die, give up loudly.

Each child is a spawned process that tells its parent, over a pipe, that it
is ready or why it could not start. A child that dies unasked (killed by a
signal, crashed) is replaced, and the log says which one and how it ended.
The worker gives up — stops the other children and exits non-zero with one
line saying why — when one of the first children cannot start, or when
children keep dying: a process manager then sees the failure instead of a
worker that quietly serves nothing. SIGTERM/SIGINT stop every child
gracefully, and the worker exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from dunning.core.errors import ProcessError
from dunning.core.runtime.signals import signal_pipe

__all__ = ["MAX_RESTARTS", "RESTART_WINDOW_SECONDS", "Supervisor", "describe_exit"]

log = logging.getLogger(__name__)

#: Replacements allowed within RESTART_WINDOW_SECONDS; the next death makes the worker give up.
MAX_RESTARTS = 5
#: The sliding window, in seconds, over which replacements are counted.
RESTART_WINDOW_SECONDS = 60.0
#: What a child sends once it serves its queues.
READY = "ready"
#: What a child sends, with the reason, when it cannot start.
FAILED = "failed"


def describe_exit(exitcode: int | None) -> str:
    """How a child ended, in words: "was killed by SIGKILL", "exited with code 1"."""
    if exitcode is None:
        return "is gone"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


@dataclass
class Child:
    """One worker process and what the supervisor knows of it."""

    slot: int
    process: BaseProcess
    reports: Connection | None
    replacement: bool
    ready: bool = False
    error: str | None = None

    @property
    def name(self) -> str:
        return self.process.name or f"slot {self.slot}"


class Supervisor:
    """Runs ``target(*args, reports)`` in ``processes`` spawned children until told to stop."""

    def __init__(
        self,
        target: Callable[..., None],
        args: tuple[Any, ...],
        processes: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.args = args
        self.processes = processes
        self.clock = clock
        self.context = multiprocessing.get_context("spawn")
        self.children: list[Child] = []
        self.restarts: deque[float] = deque()

    def run(self) -> None:
        """Supervise until SIGTERM/SIGINT (returns) or until the children cannot be kept up (raises)."""
        stop_fd = signal_pipe()
        self.children = [self._spawn(slot, replacement=False) for slot in range(self.processes)]
        try:
            while not self._watch(stop_fd):
                pass
        finally:
            self._stop_all()

    def _spawn(self, slot: int, *, replacement: bool) -> Child:
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=self.target, args=(*self.args, writer), name=f"dunning-worker-{slot}"
        )
        process.start()
        writer.close()  # the child holds the other copy: its exit ends the pipe
        log.info("worker process %s started (pid %s)", process.name, process.pid)
        return Child(slot, process, reader, replacement)

    def _watch(self, stop_fd: int) -> bool:
        """Wait for a signal, a report or a death, and deal with it; True once told to stop."""
        waitables: list[Any] = [stop_fd]
        for child in self.children:
            waitables.append(child.process.sentinel)
            if child.reports is not None:
                waitables.append(child.reports)
        ready = wait(waitables)
        if stop_fd in ready:
            os.read(stop_fd, 1)
            log.info("stopping %d worker process(es): finishing in-flight deliveries", len(self.children))
            return True
        for child in list(self.children):
            if child.reports is not None and child.reports in ready:
                self._read(child)
        for child in list(self.children):
            if child.process.sentinel in ready:
                self._died(child)
        return False

    def _read(self, child: Child) -> None:
        assert child.reports is not None
        try:
            kind, detail = child.reports.recv()
        except (EOFError, OSError):
            child.reports.close()
            child.reports = None
            return
        if kind == READY:
            child.ready = True
            log.info("worker process %s (pid %s) is ready", child.name, child.process.pid)
        elif kind == FAILED:
            child.error = str(detail)

    def _died(self, child: Child) -> None:
        """Replace a child that died unasked, or give up."""
        child.process.join()
        while child.reports is not None and child.reports.poll():
            self._read(child)
        how = describe_exit(child.process.exitcode)
        if not child.ready and not child.replacement:
            raise ProcessError(child.error or f"worker process {child.name} {how} before it was ready")
        if child.reports is not None:
            child.reports.close()
        cause = f"could not start: {child.error}" if child.error else how
        now = self.clock()
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW_SECONDS:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            raise ProcessError(
                f"worker processes keep dying ({len(self.restarts)} replaced in the last "
                f"{RESTART_WINDOW_SECONDS:.0f}s); giving up: {child.name} (pid {child.process.pid}) {cause}"
            )
        self.restarts.append(now)
        log.error(
            "worker process %s (pid %s) %s; starting another (%d of %d replacements in %.0fs)",
            child.name,
            child.process.pid,
            cause,
            len(self.restarts),
            MAX_RESTARTS,
            RESTART_WINDOW_SECONDS,
        )
        self.children[self.children.index(child)] = self._spawn(child.slot, replacement=True)

    def _stop_all(self) -> None:
        """Ask every live child to finish (SIGTERM) and wait for them all."""
        for child in self.children:
            if child.process.pid is not None and child.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)
        for child in self.children:
            child.process.join()
            if child.reports is not None:
                child.reports.close()
                child.reports = None
