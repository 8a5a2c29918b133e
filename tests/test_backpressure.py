"""Backpressure: under a crowd of concurrent posts every request is answered in bounded time.

Recorded, or ``503`` with ``Retry-After`` — never a pool-exhaustion 500 after
half a minute — while the scheduler sharing the process keeps ticking. Served
by a real uvicorn on 127.0.0.1 and called over HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import uvicorn
from sqlalchemy import func, select

from dunning.core.api import create_app
from dunning.core.runtime import build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import events
from dunning.testing.factories import make_case

POLICY = """
name: bp
preset: none
segments: [{name: all, ladder: l}]
ladders: {l: {steps: [{channel: sms, template: overdue_notice, wait: 2d}]}}
"""
TOKEN = "t"
CASES = 50


class Server:
    """The API of a runtime on a free loopback port, in a thread."""

    def __init__(self, rt) -> None:
        config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def runtime(tmp_path, database_url, request):
    (tmp_path / "p.yaml").write_text(POLICY)
    overrides = getattr(request, "param", {})
    settings = Settings(
        database_url=database_url, policy=str(tmp_path / "p.yaml"), api_tokens=[TOKEN], **overrides
    )
    rt = build_runtime(settings, dry_run=True)
    with rt.store.write() as conn:
        cases = [make_case(case_id=f"C-{i}", debtor_id=f"D-{i}") for i in range(CASES)]
        rt.store.upsert_cases(conn, cases, datetime.now(UTC))
    yield rt
    rt.close()


def post(base: str, body: dict) -> tuple[int | str, str | None, float]:
    request = urllib.request.Request(
        base + "/v1/events",
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, None, time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After"), time.monotonic() - started


def recorded(rt) -> int:
    with rt.store.read() as conn:
        return conn.scalar(select(func.count()).select_from(events)) or 0


@pytest.mark.slow
@pytest.mark.parametrize("one_case", [True, False], ids=["one-case", "across-cases"])
def test_given_hundreds_of_concurrent_posts_then_each_is_answered_and_ticks_keep_running(runtime, one_case):
    ticks: list[int] = []
    stop = threading.Event()

    def scheduler() -> None:
        while not stop.is_set():
            ticks.append(tick(runtime).cases)

    def one(i: int):
        case = "C-0" if one_case else f"C-{i % CASES}"
        return post(base, {"event_id": f"E-{i}", "case_id": case, "kind": "ack"})

    with Server(runtime) as base:
        ticking = threading.Thread(target=scheduler)
        ticking.start()
        with ThreadPoolExecutor(200) as pool:
            answers = list(pool.map(one, range(400)))
        stop.set()
        ticking.join(60)
    statuses = Counter(status for status, _, _ in answers)
    # Every request got an answer: recorded, or told to come back; never a 500 or a hang.
    assert set(statuses) <= {200, 503}, statuses
    assert all(retry for status, retry, _ in answers if status == 503)
    assert max(seconds for _, _, seconds in answers) < 30
    # Exactly the accepted events were recorded, and the scheduler went on deciding meanwhile.
    assert recorded(runtime) == statuses[200]
    assert len(ticks) >= 2 and not ticking.is_alive()


@pytest.mark.parametrize("runtime", [{"api_concurrency": 1, "api_queue_seconds": 0.2}], indirect=True)
def test_given_the_process_is_saturated_when_another_post_arrives_then_503_with_retry_after(runtime):
    with Server(runtime) as base:
        # A payment of C-0 is being recorded while C-0's gate is held: it keeps the only slot.
        held = threading.Event()
        release = threading.Event()

        def hold_gate() -> None:
            with runtime.store.stop_transaction(["C-0"]):
                held.set()
                release.wait(30)

        holder = threading.Thread(target=hold_gate)
        holder.start()
        held.wait(10)
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(post, base, {"event_id": "P-1", "case_id": "C-0", "kind": "payment"})
            time.sleep(0.3)  # let the first request take the slot and wait on the gate
            status, retry, _ = post(base, {"event_id": "A-1", "case_id": "C-1", "kind": "ack"})
            release.set()
            assert first.result(timeout=30)[0] == 200
        holder.join(10)
    assert (status, retry) == (503, "2")
    assert recorded(runtime) == 1  # the payment; the refused ack left nothing behind


@pytest.mark.parametrize(
    "runtime", [{"db_pool_size": 1, "db_pool_timeout": 0.2, "api_concurrency": 4}], indirect=True
)
def test_given_no_free_store_connection_when_posting_then_503_not_500(runtime):
    taken = [runtime.store.engine.connect() for _ in range(2)]  # the pool and its overflow
    try:
        with Server(runtime) as base:
            status, retry, _ = post(base, {"event_id": "A-2", "case_id": "C-1", "kind": "ack"})
    finally:
        for conn in taken:
            conn.close()
    assert (status, retry) == (503, "2")
    assert recorded(runtime) == 0
