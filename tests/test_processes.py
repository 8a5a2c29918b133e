"""Stopping worker and scheduler processes by signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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


def test_dunning_run_stops_cleanly_on_sigterm(tmp_path):
    # Given the embedded deployment running on SQLite in dry-run (no provider configured)
    env = {
        **os.environ,
        "DUNNING_DATABASE_URL": f"sqlite:///{tmp_path / 'dunning.db'}",
        "DUNNING_POLICY": str(ROOT / "examples" / "policy.yaml"),
        "DUNNING_DRY_RUN": "true",
    }
    exe = str(Path(sys.executable).with_name("dunning"))
    proc = subprocess.Popen(
        [exe, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("dunning running"), first
    # When it is told to stop, twice in a row
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    # Then it finishes in-flight work and exits cleanly
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopping: finishing in-flight deliveries" in rest and rest.rstrip().endswith("stopped")
