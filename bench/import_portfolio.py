"""Benchmark: importing a large CSV portfolio (streamed, upserted by case_id).

    python bench/import_portfolio.py --rows 1000000                 # SQLite file
    python bench/import_portfolio.py --rows 1000000 --backend postgresql

Prints rows/s and the importing process's peak RSS. Target: 1 M rows with a
peak RSS of at most 300 MB. The file is written first by a separate process,
so its writing does not count against the import's memory.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, peak_rss_mb, throwaway_store
from results import record

HEADER = ["case_id", "debtor_id", "name", "phone", "push_token", "locale", "timezone", "account",
          "amount_due", "currency", "due_date", "payment_url", "tags"]  # fmt: skip


def write_file(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            chinese = i % 10 < 7
            writer.writerow(
                [
                    f"I-{i:08d}", f"D-{i:08d}", "王芳" if chinese else "Alex Morgan",
                    f"+86138{i % 100000000:08d}" if chinese else f"+1415{5550000 + i % 10000:07d}",
                    f"tok-{i}" if i % 5 else "", "zh-CN" if chinese else "en",
                    "Asia/Shanghai" if chinese else "", f"6222{i:012d}", f"{100 + i % 5000}.00",
                    "CNY" if chinese else "USD", f"2026-11-{1 + i % 28:02d}", f"https://pay.example.com/r/{i}",
                    "app" if i % 2 else "web",
                ]
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--write-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        write_file(Path(args.write_only), args.rows)
        return
    print(f"machine: {machine()}")
    print(f"command: python bench/import_portfolio.py {' '.join(sys.argv[1:])}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "portfolio.csv"
        subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--write-only", str(path)], check=True
        )
        size = path.stat().st_size / 1024 / 1024
        from dunning.core.intake.importer import import_file
        from dunning.core.store import open_store

        with throwaway_store(args.backend, Path(tmp)) as url:
            store = open_store(url)
            baseline = peak_rss_mb()
            started = time.perf_counter()
            report = import_file(store, path, now=datetime.now(UTC))
            took = time.perf_counter() - started
            store.dispose()
    print(f"file: {args.rows:,} rows, {size:,.0f} MiB; backend {args.backend}")
    print(f"import: {report} in {took:.1f} s: {report.rows / took:,.0f} rows/s")
    peak = peak_rss_mb()
    print(f"peak RSS: {peak:,.0f} MiB (before the import: {baseline:,.0f} MiB)")
    record(
        "import",
        backend=args.backend,
        rows=args.rows,
        seconds=round(took, 2),
        rows_per_s=round(report.rows / took, 1),
        peak_rss_mib=round(peak, 1),
    )


if __name__ == "__main__":
    main()
