"""How fast a payment stops a debtor's reminders, while reminders are being delivered.

A benchmark, not a test: it prints figures. The API runs under uvicorn on
127.0.0.1; the embedded runner (Dramatiq worker threads) delivers the first
SMS of every case through the real SMS channel and Twilio SDK to a fake
Twilio on 127.0.0.1 (its own process); meanwhile payments for a random sample of those cases
arrive (a Poisson process) and are POSTed to ``/v1/events`` with a bearer token.

Per payment it measures the time from sending the request to the response.
The API answers only after the payment committed, and the payment cancels
every pending reminder of the case in the same transaction, so that time is
the time to stop the case (each case is checked in the store after its
response: nothing of it may still be pending). It prints p50, p99 and max,
and the count of texts the fake received for a case after that case's
payment returned, which must be 0. Target: p99 <= 50 ms.

    python bench/stop_latency.py                                   # SQLite file
    python bench/stop_latency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With PostgreSQL, the store lives in a throwaway schema, dropped at the end.
Nothing leaves 127.0.0.1. The deployment under test runs in processes of its
own: the API (``dunning serve``) and the runner (``dunning run``), or with
``--together`` both in one (``dunning serve --run``), where the worker threads
compete with the API for the interpreter lock. The fake Twilio has a process
of its own; the clients run in this one.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import random
import shlex
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine

from dunning.core.api import create_app
from dunning.core.domain.model import IntentState
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.settings import Settings
from dunning.core.store import Store, open_store
from dunning.core.store.outbox import PENDING_STATES
from dunning.core.store.schema import intents
from dunning.testing.factories import make_case
from dunning.testing.fake_twilio import FakeTwilio

POLICY = """
name: stop-latency
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""
TOKEN = "bench-api-token"
#: The figure this benchmark is held to.
TARGET_P99_MS = 50.0


@contextmanager
def throwaway_store(url: str | None) -> Iterator[str]:
    """A database URL for this run only: a SQLite file in a temporary directory, or a PostgreSQL schema."""
    if url is None or url.startswith("sqlite"):
        directory = Path(tempfile.mkdtemp(prefix="dunning-bench-"))
        try:
            yield url or f"sqlite:///{directory / 'store.db'}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat (None elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(overrides: dict[str, Any], port: int, threads: int | None) -> None:
    """The API under uvicorn, in a process of its own (``dunning serve``).

    With ``threads``, the embedded runner (scheduler and Dramatiq worker threads)
    shares the process, as ``dunning serve --run`` has it.
    """
    logging.basicConfig(level=logging.WARNING)
    rt = build_runtime(Settings(**overrides))
    runner = Embedded(rt, threads=threads) if threads else None
    if runner is not None:
        runner.start()
        threading.Thread(target=runner.run_forever, name="dunning-scheduler", daemon=True).start()
    try:
        uvicorn.run(create_app(rt), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        if runner is not None:
            runner.stop()
        rt.close()


def work(overrides: dict[str, Any], threads: int) -> None:
    """The embedded runner in a process of its own (``dunning run``), until SIGTERM."""
    logging.basicConfig(level=logging.WARNING)
    rt = build_runtime(Settings(**overrides))
    runner = Embedded(rt, threads=threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runner.start()
    threading.Thread(target=runner.run_forever, name="dunning-scheduler", daemon=True).start()
    stop.wait()
    runner.stop()
    rt.close()


def twilio(pipe: Connection, delay: float, requests: int) -> None:
    """The fake Twilio, in a process of its own so that it does not slow the clients' clock readings.

    It sends its settings, then waits for any message; then it sends what it received
    (intent id and ``time.monotonic()``, which is one clock for every process on Linux).
    """
    fake = FakeTwilio().start()
    fake.slow(delay, requests=requests)
    pipe.send(fake.settings())
    pipe.recv()
    pipe.send([(record.intent_id, record.received) for record in fake.messages])
    fake.stop()


def end(process: multiprocessing.process.BaseProcess) -> None:
    """Stop a child this benchmark started: SIGTERM, then SIGKILL if it lingers."""
    process.terminate()
    process.join(10)
    if process.is_alive():
        process.kill()
        process.join(5)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def pending_of(store: Store, case_id: str) -> int:
    """How many reminders of the case are still waiting to go (after its payment: none)."""
    with store.read() as conn:
        query = select(func.count()).where(intents.c.case_id == case_id, intents.c.state.in_(PENDING_STATES))
        return int(conn.scalar(query) or 0)


def sent_count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.scalar(select(func.count()).where(intents.c.state == IntentState.SENT)) or 0)


def unsettled(store: Store) -> int:
    """Reminders not yet delivered, cancelled or failed."""
    with store.read() as conn:
        query = select(func.count()).where(intents.c.state.in_((*PENDING_STATES, IntentState.SENDING)))
        return int(conn.scalar(query) or 0)


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def wait_until(deadline: float, what: str, condition: Callable[[], bool]) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.005)


def run(args: argparse.Namespace, database_url: str) -> int:
    deadline = time.monotonic() + args.timeout
    policy = Path(tempfile.mkdtemp(prefix="dunning-bench-policy-")) / "policy.yaml"
    policy.write_text(POLICY)
    spawn = multiprocessing.get_context("spawn")
    pipe, child_end = spawn.Pipe()
    children: list[multiprocessing.process.BaseProcess] = [
        spawn.Process(target=twilio, args=(child_end, args.twilio_delay, args.cases), name="fake-twilio")
    ]
    children[0].start()
    if not pipe.poll(30):
        raise RuntimeError("the fake Twilio did not start")
    twilio_settings = pipe.recv()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    overrides = {
        "database_url": database_url,
        "policy": str(policy),
        "api_tokens": [TOKEN],
        "public_url": url,
        "worker_threads": args.threads,
        **twilio_settings,
    }
    store = open_store(database_url)
    received: list[tuple[str | None, float]] = []
    try:
        now = datetime.now(UTC)
        due = (now - timedelta(days=3)).date()
        ids = [f"B-{i:06d}" for i in range(args.cases)]
        with store.write() as conn:
            store.upsert_cases(
                conn,
                [
                    make_case(case_id=case_id, debtor_id=f"D-{case_id}", phone=f"+86139{i:08d}", due_date=due)
                    for i, case_id in enumerate(ids)
                ],
                now,
            )
        together = args.threads if args.together else None
        api = spawn.Process(target=serve, args=(overrides, port, together), name="dunning-serve")
        children.append(api)
        api.start()
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as probe:
            wait_until(deadline, "the API", lambda: _healthy(probe) or not api.is_alive())
            if not api.is_alive():
                raise RuntimeError(f"the API process exited with {api.exitcode}")

        chosen = random.Random(args.seed).sample(ids, args.warmup + args.payments)
        warm, chosen = chosen[: args.warmup], chosen[args.warmup :]
        latency: dict[str, float] = {}
        returned: dict[str, float] = {}
        left_pending: list[str] = []
        idle: list[float] = []
        cancelled = 0
        errors: list[str] = []
        lock = threading.Lock()

        local = threading.local()
        clients: list[httpx.Client] = []

        def pay(case_id: str, due: float, measured: bool = True) -> None:
            """POST one payment at its arrival time; time it from sending to the answer."""
            nonlocal cancelled
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=url, timeout=30, trust_env=False)
                clients.append(local.client)
            time.sleep(max(0.0, due - time.monotonic()))
            body = {"event_id": f"pay-{case_id}", "case_id": case_id, "kind": "payment", "amount": "3200.00"}
            sent = time.monotonic()
            response = local.client.post(
                "/v1/events", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            done = time.monotonic()
            if response.status_code != 200:
                errors.append(f"{case_id}: {response.status_code} {response.text[:200]}")
                return
            still = pending_of(store, case_id)  # verified outside the timed span
            with lock:
                returned[case_id] = done
                if not measured:
                    idle.append((done - sent) * 1000)
                    return
                latency[case_id] = done - sent
                cancelled += response.json()[0]["cancelled"]
                if still:
                    left_pending.append(case_id)

        # Payments arrive on their own (a Poisson process at --rate), not when the last one
        # was answered: the figure is what one payment waits, not what a saturated client sees.
        rng = random.Random(args.seed)
        with ThreadPoolExecutor(args.concurrency, thread_name_prefix="payer") as pool:
            # Warm-up, not measured: the API's first requests open its database connections.
            # One at a time and, unless the runner shares the API's process, before any
            # delivery: their times are the floor, the cost of a payment on an idle machine.
            for case_id in warm:
                pool.submit(pay, case_id, 0.0, False).result(timeout=max(0.1, deadline - time.monotonic()))
            if not args.together:
                children.append(
                    spawn.Process(target=work, args=(overrides, args.threads), name="dunning-run")
                )
                children[-1].start()
            wait_until(deadline, "the first text", lambda: sent_count(store) > 0)  # deliveries are running
            started = time.monotonic()
            cpu_before = cpu_times()
            arrival = started
            futures = []
            for case_id in chosen:
                futures.append(pool.submit(pay, case_id, arrival))
                arrival += rng.expovariate(args.rate)
            for future in futures:
                future.result(timeout=max(0.1, deadline - time.monotonic()))
        paying = time.monotonic() - started
        for client in clients:
            client.close()
        cpu_after = cpu_times()
        busy = None
        if cpu_before and cpu_after and cpu_after[1] > cpu_before[1]:
            busy = (cpu_after[0] - cpu_before[0]) / (cpu_after[1] - cpu_before[1])
        wait_until(deadline, "the last delivery", lambda: unsettled(store) == 0)
        with store.read() as conn:
            case_of = dict(conn.execute(select(intents.c.intent_id, intents.c.case_id)).all())
            planned = len(case_of)
        pipe.send("stop")
        if pipe.poll(30):
            received = pipe.recv()
    finally:
        for child in children:
            end(child)
        dialect = store.dialect
        store.dispose()
        shutil.rmtree(policy.parent, ignore_errors=True)

    late = [
        intent_id
        for intent_id, at in received
        if (case := case_of.get(intent_id or "")) in returned and at >= returned[case]
    ]
    twice = len(received) - len({intent_id for intent_id, _ in received})
    ms = [v * 1000 for v in latency.values()]
    print(f"machine : {machine()}")
    print(f"command : {shlex.join([sys.executable, *sys.argv])}")
    where = "in the API process (--together)" if args.together else "in a runner process beside the API's"
    print(f"store   : {dialect}; {args.threads} worker threads {where}")
    print(f"twilio  : the fake answers each text after {args.twilio_delay * 1000:g} ms")
    print(f"cases   : {args.cases}; reminders planned {planned}; texts received by the fake {len(received)}")
    print(
        f"payments: {len(ms)} of {args.payments} measured (after {args.warmup} to warm up), arriving at {args.rate:g}/s (at most {args.concurrency} "
        f"at once), over {paying:.1f} s; reminders they cancelled {cancelled}"
    )
    if len(idle) > 1 and not args.together:
        print(
            f"idle    : {len(idle) - 1} payments one at a time before any delivery (the first left out): "
            f"p50 {statistics.median(idle[1:]):.1f} ms  max {max(idle[1:]):.1f} ms"
        )
    if busy is not None:
        print(
            f"cpu     : {busy:.0%} of all cores busy while the payments arrived (every process on the machine)"
        )
    if ms:
        p99 = percentile(ms, 0.99)
        print(
            f"request->response (all pending reminders of the case cancelled): "
            f"p50 {statistics.median(ms):.1f} ms  p90 {percentile(ms, 0.9):.1f} ms  p99 {p99:.1f} ms  "
            f"max {max(ms):.1f} ms  "
            f"(target p99 <= {TARGET_P99_MS:g} ms: {'met' if p99 <= TARGET_P99_MS else 'NOT met'})"
        )
    print(f"texts received after their case's payment returned: {len(late)} (must be 0)")
    print(f"reminders received twice: {twice}; cases still pending after their payment: {len(left_pending)}")
    for error in errors[:5]:
        print(f"error: {error}")
    failed = late or twice or left_pending or errors
    return 1 if failed or len(ms) != args.payments or len(returned) != args.payments + args.warmup else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases whose first text is delivered (2000)")
    parser.add_argument("--payments", type=int, default=300, help="cases paid while texts go out (300)")
    parser.add_argument(
        "--rate", type=float, default=30, help="payments arriving per second, on average (30)"
    )
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (a throwaway schema is used); default SQLite file"
    )
    parser.add_argument("--threads", type=int, default=4, help="delivery worker threads (4)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="clients posting payments at most at once (8)"
    )
    parser.add_argument(
        "--twilio-delay", type=float, default=0.05, help="seconds the fake Twilio takes to answer (0.05)"
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="run the worker threads inside the API process (dunning serve --run); default: a process each",
    )
    parser.add_argument("--warmup", type=int, default=16, help="payments sent first and not measured (16)")
    parser.add_argument("--seed", type=int, default=1, help="which cases are paid (1)")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many seconds (300)")
    args = parser.parse_args()
    if not 0 < args.payments <= args.cases - args.warmup:
        parser.error("--payments must be between 1 and --cases minus --warmup")
    logging.basicConfig(level=logging.WARNING)
    with throwaway_store(args.database_url) as url:
        return run(args, url)


if __name__ == "__main__":
    sys.exit(main())
