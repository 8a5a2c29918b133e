"""Importing a portfolio: CSV or JSON Lines, streamed, upserted by ``case_id``.

A bad row is rejected with ``FILE:LINE: field: reason`` and written to the
rejects file (the original row plus its error, ready to fix and re-import);
every good row lands. Memory stays bounded: rows are read and written in
batches, so a million-row file costs what one batch costs.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dunning.core.domain.model import Case
from dunning.core.errors import InputError
from dunning.core.intake.records import CASE_FIELDS, parse_case
from dunning.core.store import Store

__all__ = ["ImportReport", "import_file", "read_rows"]

#: Columns every import file must have.
REQUIRED_COLUMNS = ("case_id", "debtor_id", "name", "account", "amount_due", "currency", "due_date")
#: Rows upserted per transaction.
BATCH = 1000
#: How many rejection messages a report keeps in memory (all go to the rejects file).
KEEP_ERRORS = 200


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.rows} row(s): {self.inserted} inserted, {self.updated} updated, {self.rejected} rejected"
        )


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise InputError(f"{path.name}: unknown file type (use .csv or .jsonl)", field="file")


def read_rows(path: Path, handle: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None, str | None, Any]]:
    """Yield (line, row or None, error or None, raw) for each record of the file."""
    if _kind(path) == "csv":
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise InputError(f"{path}:1: missing column(s): {', '.join(missing)}", field="header")
        start = reader.line_num + 1
        for row in reader:
            if None in row:  # more cells than the header names
                yield start, None, "row: more cells than columns", row
            else:
                yield start, dict(row), None, row
            start = reader.line_num + 1
        return
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"row: not JSON ({exc.msg})", line
            continue
        if not isinstance(data, dict):
            yield number, None, "row: not a JSON object", line
            continue
        yield number, data, None, data


class _Rejects:
    """The rejects file: the original rows with their error, in the input's format."""

    def __init__(self, path: Path | None, kind: str, header: list[str]) -> None:
        self.handle: IO[str] | None = None
        self.kind = kind
        self.writer: Any = None
        self.header = header
        if path is not None:
            self.handle = path.open("w", encoding="utf-8", newline="")
            if kind == "csv":
                self.writer = csv.writer(self.handle)
                self.writer.writerow([*header, "error"])

    def write(self, raw: Any, error: str) -> None:
        if self.handle is None:
            return
        if self.kind == "csv":
            row = raw or {}
            # Every cell as written, the overflow of a row with too many cells included.
            cells = [row.get(name) or "" for name in self.header] + list(row.get(None) or [])
            self.writer.writerow([*cells, error])
        elif isinstance(raw, dict):
            self.handle.write(json.dumps({**raw, "_error": error}, ensure_ascii=False) + "\n")
        else:
            self.handle.write(
                json.dumps({"_raw": str(raw).rstrip("\n"), "_error": error}, ensure_ascii=False) + "\n"
            )

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def import_file(
    store: Store,
    path: str | Path,
    *,
    now: datetime,
    rejects: str | Path | None = None,
    default_region: str | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> ImportReport:
    """Import ``path`` into ``store``; see the module docstring."""
    path = Path(path)
    report = ImportReport()
    kind = _kind(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = list(CASE_FIELDS)
        if kind == "csv":
            header = next(csv.reader([handle.readline()]), [])
            handle.seek(0)
        sink = _Rejects(Path(rejects) if rejects else None, kind, header)
        pending: list[Case] = []
        try:
            for line, row, error, raw in read_rows(path, handle):
                report.rows += 1
                if row is not None:
                    try:
                        pending.append(parse_case(row, default_region=default_region))
                    except InputError as exc:
                        error = str(exc)
                if error is not None:
                    report.rejected += 1
                    message = f"{path}:{line}: {error}"
                    if len(report.errors) < KEEP_ERRORS:
                        report.errors.append(message)
                    sink.write(raw, error)
                if len(pending) >= batch:
                    _flush(store, pending, now, report)
                    if progress is not None:
                        progress(report.rows)
            _flush(store, pending, now, report)
        finally:
            sink.close()
    return report


def _flush(store: Store, pending: list[Case], now: datetime, report: ImportReport) -> None:
    if not pending:
        return
    with store.write() as conn:
        result = store.upsert_cases(conn, pending, now)
    report.inserted += result.inserted
    report.updated += result.updated
    pending.clear()
