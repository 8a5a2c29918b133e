"""Scale-out on Redis and PostgreSQL: a scheduler and worker processes, and the faults they survive.

Each test runs real `dunning scheduler` and `dunning worker` processes against
PostgreSQL and Redis, delivering through the real Twilio SDK to the fake
Twilio server in this process, and reconciles what the fake received with
what the store says: every intent ends, none is delivered twice, none is
lost, and nothing leaves after a payment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dunning.core.domain.model import TERMINAL_STATES, Event, EventKind, IntentState
from dunning.core.store import open_store
from dunning.core.store.schema import cases, intents
from dunning.testing.factories import write_portfolio
from dunning.testing.fake_twilio import FakeTwilio

pytestmark = pytest.mark.slow

# A text left in doubt by a killed worker holds the ladder until the sweeper has
# settled it with Twilio, however long it waited in the queue: the call never
# overtakes it, and a text that never left goes again.
POLICY = """
name: scale
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 3s}
      - {channel: voice, template: overdue_call, wait: 3s}
    then: stop
"""


def env_of(settings: dict[str, Any]) -> dict[str, str]:
    return {f"DUNNING_{key.upper()}": str(value) for key, value in settings.items()}


@dataclass
class Cluster:
    """Scheduler and worker processes of one deployment, and what they share."""

    root: Path
    env: dict[str, str]
    store_url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        exe = str(Path(sys.executable).with_name("dunning"))
        log = (self.root / "cluster.log").open("ab")
        proc = subprocess.Popen(
            [exe, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def run(self, *args: str) -> None:
        exe = str(Path(sys.executable).with_name("dunning"))
        result = subprocess.run([exe, *args], env=self.env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr

    def kill(self, proc: subprocess.Popen[bytes], signum: int = signal.SIGKILL) -> None:
        os.killpg(proc.pid, signum)
        proc.wait(timeout=60)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def states(self) -> Counter[str]:
        store = open_store(self.store_url, migrate=False)
        try:
            with store.read() as conn:
                return Counter(
                    dict(conn.execute(select(intents.c.state, func.count()).group_by(intents.c.state)).all())
                )
        finally:
            store.dispose()

    def unfinished(self) -> list[tuple[str, str, str | None, int]]:
        """(state, channel, reason, attempts) of every intent that did not end sent or cancelled."""
        store = open_store(self.store_url, migrate=False)
        try:
            with store.read() as conn:
                query = select(
                    intents.c.state, intents.c.channel, intents.c.reason, intents.c.attempts
                ).where(intents.c.state.notin_(["sent", "cancelled"]))
                return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]
        finally:
            store.dispose()

    def open_cases(self) -> int:
        store = open_store(self.store_url, migrate=False)
        try:
            with store.read() as conn:
                return int(
                    conn.scalar(
                        select(func.count())
                        .select_from(cases)
                        .where(cases.c.status.notin_(["paid", "stopped"]))
                    )
                    or 0
                )
        finally:
            store.dispose()

    def wait_until_settled(self, timeout: float) -> float:
        """Seconds until every case's ladder has ended and every intent is terminal."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            states = self.states()
            if all(IntentState(s) in TERMINAL_STATES for s in states) and not self.open_cases():
                return time.monotonic() - start
            time.sleep(0.25)
        raise AssertionError(
            f"not settled after {timeout}s: {dict(self.states())}; see {self.root / 'cluster.log'}"
        )


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, redis_url: str, fake_twilio: FakeTwilio) -> Iterator[Cluster]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    settings = fake_twilio.settings(
        database_url=postgres_url,
        broker_url=redis_url,
        policy=tmp_path / "policy.yaml",
        public_url="https://dunning.example.com",  # not loopback: the fake posts no callbacks
        tick_seconds=0.3,
        lease_seconds=4,
        ambiguous_after_seconds=2,
        twilio_timeout=2,
        min_backoff_ms=200,
        max_backoff_ms=2000,
    )
    env = {**os.environ, **env_of(settings)}
    env.pop("DUNNING_DRY_RUN", None)
    made = Cluster(tmp_path, env, postgres_url)
    yield made
    made.stop_all()


def reconcile(cluster: Cluster, fake: FakeTwilio, cases: int) -> dict[str, int]:
    """Every intent sent exactly once as far as the fake can tell; return the figures."""
    store = open_store(cluster.store_url, migrate=False)
    try:
        with store.read() as conn:
            rows = conn.execute(select(intents.c.intent_id, intents.c.state, intents.c.channel)).all()
    finally:
        store.dispose()
    received = Counter(r.intent_id for r in fake.records)
    duplicates = {i: n for i, n in received.items() if n > 1}
    assert not duplicates, f"delivered twice: {list(duplicates.items())[:5]}"
    lost = [r.intent_id for r in rows if r.state in ("sent", "delivered") and received[r.intent_id] != 1]
    assert not lost, f"marked sent but never received: {lost[:5]}"
    phantom = set(received) - {r.intent_id for r in rows}
    assert not phantom
    unsent_received = [
        r.intent_id for r in rows if r.state not in ("sent", "delivered") and received[r.intent_id]
    ]
    assert not unsent_received, f"received but not marked sent: {unsent_received[:5]}"
    return dict(Counter(r.state for r in rows))


def test_scheduler_and_two_workers_deliver_a_portfolio_and_reconcile_exactly(cluster, fake_twilio, tmp_path):
    # Given 2,000 overdue cases on PostgreSQL, one scheduler and two worker processes on Redis
    cases = 2000
    write_portfolio(tmp_path / "cases.csv", cases, prefix="S-")
    cluster.run("import", str(tmp_path / "cases.csv"))
    cluster.start("worker", "--processes", "2", "--threads", "4")
    cluster.start("scheduler")
    # When the SMS step and then the call step are delivered
    took = cluster.wait_until_settled(timeout=300)
    # Then each case got one SMS and one call, exactly once, and the store agrees with the provider
    figures = reconcile(cluster, fake_twilio, cases)
    assert figures == {"sent": 2 * cases}
    assert len(fake_twilio.messages) == cases and len(fake_twilio.calls) == cases
    print(f"\n{2 * cases} reminders through 2 worker processes in {took:.1f} s")


def test_a_worker_killed_mid_delivery_loses_nothing_and_sends_nothing_twice(cluster, fake_twilio, tmp_path):
    cases = 1500
    write_portfolio(tmp_path / "cases.csv", cases, prefix="S-")
    cluster.run("import", str(tmp_path / "cases.csv"))
    fake_twilio.slow(0.02, requests=10**6)  # a provider that takes its time, so kills land mid-send
    doomed = cluster.start("worker", "--processes", "1", "--threads", "4")
    cluster.start("worker", "--processes", "1", "--threads", "4")
    cluster.start("scheduler")
    deadline = time.monotonic() + 120
    while len(fake_twilio.messages) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    # Some debtors pay while reminders are in flight
    store = open_store(cluster.store_url, migrate=False)
    paid_at: dict[str, float] = {}
    for i in range(1400, 1450):
        store.record_event(
            Event(EventKind.PAYMENT, datetime.now(UTC), case_id=f"S-{i}", amount=Decimal("99.00")),
            source="test",
            now=datetime.now(UTC),
        )
        paid_at[f"S-{i}"] = time.time()  # the payment has committed
    with store.read() as conn:
        case_of = dict(conn.execute(select(intents.c.intent_id, intents.c.case_id)).all())
    store.dispose()
    # When one worker is killed with SIGKILL in the middle of deliveries
    cluster.kill(doomed)
    killed = time.monotonic()
    recovery = cluster.wait_until_settled(timeout=240)
    # Then every intent ended, none twice, none lost (the sweeper took back the dead worker's share)
    figures = reconcile(cluster, fake_twilio, cases)
    assert set(figures) <= {"sent", "cancelled"}, (figures, cluster.unfinished())
    assert figures.get("sent", 0) >= 2 * cases - 2 * len(paid_at)
    # And nothing reached a debtor after their payment was committed
    store = open_store(cluster.store_url, migrate=False)
    with store.read() as conn:
        case_of.update(dict(conn.execute(select(intents.c.intent_id, intents.c.case_id)).all()))
    store.dispose()
    late = [
        r
        for r in fake_twilio.records
        if case_of.get(r.intent_id) in paid_at and r.at > paid_at[case_of[r.intent_id]]
    ]
    assert not late, late[:3]
    # And no call overtook its case's text, not even a text the killed worker left in doubt
    first_kind: dict[str, str] = {}
    for record in sorted(fake_twilio.records, key=lambda r: r.received):
        first_kind.setdefault(case_of[record.intent_id], record.kind)
    overtaken = [case_id for case_id, kind in first_kind.items() if kind != "message"]
    assert not overtaken, overtaken[:3]
    print(f"\nworker killed; all intents settled {recovery:.1f} s later ({time.monotonic() - killed:.1f} s)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A Redis server of this test's own, so that it can be killed and restarted."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    args = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    holder = {"proc": subprocess.Popen(args, stdout=subprocess.DEVNULL)}

    def restart(down_for: float) -> None:
        holder["proc"].kill()
        holder["proc"].wait()
        time.sleep(down_for)
        holder["proc"] = subprocess.Popen(args, stdout=subprocess.DEVNULL)

    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield url, restart
    holder["proc"].kill()
    holder["proc"].wait()


def test_redis_restarted_mid_run_loses_no_reminder(cluster, fake_twilio, tmp_path, private_redis):
    url, restart = private_redis
    cluster.env["DUNNING_BROKER_URL"] = url
    cases = 1200
    write_portfolio(tmp_path / "cases.csv", cases, prefix="S-")
    cluster.run("import", str(tmp_path / "cases.csv"))
    fake_twilio.slow(0.01, requests=10**6)
    cluster.start("worker", "--processes", "2", "--threads", "4")
    cluster.start("scheduler")
    deadline = time.monotonic() + 120
    while len(fake_twilio.messages) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    # When Redis dies (queued messages and all) and comes back two seconds later
    restart(2.0)
    restarted = time.monotonic()
    cluster.wait_until_settled(timeout=300)
    figures = reconcile(cluster, fake_twilio, cases)
    assert figures == {"sent": 2 * cases}
    print(
        f"\nRedis restarted; all {2 * cases} reminders delivered {time.monotonic() - restarted:.1f} s later"
    )


def test_a_provider_in_trouble_for_a_stretch_delays_but_never_duplicates(cluster, fake_twilio, tmp_path):
    cases = 800
    write_portfolio(tmp_path / "cases.csv", cases, prefix="S-")
    cluster.run("import", str(tmp_path / "cases.csv"))
    # Given a provider that answers 503 for 3 seconds, rate-limits a burst, and times out some requests
    fake_twilio.outage(503, seconds=3)
    fake_twilio.rate_limit(retry_after=1, requests=40)
    fake_twilio.slow(3.0, requests=20)  # longer than the 2 s client timeout: ambiguous sends
    cluster.start("worker", "--processes", "2", "--threads", "4")
    cluster.start("scheduler")
    took = cluster.wait_until_settled(timeout=300)
    figures = reconcile(cluster, fake_twilio, cases)
    # Then after the stretch every reminder went out exactly once (ambiguous ones were reconciled)
    assert figures == {"sent": 2 * cases}, figures
    refused = len(fake_twilio.requests) - len(fake_twilio.records)
    assert refused > 40
    print(f"\nprovider trouble: {refused} refused requests; settled in {took:.1f} s")


def test_a_provider_rate_limit_holds_across_all_workers(cluster, fake_twilio, tmp_path):
    # Given two worker processes sharing a limit of 25 texts a second for the Twilio account
    cases = 300
    (tmp_path / "policy.yaml").write_text(
        POLICY.replace("      - {channel: voice, template: overdue_call, wait: 3s}\n", "")
    )
    write_portfolio(tmp_path / "cases.csv", cases, prefix="S-")
    cluster.env["DUNNING_RATE_LIMITS"] = "sms=25/s"
    cluster.run("import", str(tmp_path / "cases.csv"))
    cluster.start("worker", "--processes", "2", "--threads", "8")
    cluster.start("scheduler")
    cluster.wait_until_settled(timeout=240)
    # Then the provider never saw the workers get ahead of the limit. The limit counts calls per
    # second of the workers' clock when they are allowed; a call allowed late in one second may
    # reach the provider in the next, so any k seconds of the provider's clock hold at most what
    # k + 1 seconds allow.
    assert len(fake_twilio.messages) == cases
    per_second = Counter(int(r.at) for r in fake_twilio.messages)
    first, last = min(per_second), max(per_second)
    counts = [per_second.get(second, 0) for second in range(first, last + 1)]
    for k in range(1, len(counts) + 1):
        busiest = max(sum(counts[i : i + k]) for i in range(len(counts) - k + 1))
        assert busiest <= 25 * (k + 1), (k, busiest, counts)
    assert last - first + 1 >= cases // 25 - 1, counts


def test_workers_and_scheduler_stop_promptly_on_a_burst_of_sigterms(cluster, fake_twilio, tmp_path):
    # Given a worker (two processes) and a scheduler that have delivered a small portfolio
    write_portfolio(tmp_path / "cases.csv", 20, prefix="S-")
    cluster.run("import", str(tmp_path / "cases.csv"))
    worker = cluster.start("worker", "--processes", "2", "--threads", "2")
    scheduler = cluster.start("scheduler")
    cluster.wait_until_settled(timeout=120)
    # When a process manager signals their process groups again and again
    # (each worker process is also told by its parent: signals arrive on top of each other)
    for _ in range(30):
        for proc in (worker, scheduler):
            os.killpg(proc.pid, signal.SIGTERM)
    # Then both finish on their own, cleanly, instead of hanging in a signal handler
    assert worker.wait(timeout=60) == 0
    assert scheduler.wait(timeout=60) == 0
