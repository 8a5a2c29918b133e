"""Benchmark: what one delivery costs, in one process, without the broker.

    python bench/delivery_path.py --intents 2000                        # PostgreSQL store
    python bench/delivery_path.py --intents 2000 --backend sqlite
    python bench/delivery_path.py --intents 1000 --profile              # and a pyinstrument profile

Imports and plans N first reminders (SMS), then calls the delivery function
for each in turn — lock, re-check, render, lease, the real Twilio SDK call to
the fake Twilio on 127.0.0.1, record, all inside the case gate — exactly as
a worker's actor does, but with no broker and one thread, so the figure is
the delivery path's own cost. Prints wall time and CPU time per reminder (the
fake server runs in this process, so its share is included), and the bare
SDK call's cost for comparison.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ONE_TEXT_POLICY, machine, throwaway_store
from results import record

from dunning.channels.sms import SmsChannel
from dunning.core.channel import OutboundMessage
from dunning.core.intake.importer import import_file
from dunning.core.runtime import build_runtime, deliver, tick
from dunning.core.runtime.delivery import Outcome
from dunning.core.settings import load_settings
from dunning.core.store.schema import intents
from dunning.testing.factories import write_portfolio
from dunning.testing.fake_twilio import FakeTwilio


def bare_sdk_ms(fake: FakeTwilio, count: int = 300) -> float:
    """Milliseconds of wall time per bare SDK send through dunning's SMS channel."""
    channel = SmsChannel.from_settings(
        load_settings(**fake.settings(public_url="https://dunning.example.com"))
    )
    assert channel is not None
    start = time.perf_counter()
    for i in range(count):
        channel.send(OutboundMessage(f"bare-{i}", "C-1", "sms", "+14155550100", {"body": "Reminder " * 8}))
    took = time.perf_counter() - start
    channel.close()
    return 1000 * took / count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--intents", type=int, default=2000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--profile", action="store_true", help="print a pyinstrument profile of the deliveries"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python bench/delivery_path.py {' '.join(sys.argv[1:])}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeTwilio() as fake,
        throwaway_store(args.backend, Path(tmp)) as url,
    ):
        workdir = Path(tmp)
        (workdir / "policy.yaml").write_text(ONE_TEXT_POLICY)
        write_portfolio(workdir / "cases.csv", args.intents, prefix="B-")
        settings = load_settings(
            **fake.settings(
                database_url=url,
                policy=str(workdir / "policy.yaml"),
                public_url="https://dunning.example.com",
            )
        )
        rt = build_runtime(settings, dry_run=False)
        try:
            import_file(rt.store, workdir / "cases.csv", now=datetime.now(UTC))
            tick(rt)  # no broker: the reminders are planned, not handed over
            with rt.store.read() as conn:
                case_of = dict(conn.execute(select(intents.c.intent_id, intents.c.case_id)).all())
            profiler = None
            if args.profile:
                try:
                    from pyinstrument import Profiler
                except ImportError:
                    raise SystemExit("--profile needs pyinstrument: pip install pyinstrument") from None
                profiler = Profiler(interval=0.0005)
                profiler.start()
            cpu, wall = time.process_time(), time.perf_counter()
            for intent_id, case_id in case_of.items():
                result = deliver(rt, intent_id, case_id)
                assert result.outcome == Outcome.SENT, result
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=False, color=False))
        finally:
            rt.close()
        assert len({r.intent_id for r in fake.messages}) == len(case_of) == len(fake.messages)
        count = len(case_of)
        print(f"store: {args.backend}; {count:,} reminders delivered one after another, each once")
        print(
            f"per reminder: {1000 * wall / count:.2f} ms wall, {1000 * cpu / count:.2f} ms CPU (this process)"
        )
        bare = bare_sdk_ms(fake)
        print(f"bare SDK send: {bare:.2f} ms wall")
        record(
            "delivery_path",
            backend=args.backend,
            intents=count,
            wall_ms=round(1000 * wall / count, 3),
            cpu_ms=round(1000 * cpu / count, 3),
            bare_sdk_ms=round(bare, 3),
        )


if __name__ == "__main__":
    main()
