"""An outage is logged once per kind and interval, and its end is logged too.

The failures are real: a refused PostgreSQL connection and a refused Redis
connection, through SQLAlchemy and redis-py; the clock is an argument.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import create_engine

from dunning.core.runtime.outage import Outages, failure_kind, is_unavailable, one_line


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
