"""Every benchmark at a size that fits a small machine, and one table of target, result and ratio.

    python bench/run_all.py                          # about 12 minutes on 2 cores
    python bench/run_all.py --write BENCHMARKS.md    # and put the table in BENCHMARKS.md

Runs each script under ``bench/`` one after another (never two at once: they
would measure each other), each with ``DUNNING_BENCH_RESULTS`` naming a file
it records its figures in (see ``results.py``), keeps each script's printed
output in ``--logs`` (a temporary directory unless given), then prints one
table: per target, the result, the ratio of result to target (above 1 is
better for every row, whichever way the target points) and whether it is met.

``--write FILE`` replaces the part of FILE between the ``<!-- run_all -->``
and ``<!-- /run_all -->`` lines with the table, the machine and the date, and
leaves the rest of it (the profiles and the levers) as it was.

Needs PostgreSQL (``--database-url``) and Redis (``--redis-url``) on 127.0.0.1,
as the scripts do; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_PG, machine
from results import RESULTS_ENV

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START, END = "<!-- run_all -->", "<!-- /run_all -->"

#: Planning's cases per second per process before this round of work (BENCHMARKS.md, 10 k due, 1 process).
PLANNING_BEFORE = {"sqlite": 2227.0, "postgresql": 1478.0}
#: The fake Twilio's answer time in the stop-latency run (its --provider-latency default).
PROVIDER_MS = 50.0


@dataclass(frozen=True)
class Run:
    """One script run: its arguments and how long it may take."""

    label: str
    args: list[str]
    timeout: float


def runs(pg: str, redis_url: str, quick: bool) -> list[Run]:
    scale = 0.2 if quick else 1.0

    def n(count: int) -> str:
        return str(max(200, int(count * scale)))

    return [
        Run("delivery path, PostgreSQL", ["delivery_path.py", "--intents", n(1500)], 600),
        Run("delivery path, SQLite", ["delivery_path.py", "--intents", n(1500), "--backend", "sqlite"], 600),
        Run("delivery vs ceiling", ["delivery.py", "--intents", n(4000), "--redis-url", redis_url], 900),
        Run("planning, SQLite", ["planning.py", "--cases", n(20000)], 600),
        Run(
            "planning, SQLite, 10x portfolio",
            ["planning.py", "--cases", n(20000), "--portfolio-factor", "10"],
            900,
        ),
        Run("planning, PostgreSQL", ["planning.py", "--cases", n(20000), "--backend", "postgresql"], 900),
        Run(
            "planning, PostgreSQL, 10x portfolio",
            ["planning.py", "--cases", n(10000), "--portfolio-factor", "10", "--backend", "postgresql"],
            1200,
        ),
        Run(
            "planning, PostgreSQL, 1x (for the 10x ratio)",
            ["planning.py", "--cases", n(10000), "--backend", "postgresql"],
            600,
        ),
        Run("stop latency, SQLite", ["stop_latency.py"], 600),
        Run("stop latency, PostgreSQL", ["stop_latency.py", "--database-url", pg], 600),
        Run("import, SQLite", ["import_portfolio.py", "--rows", n(200000)], 900),
    ]


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    what: str
    target: str
    result: str
    ratio: float | None  # result over target, oriented so that >= 1 meets it

    @property
    def met(self) -> str:
        if self.ratio is None:
            return "not measured"
        return "yes" if self.ratio >= 1 else "no"


def _find(records: list[dict[str, Any]], name: str, **match: Any) -> dict[str, Any] | None:
    found = [r for r in records if r.get("name") == name and all(r.get(k) == v for k, v in match.items())]
    return found[-1] if found else None


def _at_least(what: str, target: float, value: float | None, show: Callable[[float], str]) -> Row:
    return Row(
        what,
        f">= {show(target)}",
        "—" if value is None else show(value),
        None if value is None else value / target,
    )


def _at_most(what: str, target: float, value: float | None, show: Callable[[float], str]) -> Row:
    if value is None:
        return Row(what, f"<= {show(target)}", "—", None)
    return Row(what, f"<= {show(target)}", show(value), target / value if value else float("inf"))


def _figures(found: dict[str, Any] | None) -> Callable[[str], float | None]:
    """A reader of one record's figures: None where the record or the figure is missing."""

    def get(key: str) -> float | None:
        return None if found is None or found.get(key) is None else float(found[key])

    return get


def table(records: list[dict[str, Any]]) -> list[Row]:
    rows: list[Row] = []
    pct = "{:.0%}".format
    ms = "{:.1f} ms".format
    delivery = _find(records, "delivery")
    for processes, target in ((1, 0.60), (2, 0.50)):
        ratio = None
        if delivery is not None:
            ratio = delivery[f"dunning_{processes}p_per_s"] / delivery[f"ceiling_{processes}p_per_s"]
        row = _at_least(
            f"Delivery, {processes} process(es), share of the bare actor's ceiling", target, ratio, pct
        )
        if delivery is not None:
            row = Row(
                row.what,
                row.target,
                f"{pct(ratio or 0)} ({delivery[f'dunning_{processes}p_per_s']:,.0f} of "
                f"{delivery[f'ceiling_{processes}p_per_s']:,.0f} SMS/s)",
                row.ratio,
            )
        rows.append(row)
    path = _find(records, "delivery_path", backend="postgresql")
    rows.append(
        _at_most(
            "Delivery path, one reminder in process, PostgreSQL (wall)",
            3.5,
            None if path is None else path["wall_ms"],
            "{:.2f} ms".format,
        )
    )
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        single = [
            r for r in records if r.get("name") == "planning" and r.get("backend") == backend
            and r.get("portfolio_factor", 1) == 1 and r.get("processes", 1) == 1
        ]  # fmt: skip
        best = max(single, key=lambda r: r["cases"], default=None)
        target = 4 * PLANNING_BEFORE[backend]
        row = _at_least(
            f"Planning, cases/s per process, {label} (4x {PLANNING_BEFORE[backend]:,.0f})",
            target,
            None if best is None else best["cases_per_s"],
            "{:,.0f}".format,
        )
        if best is not None and best.get("ceiling_cases_per_s"):
            row = Row(
                row.what,
                row.target,
                f"{best['cases_per_s']:,.0f} ({best.get('cpu_us_per_case', 0):,.0f} µs CPU/case; "
                f"ceiling {best['ceiling_cases_per_s']:,.0f}, {pct(best['cases_per_s'] / best['ceiling_cases_per_s'])} of it)",
                row.ratio,
            )
        rows.append(row)
        tenfold = _find(records, "planning", backend=backend, portfolio_factor=10)
        ratio = None
        if tenfold is not None:
            base = next(
                (r for r in reversed(single) if r["cases"] == tenfold["cases"]),
                None,
            )
            if base is not None:
                ratio = tenfold["seconds"] / base["seconds"]
        rows.append(
            _at_most(f"Planning, 10x portfolio at equal due count, {label}", 1.2, ratio, "{:.2f}x".format)
        )
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        stop = _find(records, "stop_latency", backend=backend)
        get = _figures(stop)
        rows.append(_at_most(f"Stop latency p99, no send in flight, {label}", 20, get("idle_p99_ms"), ms))
        provider = get("provider_latency_ms") or PROVIDER_MS
        rows.append(
            _at_most(
                f"Stop latency p99, a send in flight, {label} (provider {provider:.0f} ms + 20)",
                provider + 20,
                get("inflight_p99_ms"),
                ms,
            )
        )
        after = get("sends_after_payment")
        rows.append(
            Row(
                f"Sends after a committed payment, {label}",
                "0",
                "—" if after is None else f"{after:.0f}",
                None if after is None else (1.0 if after == 0 else 0.0),
            )
        )
    pg_stop = _find(records, "stop_latency", backend="postgresql")
    events = (
        None if pg_stop is None or pg_stop.get("events_per_s") is None else float(pg_stop["events_per_s"])
    )
    rows.append(
        _at_least("Events accepted per second, one API process, PostgreSQL", 500, events, "{:,.0f}/s".format)
    )
    imported = _find(records, "import")
    rows.append(
        _at_most(
            "Import peak RSS"
            + (f" ({imported['rows']:,} rows, {imported['rows_per_s']:,.0f} rows/s)" if imported else ""),
            300,
            None if imported is None else imported["peak_rss_mib"],
            "{:,.0f} MiB".format,
        )
    )
    return rows


def markdown(rows: list[Row]) -> str:
    lines = ["| Benchmark | Target | Result | Ratio | Met |", "|---|---|---|---|---|"]
    for row in rows:
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(f"| {row.what} | {row.target} | {row.result} | {ratio} | {row.met} |")
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    current = path.read_text(encoding="utf-8")
    if START not in current or END not in current:
        raise SystemExit(f"{path}: no {START} ... {END} lines to put the table between")
    head, rest = current.split(START, 1)
    _old, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/12", help="a Redis database it may flush"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a fifth of the sizes (a smoke run, not figures)"
    )
    parser.add_argument("--logs", type=Path, help="where each script's output is kept")
    parser.add_argument("--write", type=Path, metavar="FILE", help="put the table in FILE (BENCHMARKS.md)")
    parser.add_argument("--only", help="run only the scripts whose label contains this text")
    parser.add_argument(
        "--results", type=Path, help="tabulate the results.jsonl of an earlier run instead of running"
    )
    args = parser.parse_args()
    described = machine()
    started = time.monotonic()
    if args.results is not None:
        records = [json.loads(line) for line in args.results.read_text(encoding="utf-8").splitlines() if line]
    else:
        logs = args.logs or Path(tempfile.mkdtemp(prefix="dunning-bench-"))
        logs.mkdir(parents=True, exist_ok=True)
        results = logs / "results.jsonl"
        results.unlink(missing_ok=True)
        env = {**os.environ, RESULTS_ENV: str(results)}
        print(f"machine: {described}\nlogs: {logs}", flush=True)
        for number, run in enumerate(runs(args.database_url, args.redis_url, args.quick), 1):
            if args.only and args.only not in run.label:
                continue
            log = logs / f"{number:02d}-{run.args[0].removesuffix('.py')}.log"
            began = time.monotonic()
            command = [sys.executable, str(HERE / run.args[0]), *run.args[1:]]
            with log.open("w", encoding="utf-8") as out:
                try:
                    code = subprocess.run(
                        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=run.timeout
                    ).returncode
                except subprocess.TimeoutExpired:
                    code = "timed out"
            status = "ok" if code == 0 else f"FAILED ({code}; see {log})"
            print(f"{run.label:48} {time.monotonic() - began:6.0f} s  {status}", flush=True)
        records = (
            [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line]
            if results.exists()
            else []
        )
    rows = table(records)
    took = time.monotonic() - started
    text = markdown(rows)
    print()
    print(text)
    print(f"\n{sum(r.met == 'yes' for r in rows)} of {len(rows)} met; {took / 60:.1f} minutes")
    if args.write is not None:
        when = datetime.now(UTC).strftime("%Y-%m-%d")
        duration = "" if args.results is not None else f", in {took / 60:.0f} minutes,"
        write(
            args.write,
            f"Measured by `python bench/run_all.py` on {when}{duration} on\n"
            f"{described}, with PostgreSQL and Redis on the same machine.\n\n{text}",
        )


if __name__ == "__main__":
    main()
