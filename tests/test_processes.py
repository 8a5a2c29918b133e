"""Stopping worker and scheduler processes by signal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# The main thread holds the stop event's lock — as it does for a moment when it
# wakes from ``stop.wait()`` — when SIGTERM arrives, so the handler runs right there.
WINDOW = textwrap.dedent(
    """
    import os, signal, threading
    from dunning.core.runtime.processes import stop_on_signals

    stop = threading.Event()
    stop_on_signals(stop)
    with stop._cond:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
    print("stopped" if stop.wait(10) else "not stopped")
    """
)


def test_a_sigterm_arriving_while_the_stop_event_is_locked_still_stops_the_process():
    # When SIGTERM arrives twice while the main thread holds the stop event's lock
    result = subprocess.run([sys.executable, "-c", WINDOW], capture_output=True, text=True, timeout=60)
    # Then the process is told to stop, instead of hanging in its signal handler
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stopped"
