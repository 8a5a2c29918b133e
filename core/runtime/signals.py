"""Stopping on SIGTERM and SIGINT, safely however the signals arrive."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any

__all__ = ["signal_pipe", "stop_on_signals"]


def signal_pipe() -> int:
    """A file descriptor that becomes readable once SIGTERM or SIGINT has arrived.

    Not an event set in the handler: a handler runs in the main thread between
    two bytecodes — possibly while that thread holds the event's lock, waking
    from ``wait()`` — and would then wait for that lock forever. A worker
    process is signalled by its parent and by its process group at nearly the
    same moment, which is when that happens. The handler only writes a byte.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def handler(_signum: int, _frame: Any) -> None:
        with contextlib.suppress(BlockingIOError):  # a byte is already waiting: enough
            os.write(write_fd, b"\0")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
    return read_fd


def stop_on_signals(stop: threading.Event) -> None:
    """Have SIGTERM and SIGINT set ``stop``: a thread of its own reads :func:`signal_pipe`."""
    read_fd = signal_pipe()

    def relay() -> None:
        os.read(read_fd, 1)
        stop.set()

    threading.Thread(target=relay, name="dunning-signals", daemon=True).start()
