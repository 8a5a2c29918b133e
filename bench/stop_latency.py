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
response: nothing of it may still be pending). A payment that meets a send of
its case in flight waits, by design, for the provider's answer (the case
gate), so the payments are told apart by the fake Twilio's own record of when
each text's request arrived and when it wrote the answer: a payment meets a
send when, at some moment between its request and its response, a text of
its case had arrived at the fake and not been answered. For each population
and overall it prints count, p50, p99 and max; and the count of texts the fake
received for a case after that case's payment returned, which must be 0.
Targets: p99 <= 20 ms for payments that meet no send, p99 <= the fake's
delay + 20 ms (70 ms) for those that meet one.

Then, with the runner stopped, the throughput phase: ``--clients`` clients
POST ``--events`` events as fast as the API answers — payments, replies,
promises, acknowledgements and disputes, each for a case of its own whose
first reminder is planned — and it prints the events per second answered
2xx, the API process's CPU time per event, and how many accepted events are
missing from the store (must be 0). Target: >= 500 events/s on PostgreSQL.

    python bench/stop_latency.py                                   # SQLite file
    python bench/stop_latency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/stop_latency.py --events 0                        # payments only, no throughput phase

With PostgreSQL, the store lives in a throwaway schema, dropped at the end.
Nothing leaves 127.0.0.1. The deployment under test runs in processes of its
own: the API (``dunning serve``) and the runner (``dunning run``), or with
``--together`` both in one (``dunning serve --run``), where the worker threads
compete with the API for the interpreter lock. The fake Twilio has a process
of its own; the clients run in this one. With ``DUNNING_BENCH_RESULTS`` set,
the figures are also appended to that file (see ``results.py``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import results
from common import machine

from dunning.core.api import create_app
from dunning.core.domain.model import IntentState
from dunning.core.intake.keys import Namespace, namespaced
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store import Store, open_store
from dunning.core.store.outbox import PENDING_STATES
from dunning.core.store.schema import events, intents
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
#: p99 of a payment that meets no send of its case in flight.
TARGET_IDLE_P99_MS = 20.0
#: What a payment that meets a send in flight may wait beyond the provider's answer (p99).
SLACK_MS = 20.0
#: Events one API process accepts per second on PostgreSQL, payments and replies mixed.
TARGET_EVENTS_PER_S = 500.0
#: The mix of the throughput phase, in twentieths.
EVENT_MIX = ("payment",) * 8 + ("reply",) * 6 + ("promise",) * 3 + ("ack",) * 2 + ("dispute",)
REPLIES = ("ok", "Got it, I will pay on Friday", "received thanks")


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


def seed(store: Store, prefix: str, count: int, first: int, now: datetime) -> list[str]:
    """``count`` cases three days overdue, one debtor and one phone number each."""
    due = (now - timedelta(days=3)).date()
    ids = [f"{prefix}-{first + i:06d}" for i in range(count)]
    with store.write() as conn:
        store.upsert_cases(
            conn,
            [
                make_case(
                    case_id=case_id, debtor_id=f"D-{case_id}", phone=f"+86139{first + i:08d}", due_date=due
                )
                for i, case_id in enumerate(ids)
            ],
            now,
        )
    return ids


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user and system, every thread) a process has used, from /proc (0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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

    It sends its settings, then waits for any message; then it sends what it received:
    per text, the intent id, when the request arrived and when the fake wrote its answer
    (``time.monotonic()``, which is one clock for every process on Linux; None if never).
    """
    fake = FakeTwilio().start()
    fake.slow(delay, requests=requests)
    pipe.send(fake.settings())
    pipe.recv()
    pipe.send([(r.intent_id, r.received, fake.answered(r.sid)) for r in fake.messages])
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


def being_sent(store: Store) -> list[str]:
    """Cases whose text a worker is sending now (leased, the provider called)."""
    with store.read() as conn:
        query = select(intents.c.case_id).where(intents.c.state == IntentState.SENDING).limit(8)
        return list(conn.scalars(query))


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
    received: list[tuple[str | None, float, float | None]] = []
    try:
        ids = seed(store, "B", args.cases, 0, datetime.now(UTC))
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
        posted: dict[str, float] = {}
        returned: dict[str, float] = {}
        left_pending: list[str] = []
        aimed: list[str] = []
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
                posted[case_id] = sent
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
            # Few random payments meet their own case's text in flight; these aim at it, paying a
            # case as soon as the store shows its text being sent (the fake's record still decides
            # which population each payment falls in).
            with ThreadPoolExecutor(4, thread_name_prefix="aimer") as aimers:
                taken = set(warm) | set(chosen)
                every = args.payments / args.rate / max(1, args.aimed)
                while len(aimed) < args.aimed and time.monotonic() < arrival:
                    case_id = next((c for c in being_sent(store) if c not in taken), None)
                    if case_id is None:
                        time.sleep(0.002)
                        continue
                    taken.add(case_id)
                    aimed.append(case_id)
                    futures.append(aimers.submit(pay, case_id, 0.0))
                    time.sleep(every)
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
        if not args.together:
            end(children.pop())  # the runner: the API alone takes the events below
        accepted = throughput(args, store, url, overrides, api.pid or 0) if args.events else None
    finally:
        for child in children:
            end(child)
        dialect = store.dialect
        store.dispose()
        shutil.rmtree(policy.parent, ignore_errors=True)

    sends: dict[str, list[tuple[float, float | None]]] = {}
    for intent_id, arrived, answered in received:
        sends.setdefault(case_of.get(intent_id or "", ""), []).append((arrived, answered))
    late = [
        case
        for case, texts in sends.items()
        if case in returned and any(arrived >= returned[case] for arrived, _ in texts)
    ]
    twice = len(received) - len({intent_id for intent_id, _, _ in received})
    met = {case for case in latency if meets_send(sends.get(case, []), posted[case], returned[case])}
    inflight = [latency[case] * 1000 for case in latency if case in met]
    alone = [latency[case] * 1000 for case in latency if case not in met]
    ms = [v * 1000 for v in latency.values()]
    print(f"machine : {machine()}")
    print(f"command : {shlex.join([sys.executable, *sys.argv])}")
    where = "in the API process (--together)" if args.together else "in a runner process beside the API's"
    print(f"store   : {dialect}; {args.threads} worker threads {where}")
    print(f"twilio  : the fake answers each text after {args.twilio_delay * 1000:g} ms")
    print(f"cases   : {args.cases}; reminders planned {planned}; texts received by the fake {len(received)}")
    print(
        f"payments: {len(ms)} of {args.payments + len(aimed)} measured (after {args.warmup} to warm up): "
        f"{args.payments} arriving at {args.rate:g}/s (at most {args.concurrency} at once) and {len(aimed)} "
        f"aimed at cases whose text the store showed being sent, over {paying:.1f} s; "
        f"reminders they cancelled {cancelled}"
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
    limit = args.twilio_delay * 1000 + SLACK_MS
    print(
        "request->response (all pending reminders of the case cancelled), from the fake Twilio's own record:"
    )
    print(f"  no send of the case at the fake meanwhile  {figures(alone, TARGET_IDLE_P99_MS)}")
    print(f"  a send of the case at the fake meanwhile   {figures(inflight, limit)}")
    print(f"  all payments                               {figures(ms, None)}")
    print(f"texts received after their case's payment returned: {len(late)} (must be 0)")
    print(f"reminders received twice: {twice}; cases still pending after their payment: {len(left_pending)}")
    for error in errors[:5]:
        print(f"error: {error}")
    if accepted is not None:
        print(accepted.report())
    results.record(
        "stop_latency",
        backend=dialect,
        idle_p50_ms=round(statistics.median(alone), 2) if alone else None,
        idle_p99_ms=round(percentile(alone, 0.99), 2) if alone else None,
        idle_count=len(alone),
        inflight_p50_ms=round(statistics.median(inflight), 2) if inflight else None,
        inflight_p99_ms=round(percentile(inflight, 0.99), 2) if inflight else None,
        inflight_count=len(inflight),
        provider_latency_ms=args.twilio_delay * 1000,
        sends_after_payment=len(late),
        events_per_s=round(accepted.per_second, 1) if accepted is not None else None,
    )
    failed = late or twice or left_pending or errors or (accepted is not None and accepted.failed)
    expected = args.payments + len(aimed)
    return 1 if failed or len(ms) != expected or len(returned) != expected + args.warmup else 0


def event_body(index: int, case_id: str, today: str) -> dict[str, Any]:
    """The ``index``-th event of the throughput phase, for its own case."""
    kind = EVENT_MIX[index % len(EVENT_MIX)]
    body: dict[str, Any] = {"event_id": f"ev-{case_id}", "case_id": case_id, "kind": kind}
    if kind == "payment":
        body["amount"] = "3200.00"
    elif kind == "reply":
        body["text"] = REPLIES[index % len(REPLIES)]
    elif kind == "promise":
        body["date"] = today
    return body


@dataclass
class Accepted:
    """What one API process took in the throughput phase."""

    events: int
    statuses: dict[int, int]
    seconds: float
    cpu_seconds: float
    missing: int
    clients: int
    dialect: str

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> bool:
        return bool(self.missing) or self.ok == 0

    def report(self) -> str:
        target = ""
        if self.dialect == "postgresql":
            met = "met" if self.per_second >= TARGET_EVENTS_PER_S else "NOT met"
            target = f"  (target >= {TARGET_EVENTS_PER_S:g}/s on PostgreSQL: {met})"
        refused = {s: n for s, n in self.statuses.items() if not 200 <= s < 300}
        return (
            f"throughput: {self.events} events ({', '.join(sorted(set(EVENT_MIX)))}) for as many cases, "
            f"{self.clients} clients at once, to the API alone (the runner stopped)\n"
            f"  accepted {self.ok} in {self.seconds:.2f} s: {self.per_second:.0f} events/s{target}\n"
            f"  API process CPU {self.cpu_seconds * 1000 / max(1, self.ok):.2f} ms an event; "
            f"refused {refused or 0}; accepted but not in the store {self.missing} (must be 0)"
        )


def throughput(
    args: argparse.Namespace, store: Store, url: str, overrides: dict[str, Any], api: int
) -> Accepted:
    """Many clients POST a mix of events, each for a case of its own, as fast as the API answers.

    The cases' first reminders are planned first (one tick, here), so the payments cancel
    something. Every event answered 2xx is then looked up in the store.
    """
    ids = seed(store, "T", args.events, args.cases, datetime.now(UTC))
    rt = build_runtime(Settings(**overrides))
    try:
        tick(rt)
    finally:
        rt.close()
    today = datetime.now(UTC).date().isoformat()
    bodies = [json.dumps(event_body(i, case_id, today)).encode() for i, case_id in enumerate(ids)]
    host, port = url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    accepted: list[str] = []
    lock = threading.Lock()
    todo = iter(range(len(bodies)))

    def client() -> None:
        # http.client, not httpx: the clients share the machine with the API and must cost little.
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        mine: dict[int, int] = {}
        ok: list[str] = []
        while True:
            with lock:
                index = next(todo, None)
            if index is None:
                break
            conn.request("POST", "/v1/events", body=bodies[index], headers=headers)
            response = conn.getresponse()
            response.read()
            mine[response.status] = mine.get(response.status, 0) + 1
            if 200 <= response.status < 300:
                ok.append(ids[index])
        conn.close()
        with lock:
            for status, n in mine.items():
                statuses[status] = statuses.get(status, 0) + n
            accepted.extend(ok)

    cpu = process_cpu(api)
    started = time.monotonic()
    with ThreadPoolExecutor(args.clients, thread_name_prefix="client") as pool:
        for future in [pool.submit(client) for _ in range(args.clients)]:
            future.result()
    seconds = time.monotonic() - started
    cpu = process_cpu(api) - cpu
    wanted = [namespaced(Namespace.API, f"ev-{case_id}") for case_id in accepted]
    stored = 0
    with store.read() as conn:
        for start in range(0, len(wanted), 500):
            query = select(func.count()).where(events.c.event_id.in_(wanted[start : start + 500]))
            stored += int(conn.scalar(query) or 0)
    return Accepted(len(bodies), statuses, seconds, cpu, len(wanted) - stored, args.clients, store.dialect)


def meets_send(texts: list[tuple[float, float | None]], posted: float, returned: float) -> bool:
    """Whether a text of the case was at the fake — arrived, not yet answered — at some moment of the request.

    Such a payment may wait, by design, for the provider's answer: the send holds the case gate.
    """
    return any(
        arrived <= returned and (answered is None or answered >= posted) for arrived, answered in texts
    )


def figures(ms: list[float], target: float | None) -> str:
    if not ms:
        return "count 0"
    p99 = percentile(ms, 0.99)
    line = f"count {len(ms):4d}  p50 {statistics.median(ms):6.1f}  p99 {p99:6.1f}  max {max(ms):6.1f} ms"
    if target is not None:
        line += f"  (target p99 <= {target:g} ms: {'met' if p99 <= target else 'NOT met'})"
    return line


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
    parser.add_argument(
        "--aimed",
        type=int,
        default=60,
        help="more payments, each for a case whose text is being sent at that moment (60)",
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
    parser.add_argument(
        "--events",
        type=int,
        default=1500,
        help="events of the throughput phase, after the payments (1500; 0: none)",
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="clients posting events at once in the throughput phase (16)"
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
