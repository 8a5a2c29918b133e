"""Benchmark: one scheduler tick over a large portfolio (decide + write the outbox).

    python bench/planning.py --cases 1000000 --backend sqlite
    python bench/planning.py --cases 100000 --backend postgresql
    python bench/planning.py --cases 100000 --portfolio-factor 10     # 10x the cases, same number due

Prints cases/s, intents/s and peak RSS. Targets: 1 M cases in at most 60 s on
2 cores; a 10x portfolio with the same number of due cases at most 1.5x the tick.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, peak_rss_mb, throwaway_store
from sqlalchemy import update

from dunning.core.domain.model import Case
from dunning.core.runtime import build_runtime
from dunning.core.runtime.partitioned import partitioned_tick
from dunning.core.settings import Settings
from dunning.core.store.schema import cases as cases_table

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai: lawful


def portfolio(count: int, seed: int, offset: int = 0) -> list[Case]:
    rng = random.Random(seed)
    out = []
    for i in range(offset, offset + count):
        chinese = rng.random() < 0.7
        out.append(
            Case(
                case_id=f"B-{i:08d}",
                debtor_id=f"D-{i // 2 if rng.random() < 0.1 else i:08d}",  # some debtors have two loans
                name="王芳" if chinese else "Alex Morgan",
                account=f"6222{i:012d}",
                amount_due=Decimal(rng.choice(["320.00", "1200.00", "5800.00", "15600.00"])),
                currency="CNY" if chinese else "USD",
                due_date=date(2026, 11, 1) + timedelta(days=rng.randrange(0, 30)),
                locale="zh-CN" if chinese else "en",
                phone=f"+86138{i % 100000000:08d}" if chinese else f"+1415{5550000 + i % 10000:07d}",
                push_token=f"tok-{i}" if rng.random() < 0.6 else None,
                timezone="Asia/Shanghai"
                if chinese
                else rng.choice([None, "America/New_York", "America/Los_Angeles"]),
                payment_url=f"https://pay.example.com/r/{i}",
            )
        )
    return out


def _profiler() -> Any:
    """A started pyinstrument profiler (of this process: profile with one process)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--profile needs pyinstrument: pip install pyinstrument") from None
    profiler = Profiler(interval=0.0005)
    profiler.start()
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="cases due in the tick")
    parser.add_argument("--portfolio-factor", type=int, default=1, help="portfolio = factor x due cases")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=1, help="partitions ticked in parallel processes")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the tick")
    args = parser.parse_args()
    total = args.cases * args.portfolio_factor
    print(f"machine: {machine()}")
    print(f"command: python bench/planning.py {' '.join(sys.argv[1:])}")
    with tempfile.TemporaryDirectory() as tmp, throwaway_store(args.backend, Path(tmp)) as url:
        settings = Settings(database_url=url, policy=str(ROOT / "examples" / "policy.yaml"), tick_batch=5000)
        rt = build_runtime(settings, dry_run=True, clock=lambda: NOW)
        started = time.perf_counter()
        batch = 20_000
        for start in range(0, total, batch):
            chunk = portfolio(min(batch, total - start), args.seed + start, offset=start)
            with rt.store.write() as conn:
                rt.store.upsert_cases(conn, chunk, NOW - timedelta(hours=1))
        loaded = time.perf_counter() - started
        if args.portfolio_factor > 1:
            # Only every factor-th case is due now; the rest wait for a later day.
            with rt.store.write() as conn:
                conn.execute(update(cases_table).values(next_check_at=NOW + timedelta(days=3)))
                due_ids = [f"B-{i:08d}" for i in range(0, total, args.portfolio_factor)]
                for start in range(0, len(due_ids), 5000):
                    conn.execute(
                        update(cases_table)
                        .where(cases_table.c.case_id.in_(due_ids[start : start + 5000]))
                        .values(next_check_at=NOW - timedelta(minutes=5))
                    )
        print(
            f"portfolio: {total:,} cases ({args.cases:,} due), loaded in {loaded:.1f} s, backend {args.backend}"
        )
        rt.close()
        profiler = _profiler() if args.profile else None
        started = time.perf_counter()
        report = partitioned_tick(settings, NOW, args.processes, dry_run=True)
        took = time.perf_counter() - started
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
    print(f"tick: {report.cases:,} cases decided, {report.planned:,} intents planned in {took:.1f} s")
    print(f"      {report.cases / took:,.0f} cases/s, {report.planned / took:,.0f} intents/s")
    print(f"      actions: {dict(sorted(report.actions.items()))}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak RSS: {peak_rss_mb():,.0f} MiB (largest tick process: {max(children, peak_rss_mb()):,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
