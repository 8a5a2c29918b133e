"""An outage is logged once per kind and interval, and its end is logged too.

The failures are real: a refused PostgreSQL connection and a refused Redis
connection, through SQLAlchemy and redis-py; the clock is an argument.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from dunning.core.api import create_app
from dunning.core.runtime import build_runtime
from dunning.core.runtime.outage import Outages, failure_kind, is_unavailable, one_line
from dunning.core.settings import Settings
from dunning.core.store import open_store
from dunning.testing.factories import write_portfolio
from dunning.testing.tcp_proxy import TcpProxy


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def store_down() -> BaseException:
    """What SQLAlchemy raises when PostgreSQL refuses the connection."""
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test")
    try:
        engine.connect()
    except Exception as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("a closed port accepted a connection")


@pytest.fixture(scope="module")
def broker_down() -> BaseException:
    client = redis.Redis(host="127.0.0.1", port=closed_port())
    try:
        client.ping()
    except Exception as exc:
        return exc
    finally:
        client.close()
    raise AssertionError("a closed port accepted a connection")


class Lines(logging.Handler):
    """The log lines an operator would read, with their tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.extend(self.format(record).splitlines())


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, Lines]]:
    logger = logging.getLogger("test.outage")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = Lines()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def test_a_store_outage_of_six_hundred_failures_is_four_lines(logged, store_down):
    logger, handler = logged
    now = [0.0]
    outages = Outages(60, logger=logger, clock=lambda: now[0])
    # Given the tick fails on the store four times a second for 150 s
    for _ in range(600):
        outages.failed("tick", store_down)
        now[0] += 0.25
    # When the store is back
    outages.ok("tick")
    outages.ok("tick")
    # Then the operator reads the first failure, a summary per minute, and the recovery; no traceback
    assert len(handler.lines) == 4, handler.lines
    first, *summaries, last = handler.lines
    assert first.startswith("ERROR tick failing (store): OperationalError: connection failed")
    assert "Background on this error" not in first
    assert [s.split(";")[0] for s in summaries] == [
        "ERROR tick still failing (store): 240 error(s) in the last 60s",
        "ERROR tick still failing (store): 240 error(s) in the last 60s",
    ]
    assert last == "WARNING tick recovered (store) after 150.0s (600 error(s))"


def test_at_debug_the_first_failure_carries_its_traceback(logged, store_down):
    logger, handler = logged
    logger.setLevel(logging.DEBUG)
    Outages(60, logger=logger).failed("sweep", store_down)
    assert any(line.startswith("Traceback") for line in handler.lines)


def test_a_failure_that_looks_like_a_bug_keeps_its_traceback(logged):
    logger, handler = logged
    try:
        {}["missing"]
    except KeyError as exc:
        Outages(60, logger=logger).failed("tick", exc)
    assert handler.lines[0].startswith("ERROR tick failing (KeyError): KeyError: 'missing'")
    assert any(line.startswith("Traceback") for line in handler.lines)


def test_store_and_broker_failing_at_one_place_are_two_runs_and_both_recover(logged, store_down, broker_down):
    logger, handler = logged
    outages = Outages(60, logger=logger, clock=lambda: 0.0)
    for _ in range(10):
        outages.failed("hand-over", broker_down)
        outages.failed("hand-over", store_down)
    assert outages.failing() == [("hand-over", "broker"), ("hand-over", "store")]
    outages.ok("sweep")  # another place working says nothing about this one
    assert len(handler.lines) == 2
    outages.ok("hand-over")
    assert handler.lines[2:] == [
        "WARNING hand-over recovered (broker) after 0.0s (10 error(s))",
        "WARNING hand-over recovered (store) after 0.0s (10 error(s))",
    ]
    assert outages.failing() == []


def test_what_counts_as_the_store_or_broker_being_unavailable(store_down, broker_down):
    assert (failure_kind(store_down), is_unavailable(store_down)) == ("store", True)
    assert (failure_kind(broker_down), is_unavailable(broker_down)) == ("broker", True)
    assert one_line(broker_down).startswith("ConnectionError: Error 111 connecting to 127.0.0.1")
    assert (failure_kind(ValueError("x")), is_unavailable(ValueError("x"))) == ("ValueError", False)


# ------------------------------------------------------------------ a deployment through an outage

#: One text per case, sent at once, at any hour.
ONE_TEXT = """
name: one-text
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l: {steps: [{channel: sms, template: overdue_notice, wait: 7d}]}
"""
#: How often the processes summarise a failure that goes on, in this test (seconds).
INTERVAL = 1.5


def through(url: str, proxy: TcpProxy) -> str:
    parsed = make_url(url)
    return parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


@pytest.mark.slow
def test_given_the_store_gone_for_a_stretch_then_worker_and_scheduler_log_a_few_lines_and_go_on(
    tmp_path, postgres_url, redis_url, fake_twilio
):
    # Given a worker and a scheduler reaching PostgreSQL through a proxy, delivering 400 texts
    (tmp_path / "policy.yaml").write_text(ONE_TEXT)
    write_portfolio(tmp_path / "cases.csv", 400, prefix="O-")
    settings = fake_twilio.settings(
        database_url=postgres_url,
        broker_url=redis_url,
        policy=tmp_path / "policy.yaml",
        public_url="https://dunning.example.com",  # not loopback: the fake posts no callbacks
        tick_seconds=0.3,
        lease_seconds=2,
        ambiguous_after_seconds=1,
        twilio_timeout=2,
        outage_log_seconds=INTERVAL,
    )
    env = {**os.environ, **{f"DUNNING_{k.upper()}": str(v) for k, v in settings.items()}}
    env.pop("DUNNING_DRY_RUN", None)
    dunning = str(Path(sys.executable).with_name("dunning"))
    imported = subprocess.run([dunning, "import", str(tmp_path / "cases.csv")], env=env, capture_output=True)
    assert imported.returncode == 0, imported.stderr
    fake_twilio.slow(0.05, requests=10**6)  # deliveries are in flight when the store goes
    with TcpProxy("127.0.0.1", make_url(postgres_url).port or 5432) as proxy:
        proxied = {**env, "DUNNING_DATABASE_URL": through(postgres_url, proxy)}
        procs = {}
        for name in ("worker", "scheduler"):
            with (tmp_path / f"{name}.log").open("wb") as out:
                procs[name] = subprocess.Popen(
                    [dunning, name], env=proxied, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        try:
            wait_until(lambda: len(fake_twilio.messages) >= 40, "the first texts")
            # When the store goes away, for long enough that the failure is summarised
            proxy.cut()
            log = tmp_path / "scheduler.log"
            wait_until(lambda: log.read_text().count("tick still failing (store)") >= 2, "a summary")
            proxy.restore()
            # Then every text goes out, exactly once (those in doubt are settled with Twilio)
            wait_until(lambda: len({r.intent_id for r in fake_twilio.messages}) == 400, "all 400 texts")
            assert len(fake_twilio.messages) == 400
            # And a reminder planned after the outage is delivered too
            write_portfolio(tmp_path / "more.csv", 1, prefix="P-")
            subprocess.run([dunning, "import", str(tmp_path / "more.csv")], env=env, check=True)
            wait_until(lambda: len(fake_twilio.messages) == 401, "the text planned after the outage")
        finally:
            for proc in procs.values():
                os.killpg(proc.pid, signal.SIGTERM)
            codes = [proc.wait(timeout=60) for proc in procs.values()]
    assert codes == [0, 0]
    # And the outage took a few short lines per process, and their end is told
    worker, scheduler = ((tmp_path / f"{name}.log").read_text() for name in ("worker", "scheduler"))
    for text in (worker, scheduler):
        assert len(text.splitlines()) <= 25 and len(text) <= 8000, text
        assert "Traceback" not in text, text
    assert "delivery failing (store): OperationalError" in worker
    assert re.search(r"delivery recovered \(store\) after [\d.]+s \(\d+ error\(s\)\)", worker), worker
    assert "tick failing (store): OperationalError" in scheduler
    assert re.search(r"tick still failing \(store\): \d+ error\(s\) in the last \d+s", scheduler)
    assert re.search(r"tick recovered \(store\) after [\d.]+s \(\d+ error\(s\)\)", scheduler), scheduler


def test_given_the_store_gone_then_polled_health_and_metrics_log_one_line_each_and_the_recovery(
    tmp_path, postgres_url, caplog
):
    # Given the API on a PostgreSQL store reached through a proxy
    (tmp_path / "policy.yaml").write_text(ONE_TEXT)
    open_store(postgres_url).dispose()
    caplog.set_level(logging.INFO, logger="dunning")
    with TcpProxy("127.0.0.1", make_url(postgres_url).port or 5432) as proxy:
        settings = Settings(database_url=through(postgres_url, proxy), policy=str(tmp_path / "policy.yaml"))
        rt = build_runtime(settings, dry_run=True, migrate=False)
        with TestClient(create_app(rt)) as client:
            assert client.get("/healthz").status_code == 200
            # When the store goes away while a load balancer and Prometheus keep polling
            proxy.cut()
            polled = [
                (client.get("/healthz").status_code, client.get("/metrics").status_code) for _ in range(20)
            ]
            proxy.restore()
            # Then every poll says the store is down, and once back, that it is up
            assert set(polled) == {(503, 503)}
            assert client.get("/healthz").json() == {"store": "ok", "schema": "ok", "broker": "ok"}
            assert client.get("/metrics").status_code == 200
        rt.close()
    # And the log tells each outage once, then its end
    told = [r.getMessage() for r in caplog.records if r.name == "dunning.core.runtime.outage"]
    assert len(told) == 4, told
    # (the first poll meets the pooled connection cut under it, the second cannot connect)
    assert told[0].startswith("store health check failing (store): OperationalError: ")
    assert told[1].startswith("metrics failing (store): OperationalError: connection failed")
    assert re.fullmatch(r"store health check recovered \(store\) after [\d.]+s \(20 error\(s\)\)", told[2])
    assert re.fullmatch(r"metrics recovered \(store\) after [\d.]+s \(20 error\(s\)\)", told[3])
