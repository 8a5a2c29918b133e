"""Benchmark: one scheduler tick over a large portfolio (decide + write the outbox).

    python bench/planning.py --cases 1000000 --backend sqlite
    python bench/planning.py --cases 100000 --backend postgresql
    python bench/planning.py --cases 100000 --portfolio-factor 10     # 10x the cases, same number due

Prints cases/s, intents/s, CPU per case and peak RSS. Targets: 1 M cases in at
most 60 s on 2 cores; a 10x portfolio with the same number of due cases at most
1.5x the tick.

The ceiling, measured in the same run, reads the same due cases and histories
from a second copy of the portfolio and writes the rows the tick wrote — case
updates, intents, audit rows — with no decision logic: the ratio of the tick
to the ceiling is what deciding costs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
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

from common import DEFAULT_PG, machine, peak_rss_mb, throwaway_store
from results import record
from sqlalchemy import select, update

from dunning.core.domain.model import Case
from dunning.core.runtime import build_runtime
from dunning.core.runtime.partitioned import partitioned_tick
from dunning.core.settings import Settings
from dunning.core.store.schema import audit as audit_table
from dunning.core.store.schema import cases as cases_table
from dunning.core.store.schema import intents as intents_table
from dunning.core.store.store import Store

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


def load(url: str, total: int, due: int, seed: int) -> float:
    """Load the portfolio into the store at ``url``; only every factor-th case due now. Seconds taken."""
    store = Store(url)
    store.migrate()
    started = time.perf_counter()
    batch = 20_000
    for start in range(0, total, batch):
        chunk = portfolio(min(batch, total - start), seed + start, offset=start)
        with store.write() as conn:
            store.upsert_cases(conn, chunk, NOW - timedelta(hours=1))
    if total > due:
        factor = total // due
        # Only every factor-th case is due now; the rest wait for a later day.
        with store.write() as conn:
            conn.execute(update(cases_table).values(next_check_at=NOW + timedelta(days=3)))
            due_ids = [f"B-{i:08d}" for i in range(0, total, factor)]
            for start in range(0, len(due_ids), 5000):
                conn.execute(
                    update(cases_table)
                    .where(cases_table.c.case_id.in_(due_ids[start : start + 5000]))
                    .values(next_check_at=NOW - timedelta(minutes=5))
                )
    store.engine.dispose()
    return time.perf_counter() - started


#: The columns of a case the tick writes back.
_CASE_STATE = ("case_id", "status", "segment", "ladder", "next_check_at", "hold_reason")
#: The columns of a planned intent (as the tick writes them).
_INTENT = (
    "intent_id", "case_id", "debtor_id", "channel", "ladder", "segment", "step", "cycle", "seq",
    "template", "variant", "message_id", "strategy", "state", "planned_at", "not_before",
    "contact_at", "attempts", "connected", "updated_at",
)  # fmt: skip
_AUDIT = ("at", "case_id", "kind", "action", "channel", "step", "rule", "intent_id", "detail")

Written = dict[str, tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]


def written_by_tick(url: str) -> Written:
    """What the tick wrote, per case: its new state, its intents and its audit rows."""
    store = Store(url)
    out: Written = {}
    with store.read() as conn:
        query = select(*[cases_table.c[k] for k in _CASE_STATE]).where(cases_table.c.updated_at == NOW)
        for row in conn.execute(query):
            state = dict(row._mapping)
            out[state["case_id"]] = ({**state, "updated_at": NOW}, [], [])
        for row in conn.execute(select(*[intents_table.c[k] for k in _INTENT])):
            out[row.case_id][1].append(dict(row._mapping))
        query = select(*[audit_table.c[k] for k in _AUDIT]).where(audit_table.c.kind == "decision")
        for row in conn.execute(query.order_by(audit_table.c.id)):
            out[row.case_id][2].append(dict(row._mapping))
    store.engine.dispose()
    return out


def replay(url: str, written: Written, batch: int, partitions: tuple[int, int]) -> tuple[float, float, int]:
    """The ceiling: the tick's reads and writes for one partition, no deciding (seconds, CPU, cases)."""
    store = Store(url)
    started, cpu = time.perf_counter(), time.process_time()
    after: tuple[datetime, str] | None = None
    done = 0
    while True:
        with store.read() as conn:
            page = store.due_cases(conn, NOW, batch, partitions, after)
            store.histories(conn, [due.case for due in page], (), None)
        if not page:
            break
        after = (page[-1].next_check_at, page[-1].case.case_id)
        rows = [written[due.case.case_id] for due in page if due.case.case_id in written]
        with store.write() as conn:
            versions = {due.case.case_id: due.updated_at for due in page}
            fresh = store.set_case_state(conn, [state for state, _, _ in rows], versions)
            store.plan_intents(conn, [i for state, its, _ in rows if state["case_id"] in fresh for i in its])
            store.add_audit(conn, [a for state, _, trail in rows if state["case_id"] in fresh for a in trail])
        done += len(page)
        if len(page) < batch:
            break
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.engine.dispose()
    return took, cpu, done


def ceiling(url: str, written: Written, batch: int, processes: int) -> tuple[float, float, int]:
    """The ceiling over every partition, in ``processes`` processes: (wall seconds, CPU seconds, cases)."""
    if processes <= 1:
        return replay(url, written, batch, (1, 0))
    parts = [(url, written, batch, (processes, i)) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        started = time.perf_counter()
        results = pool.starmap(replay, parts)
        took = time.perf_counter() - started
    return took, sum(r[1] for r in results), sum(r[2] for r in results)


def cpu_seconds() -> float:
    """CPU used so far by this process and its finished children."""
    own = os.times()
    return own.user + own.system + own.children_user + own.children_system


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
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL server (throwaway schemas)")
    parser.add_argument("--no-ceiling", action="store_true", help="time the tick only")
    args = parser.parse_args()
    total = args.cases * args.portfolio_factor
    print(f"machine: {machine()}")
    print(f"command: python bench/planning.py {' '.join(sys.argv[1:])}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_store(args.backend, Path(tmp), args.database_url) as url,
        throwaway_store(args.backend, Path(tmp), args.database_url) as copy,
    ):
        loaded = load(url, total, args.cases, args.seed)
        if not args.no_ceiling:
            load(copy, total, args.cases, args.seed)
        print(
            f"portfolio: {total:,} cases ({args.cases:,} due), loaded in {loaded:.1f} s, backend {args.backend}"
        )
        settings = Settings(database_url=url, policy=str(ROOT / "examples" / "policy.yaml"), tick_batch=5000)
        # Plugins imported before the clock starts, as in a running scheduler.
        build_runtime(settings, dry_run=True, clock=lambda: NOW).close()
        profiler = _profiler() if args.profile else None
        started, cpu = time.perf_counter(), cpu_seconds()
        report = partitioned_tick(settings, NOW, args.processes, dry_run=True)
        took, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
        rate = report.cases / took
        print(f"tick: {report.cases:,} cases decided, {report.planned:,} intents planned in {took:.1f} s")
        print(f"      {rate:,.0f} cases/s, {report.planned / took:,.0f} intents/s")
        print(f"      {cpu / max(report.cases, 1) * 1e6:,.0f} µs of CPU per case (tick processes)")
        print(f"      actions: {dict(sorted(report.actions.items()))}")
        top, top_rate, ratio = None, None, None
        if not args.no_ceiling:
            top, top_cpu, top_cases = ceiling(copy, written_by_tick(url), settings.tick_batch, args.processes)
            top_rate = top_cases / top
            ratio = rate / top_rate
            print(
                f"ceiling (same reads and writes, no deciding): {top_cases:,} cases in {top:.1f} s, "
                f"{top_rate:,.0f} cases/s, {top_cpu / max(top_cases, 1) * 1e6:,.0f} µs of CPU per case"
            )
            print(f"tick / ceiling: {ratio:.0%}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak RSS: {peak_rss_mb():,.0f} MiB (largest tick process: {max(children, peak_rss_mb()):,.0f} MiB)"
    )
    record(
        "planning",
        backend=args.backend,
        cases=report.cases,
        portfolio_factor=args.portfolio_factor,
        processes=args.processes,
        seconds=round(took, 2),
        cases_per_s=round(rate),
        cpu_us_per_case=round(cpu / max(report.cases, 1) * 1e6),
        ceiling_cases_per_s=round(top_rate) if top_rate is not None else None,
        ratio_to_ceiling=round(ratio, 3) if ratio is not None else None,
    )


if __name__ == "__main__":
    main()
