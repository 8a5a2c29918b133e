"""A fleet's own telemetry: a worker's child processes and a scheduler, on Redis and PostgreSQL.

Started as an operator starts them (``dunning scheduler --metrics-port``,
``dunning worker --metrics-port`` with ``DUNNING_LOG_FORMAT=json`` and a
console span exporter), then read as an operator reads them: the metrics
ports, the log lines, the printed spans, and ``dunning health``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dunning.testing.factories import write_portfolio
from dunning.testing.fake_twilio import FakeTwilio

ONE_TEXT = """
name: one-text
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l: {steps: [{channel: sms, template: overdue_notice, wait: 7d}]}
"""


def exe() -> str:
    return str(Path(sys.executable).with_name("dunning"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def sample(text: str, line: str) -> float | None:
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    return None


def eventually(check, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        time.sleep(0.2)


@pytest.fixture
def fleet(tmp_path: Path, postgres_url: str, redis_url: str, fake_twilio: FakeTwilio) -> dict[str, str]:
    (tmp_path / "policy.yaml").write_text(ONE_TEXT)
    settings = fake_twilio.settings(
        database_url=postgres_url,
        broker_url=redis_url,
        policy=tmp_path / "policy.yaml",
        public_url="https://dunning.example.com",
        tick_seconds=0.3,
    )
    env = {**os.environ, **{f"DUNNING_{k.upper()}": str(v) for k, v in settings.items()}}
    env.pop("DUNNING_DRY_RUN", None)
    return env


def start(env: dict[str, str], log: Path, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [exe(), *args], env={**env, **extra}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


@pytest.mark.slow
def test_given_a_fleet_then_its_ports_logs_and_spans_tell_what_a_delivery_did(fleet, fake_twilio, tmp_path):
    # Given a migrated store with one case, a worker with two processes and a scheduler
    write_portfolio(tmp_path / "one.csv", 1, prefix="F-")
    run = lambda *a: subprocess.run([exe(), *a], env=fleet, capture_output=True, text=True, timeout=180)  # noqa: E731
    assert run("import", str(tmp_path / "one.csv")).returncode == 0
    worker_port, scheduler_port = free_port(), free_port()
    worker = start(
        fleet,
        tmp_path / "worker.log",
        "-v",
        "worker",
        "--processes",
        "2",
        "--threads",
        "2",
        "--metrics-port",
        str(worker_port),
        DUNNING_LOG_FORMAT="json",
        OTEL_TRACES_EXPORTER="console",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    scheduler = start(fleet, tmp_path / "scheduler.log", "scheduler", "--metrics-port", str(scheduler_port))
    try:
        # When the scheduler plans the reminder and a worker process delivers it
        eventually(lambda: len(fake_twilio.messages) == 1)
        # Then the worker's port sums its processes: dunning's counters, Dramatiq's, and the backlog
        eventually(
            lambda: (
                sample(scrape(worker_port), 'dunning_reminders_total{channel="sms",outcome="sent"}') == 1.0
            )
        )
        text = scrape(worker_port)
        assert sample(text, 'dunning_delivery_duration_seconds_count{channel="sms"}') == 1.0
        assert (
            sample(text, 'dramatiq_messages_total{actor_name="dunning_deliver_sms",queue_name="dunning.sms"}')
            == 1.0
        )
        assert sample(text, 'dunning_queue_backlog_messages{queue="dunning.sms"}') == 0.0
        # And the scheduler's port times its ticks and counts what it planned
        planned = scrape(scheduler_port)
        assert sample(planned, "dunning_reminders_planned_total") == 1.0
        assert (sample(planned, "dunning_tick_duration_seconds_count") or 0) >= 1
        # And `dunning health` finds the store, the broker and the worker's port ready
        health = run("health", "--url", f"http://127.0.0.1:{worker_port}/metrics")
        assert health.returncode == 0, health.stdout + health.stderr
        assert health.stdout.strip().startswith("ready: store: ok, schema: ok, broker: ok")
    finally:
        stop(scheduler)
        stop(worker)
    # And the child process logged the send as one JSON object with its ids, the number masked
    logged = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith('{"time"')
    ]
    [sent] = [e for e in logged if " sent by sms to " in e["message"]]
    assert sent["process"].startswith("dunning-worker-") and sent["case_id"] == "F-0"
    assert sent["channel"] == "sms" and len(sent["intent_id"]) == 32
    assert fake_twilio.messages[0].to not in (tmp_path / "worker.log").read_text()
    # And the child process printed the delivery's span with the same intent
    assert f'"dunning.intent_id": "{sent["intent_id"]}"' in (tmp_path / "worker.log").read_text()


@pytest.mark.slow
def test_given_a_broker_that_cannot_be_reached_then_health_says_not_ready(fleet, tmp_path):
    assert (
        subprocess.run([exe(), "db", "upgrade"], env=fleet, capture_output=True, timeout=180).returncode == 0
    )
    closed = free_port()
    result = subprocess.run(
        [exe(), "health", "--url", f"http://127.0.0.1:{closed}/livez"],
        env={**fleet, "DUNNING_BROKER_URL": f"redis://127.0.0.1:{closed}/0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    line = result.stdout.strip()
    assert line.startswith("not ready: store: ok, schema: ok, broker: down: ConnectionError"), line
    assert f"http://127.0.0.1:{closed}/livez: down: " in line
