"""Worker and scheduler processes: stopping by signal, failing loudly, replacing what dies."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dunning.core.runtime.supervisor import MAX_RESTARTS
from dunning.core.store import open_store
from dunning.core.store.migrations import alembic_config, head_revision
from dunning.testing.factories import write_portfolio
from dunning.testing.fake_twilio import FakeTwilio

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


# ------------------------------------------------------------------ workers on Redis and PostgreSQL

#: One text per case, sent at once, at any hour.
ONE_TEXT = """
name: one-text
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l: {steps: [{channel: sms, template: overdue_notice, wait: 7d}]}
"""


def exe() -> str:
    return str(Path(sys.executable).with_name("dunning"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    """The environment of a worker fleet on PostgreSQL and Redis, and its processes' logs."""

    root: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe(), *args], env={**self.env, **env}, capture_output=True, text=True, timeout=180
        )

    def start(self, *args: str, log: str = "worker.log") -> subprocess.Popen[bytes]:
        with (self.root / log).open("ab") as out:  # a file, not a pipe: a full pipe would stall it
            proc = subprocess.Popen(
                [exe(), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def log(self, name: str = "worker.log") -> str:
        path = self.root / name
        return path.read_text() if path.exists() else ""

    def wait_for(
        self, pattern: str, *, count: int = 1, log: str = "worker.log", timeout: float = 90
    ) -> list[str]:
        """The first ``count`` matches of ``pattern`` in the log, once the process has written them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.log(log))
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not logged {count} time(s):\n{self.log(log)[-3000:]}")


@pytest.fixture
def deployment(
    tmp_path: Path, postgres_url: str, redis_url: str, fake_twilio: FakeTwilio
) -> Iterator[Deployment]:
    (tmp_path / "policy.yaml").write_text(ONE_TEXT)
    settings = fake_twilio.settings(
        database_url=postgres_url,
        broker_url=redis_url,
        policy=tmp_path / "policy.yaml",
        public_url="https://dunning.example.com",  # not loopback: the fake posts no callbacks
        tick_seconds=0.3,
    )
    env = {**os.environ, **{f"DUNNING_{k.upper()}": str(v) for k, v in settings.items()}}
    env.pop("DUNNING_DRY_RUN", None)
    made = Deployment(tmp_path, env)
    yield made
    for proc in made.procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


def wait_for_texts(fake: FakeTwilio, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(fake.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(fake.messages) >= count, f"{len(fake.messages)} of {count} text(s) delivered"


def ready_pids(deployment: Deployment, count: int) -> list[int]:
    found = deployment.wait_for(r"worker process dunning-worker-0 \(pid (\d+)\) is ready", count=count)
    return [int(pid) for pid in found]


@pytest.mark.slow
def test_given_a_worker_whose_process_is_killed_then_a_replacement_delivers_what_is_planned_after(
    deployment, fake_twilio, tmp_path
):
    # Given a migrated store and a worker with one process
    write_portfolio(tmp_path / "first.csv", 1, prefix="A-")
    assert deployment.run("import", str(tmp_path / "first.csv")).returncode == 0
    worker = deployment.start("-v", "worker", "--processes", "1", "--threads", "2")
    [first] = ready_pids(deployment, 1)
    # When its process is killed with SIGKILL
    os.kill(first, signal.SIGKILL)
    # Then the worker says which process died and how, and starts another
    deployment.wait_for(
        rf"worker process dunning-worker-0 \(pid {first}\) was killed by SIGKILL; starting another"
    )
    second = ready_pids(deployment, 2)[1]
    assert second != first and worker.poll() is None
    # And a reminder planned after the kill is delivered by the replacement
    ticked = deployment.run("tick")
    assert ticked.returncode == 0, ticked.stderr
    wait_for_texts(fake_twilio, 1)
    # And SIGTERM still stops everything cleanly
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=60) == 0, deployment.log()[-2000:]


@pytest.mark.slow
def test_given_worker_processes_that_keep_dying_then_the_worker_gives_up_and_exits_non_zero(deployment):
    assert deployment.run("db", "upgrade").returncode == 0
    worker = deployment.start("-v", "worker", "--processes", "1", "--threads", "1")
    # When its process is killed each time it comes up, once more than the worker replaces
    for n in range(MAX_RESTARTS + 1):
        os.kill(ready_pids(deployment, n + 1)[n], signal.SIGKILL)
    # Then the worker gives up: exit status non-zero and a last line saying why
    assert worker.wait(timeout=60) == 2
    last = deployment.log().strip().splitlines()[-1]
    assert last.startswith("error: worker processes keep dying"), last
    assert "was killed by SIGKILL" in last
    assert deployment.log().count("starting another") == MAX_RESTARTS


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a process that could not start wrote, after checking that it failed."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def downgraded(url: str, revision: str) -> None:
    """Take a migrated store back to ``revision``, as an older version left it."""
    from alembic import command

    store = open_store(url, migrate=False)
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)
    store.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, setting, says",
    [
        (["-Q", "dunning.nope"], {}, "no configured channel uses the queue(s) dunning.nope"),
        (
            [],
            {"DUNNING_BROKER_URL": "nats://127.0.0.1:4222"},
            "DUNNING_BROKER_URL: unsupported broker 'nats'",
        ),
        (
            [],
            {"DUNNING_BROKER_URL": "redis://127.0.0.1:{port}/0"},
            "the broker cannot be reached: ConnectionError",
        ),
        (
            [],
            {"DUNNING_DATABASE_URL": "postgresql://postgres@127.0.0.1:{port}/test"},
            "the store cannot be used: OperationalError: connection failed",
        ),
        ([], {"DUNNING_LEASE_SECONDS": "a minute"}, "DUNNING_LEASE_SECONDS: Input should be a valid number"),
    ],
    ids=["unknown-queue", "unsupported-broker", "broker-unreachable", "store-unreachable", "bad-setting"],
)
def test_given_a_worker_that_cannot_start_then_it_exits_non_zero_with_one_line(
    deployment, args, setting, says
):
    assert deployment.run("db", "upgrade").returncode == 0
    port = str(closed_port())
    # When the worker is started with what cannot work
    result = deployment.run("worker", *args, **{k: v.replace("{port}", port) for k, v in setting.items()})
    # Then it exits non-zero, saying why in one line and no traceback
    assert says in one_line_error(result)


@pytest.mark.slow
def test_given_a_fresh_store_then_worker_and_scheduler_refuse_to_start_and_name_db_upgrade(deployment):
    # Given a store nobody has migrated yet
    # When a worker and a scheduler start on it, Then both refuse, naming the step that migrates
    for command in ("worker", "scheduler"):
        line = one_line_error(deployment.run(command))
        assert "the store has no schema yet: run `dunning db upgrade` first" in line, line


@pytest.mark.slow
def test_given_a_schema_an_older_version_left_then_the_scheduler_refuses_and_names_db_upgrade(deployment):
    assert deployment.run("db", "upgrade").returncode == 0
    downgraded(deployment.env["DUNNING_DATABASE_URL"], "0002")
    line = one_line_error(deployment.run("scheduler"))
    needs = f"is at revision 0002 and this version needs {head_revision()}: run `dunning db upgrade` first"
    assert needs in line
    # And once upgraded, it starts (and stops cleanly when told)
    assert deployment.run("db", "upgrade").returncode == 0
    scheduler = deployment.start("-v", "scheduler", log="scheduler.log")
    deployment.wait_for(r"scheduler \d+ ticking every", log="scheduler.log")
    os.killpg(scheduler.pid, signal.SIGTERM)
    assert scheduler.wait(timeout=60) == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "setting, says",
    [
        (
            {"DUNNING_BROKER_URL": "redis://127.0.0.1:{port}/0"},
            "the broker cannot be reached: ConnectionError",
        ),
        (
            {"DUNNING_DATABASE_URL": "postgresql://postgres@127.0.0.1:{port}/test"},
            "the store cannot be used: OperationalError: connection failed",
        ),
        ({"DUNNING_TICK_SECONDS": "soon"}, "DUNNING_TICK_SECONDS: Input should be a valid number"),
    ],
    ids=["broker-unreachable", "store-unreachable", "bad-setting"],
)
def test_given_a_scheduler_that_cannot_start_then_it_exits_non_zero_with_one_line(deployment, setting, says):
    assert deployment.run("db", "upgrade").returncode == 0
    port = str(closed_port())
    result = deployment.run("scheduler", **{k: v.replace("{port}", port) for k, v in setting.items()})
    assert says in one_line_error(result)


@pytest.mark.slow
def test_given_v_the_worker_processes_log_at_info_too(deployment):
    assert deployment.run("db", "upgrade").returncode == 0
    # When the worker is started with -v
    worker = deployment.start("-v", "worker", "--processes", "2", "--threads", "1")
    # Then each of its processes (not only the parent) logs at INFO
    for n in range(2):
        deployment.wait_for(rf"INFO dunning-worker-{n} dunning\.core\.runtime\.processes: worker \d+ serving")
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
