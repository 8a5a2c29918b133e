"""Benchmark: reminders delivered by dunning's workers against a bare Dramatiq actor's ceiling.

    python bench/delivery.py --intents 20000                       # PostgreSQL store, Redis broker
    python bench/delivery.py --intents 5000 --threads 8

Both sides send the same Twilio SDK call to the same fake Twilio server on
127.0.0.1, with 1 and then 2 worker processes; the ceiling is a bare Dramatiq
actor with no store. Prints both rates and their ratio. Targets: dunning at
least 60 % of the ceiling, and near-linear from 1 to 2 processes.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ONE_TEXT_POLICY, machine, throwaway_store
from results import record

from dunning.testing.factories import write_portfolio
from dunning.testing.fake_twilio import FakeTwilio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def wait_for(fake: FakeTwilio, count: int, timeout: float) -> float:
    """Seconds from now until the fake has received ``count`` messages."""
    start = time.monotonic()
    while len(fake.messages) < count:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"only {len(fake.messages)} of {count} messages after {timeout:.0f} s")
        time.sleep(0.02)
    return time.monotonic() - start


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=120)


def ceiling(fake: FakeTwilio, redis_url: str, count: int, processes: int, threads: int) -> float:
    """Messages per second through a bare actor: enqueue all, then time the workers."""
    broker = RedisBroker(url=redis_url)
    dramatiq.set_broker(broker)
    for i in range(count):
        args = (f"+1415{5550000 + i % 10000:07d}", "Reminder " * 8, f"bare-{i}")
        broker.enqueue(
            dramatiq.Message(queue_name="bench.bare", actor_name="send_sms", args=args, kwargs={}, options={})
        )
    env = {
        **os.environ,
        "PYTHONPATH": str(HERE),
        "BENCH_REDIS_URL": redis_url,
        "BENCH_TWILIO_SID": fake.account_sid,
        "BENCH_TWILIO_TOKEN": fake.auth_token,
        "BENCH_TWILIO_URL": fake.url,
        "BENCH_TWILIO_FROM": fake.from_,
    }
    exe = str(Path(sys.executable).with_name("dramatiq"))
    procs = [
        subprocess.Popen(
            [exe, "bare_actor", "--processes", str(processes), "--threads", str(threads)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    took = wait_for(fake, count, timeout=1800)
    stop(procs)
    broker.close()
    return count / took


def dunning_rate(
    fake: FakeTwilio, redis_url: str, count: int, processes: int, threads: int, workdir: Path
) -> float:
    """Messages per second through dunning's workers: plan every intent first, then time the workers."""
    with throwaway_store("postgresql", workdir) as url:
        (workdir / "policy.yaml").write_text(ONE_TEXT_POLICY)
        write_portfolio(workdir / "cases.csv", count, prefix="B-")
        env = {
            **os.environ,
            **{f"DUNNING_{k.upper()}": str(v) for k, v in fake.settings().items()},
            "DUNNING_DATABASE_URL": url,
            "DUNNING_BROKER_URL": redis_url,
            "DUNNING_POLICY": str(workdir / "policy.yaml"),
            "DUNNING_PUBLIC_URL": "https://dunning.example.com",
            "DUNNING_TICK_BATCH": "5000",
        }
        env.pop("DUNNING_DRY_RUN", None)
        exe = str(Path(sys.executable).with_name("dunning"))
        subprocess.run(
            [exe, "import", str(workdir / "cases.csv")], env=env, check=True, stdout=subprocess.DEVNULL
        )
        subprocess.run(
            [exe, "tick"], env=env, check=True, stdout=subprocess.DEVNULL
        )  # plans and hands over all
        procs = [
            subprocess.Popen(
                [exe, "worker", "--processes", str(processes), "--threads", str(threads)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        ]
        took = wait_for(fake, count, timeout=1800)
        stop(procs)
    return count / took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--intents", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python bench/delivery.py {' '.join(sys.argv[1:])}")
    print(
        f"started: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.intents:,} SMS per run, {args.threads} threads per process"
    )
    client = redis.Redis.from_url(args.redis_url)
    rates: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for processes in (1, 2):
            for side in ("ceiling", "dunning"):
                client.flushdb()
                with FakeTwilio() as fake:
                    if side == "ceiling":
                        rate = ceiling(fake, args.redis_url, args.intents, processes, args.threads)
                    else:
                        rate = dunning_rate(
                            fake, args.redis_url, args.intents, processes, args.threads, Path(tmp)
                        )
                    assert len({r.intent_id for r in fake.messages}) == args.intents, (
                        "a message was sent twice"
                    )
                rates[side, processes] = rate
                print(f"{side:8} {processes} process(es): {rate:,.0f} SMS/s")
    client.flushdb()
    for processes in (1, 2):
        ratio = rates["dunning", processes] / rates["ceiling", processes]
        print(f"{processes} process(es): dunning at {ratio:.0%} of the ceiling")
    print(
        f"scaling 1 → 2 processes: ceiling x{rates['ceiling', 2] / rates['ceiling', 1]:.2f}, "
        f"dunning x{rates['dunning', 2] / rates['dunning', 1]:.2f}"
    )
    record(
        "delivery",
        intents=args.intents,
        threads=args.threads,
        **{f"{side}_{processes}p_per_s": round(rate, 1) for (side, processes), rate in rates.items()},
    )


if __name__ == "__main__":
    main()
