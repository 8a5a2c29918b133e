"""Importing a portfolio: CSV or JSON Lines, streamed, upserted by ``case_id``.

A bad record — whatever is wrong with it — is rejected with
``FILE:LINE: field: reason`` and written to the rejects file (the original
record plus its error, ready to fix and re-import); every good row lands. A
batch the database refuses is retried row by row, so one refused row costs
only itself. Memory stays bounded: rows are read and written in batches, and
the ids already seen are kept as hashes, so a million-row file costs what one
batch costs. Messages never repeat a name, and phone and account numbers only
masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dunning.core.domain.model import Case
from dunning.core.errors import InputError
from dunning.core.intake.amounts import DecimalMark
from dunning.core.intake.duplicates import FirstLines
from dunning.core.intake.reading import FileKind, Record, file_kind, read_records
from dunning.core.intake.records import CASE_FIELDS, parse_case
from dunning.core.intake.rejects import Rejects
from dunning.core.policy.attributes import AttributeType
from dunning.core.store import Store
from dunning.core.store.failures import refusal, refused

__all__ = ["CaseFile", "ImportReport", "import_file"]

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


@dataclass(frozen=True)
class _Pending:
    """A validated row waiting for its batch, with what its rejection would need."""

    record: Record
    case: Case


@dataclass(frozen=True)
class _Reading:
    """How the rows of one file are read into cases (with the attributes the policy declares)."""

    default_region: str | None
    decimal: DecimalMark | None
    attributes: Mapping[str, AttributeType] | None = None

    def parse(self, row: dict[str, Any]) -> Case:
        return parse_case(
            row, default_region=self.default_region, decimal=self.decimal, attributes=self.attributes
        )

    def valid(self, row: dict[str, Any]) -> bool:
        """Whether ``row`` is a good case (to tell a quote that never closes from a quoted line break)."""
        try:
            self.parse(row)
        except Exception:
            return False
        return True


class CaseFile:
    """The cases of one import file, record by record, each with its case or the reason it has none.

    Opening it reads the header: InputError if the file itself cannot be read
    (no header, missing columns). A case id seen before is refused, naming the
    line of the first. ``attributes`` are those the policy declares (None:
    extra columns are not read).
    """

    def __init__(
        self,
        path: Path,
        *,
        default_region: str | None = None,
        decimal: DecimalMark | None = None,
        attributes: Mapping[str, AttributeType] | None = None,
    ) -> None:
        self.path = path
        self.kind = file_kind(path)
        self.header: list[str] = list(CASE_FIELDS)
        self._reading = _Reading(default_region, decimal, attributes)
        self._handle: IO[bytes] | None = None
        self._records: Iterator[Record] = iter(())

    def __enter__(self) -> CaseFile:
        self._handle = self.path.open("rb")
        try:
            header, self._records = read_records(self.path, self._handle, self._reading.valid)
            if self.kind is FileKind.CSV:
                self.header = header
                _check_header(self.path, header)
        except BaseException:
            self._handle.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has come, in bytes (ahead of the rows by one read buffer)."""
        return self._handle.tell() if self._handle is not None and not self._handle.closed else 0

    def __iter__(self) -> Iterator[tuple[Record, Case | None, str | None]]:
        seen = FirstLines()
        for record in self._records:
            case, error = _case_of(record, self._reading)
            if case is not None and (first := seen.first(case.case_id, record.line)) is not None:
                case, error = None, f"case_id: already on line {first}; that row is the one imported"
            yield record, case, error


def _check_header(path: Path, header: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}:1: missing column(s): {', '.join(missing)}", field="header")


def _case_of(record: Record, reading: _Reading) -> tuple[Case | None, str | None]:
    if record.row is None:
        return None, record.error
    try:
        return reading.parse(record.row), None
    except InputError as exc:
        return None, str(exc)
    except Exception as exc:  # a row no check foresaw: refuse it, never stop the file for it
        return None, f"row: cannot be read ({type(exc).__name__})"


def import_file(
    store: Store,
    path: str | Path,
    *,
    now: datetime,
    rejects: str | Path | None = None,
    default_region: str | None = None,
    decimal: DecimalMark | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = BATCH,
    attributes: Mapping[str, AttributeType] | None = None,
) -> ImportReport:
    """Import ``path`` into ``store``; see the module docstring.

    ``progress(rows, bytes_read)`` is called after each batch and at the end.
    ``attributes`` are those the policy declares: a value that is not of its
    type rejects its row, naming the column. Raises InputError when the file
    itself cannot be read; nothing is imported then.
    """
    path = Path(path)
    report = ImportReport()
    with CaseFile(path, default_region=default_region, decimal=decimal, attributes=attributes) as cases:
        sink = Rejects(Path(rejects) if rejects else None, cases.kind, cases.header)
        importer = _Importer(store, path, now, sink, report)
        try:
            for record, case, error in cases:
                importer.take(record, case, error)
                if len(importer.pending) >= batch:
                    importer.flush()
                    if progress is not None:
                        progress(report.rows, cases.bytes_read)
            importer.flush()
            if progress is not None:
                progress(report.rows, path.stat().st_size)
        finally:
            sink.close()
    return report


class _Importer:
    """Rows in, batches out; every refused row goes to the report and the rejects file."""

    def __init__(self, store: Store, path: Path, now: datetime, sink: Rejects, report: ImportReport) -> None:
        self.store = store
        self.path = path
        self.now = now
        self.sink = sink
        self.report = report
        self.pending: list[_Pending] = []

    def take(self, record: Record, case: Case | None, error: str | None) -> None:
        self.report.rows += 1
        if case is None:
            self.reject(record, error or "row: cannot be read")
        else:
            self.pending.append(_Pending(record, case))

    def reject(self, record: Record, error: str) -> None:
        self.report.rejected += 1
        if len(self.report.errors) < KEEP_ERRORS:
            self.report.errors.append(f"{self.path}:{record.line}: {error}")
        self.sink.write(record, error)

    def flush(self) -> None:
        """Upsert the pending rows in one transaction; if the database refuses it, row by row."""
        if not self.pending:
            return
        try:
            self._upsert([p.case for p in self.pending])
        except Exception as exc:
            if not refused(exc):
                raise
            for item in self.pending:
                self._one(item)
        self.pending.clear()

    def _one(self, item: _Pending) -> None:
        try:
            self._upsert([item.case])
        except Exception as exc:
            if not refused(exc):
                raise
            self.reject(item.record, refusal(exc))

    def _upsert(self, batch: list[Case]) -> None:
        with self.store.write() as conn:
            result = self.store.upsert_cases(conn, batch, self.now)
        self.report.inserted += result.inserted
        self.report.updated += result.updated
