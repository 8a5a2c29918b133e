"""The rejects file: each refused record as the operator sent it, plus why, ready to fix and re-import.

A CSV file gets the input's header plus an ``error`` column; a record that
could be split into cells is written as those cells, one that could not (a
quote never closed, a line too long) as its text, byte for byte. A JSON Lines
file gets each refused object back with an ``_error`` key, and any other line
as ``{"_raw": ..., "_error": ...}``. Bytes that were not UTF-8 are written back
unchanged.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import IO

from dunning.core.intake.reading import FileKind, Overlong, Record

__all__ = ["Rejects"]

#: The ``_error`` key a previous import appended to an object, replaced rather than repeated.
_OLD_ERROR = re.compile(r',\s*"_error"\s*:\s*"(?:[^"\\]|\\.)*"\s*$')


class Rejects:
    """Where refused records go; without a path, nowhere (the over-long lines are still read past)."""

    def __init__(self, path: Path | None, kind: FileKind, header: list[str]) -> None:
        self.kind = kind
        self.width = len(header)
        self.handle: IO[str] | None = None
        if path is not None:
            self.handle = path.open("w", encoding="utf-8", errors="surrogateescape", newline="")
            if kind is FileKind.CSV:
                csv.writer(self.handle).writerow([*header, "error"])

    def write(self, record: Record, error: str) -> None:
        """Append ``record`` with ``error`` (the reason, without file and line)."""
        raw = record.raw
        if self.handle is None:
            if isinstance(raw, Overlong):
                for _ in raw.rest:
                    pass
            return
        if isinstance(raw, Overlong):
            self._overlong(raw, error)
        elif isinstance(raw, list):
            cells = raw + [""] * (self.width - len(raw))
            csv.writer(self.handle).writerow([*cells, error])
        elif self.kind is FileKind.CSV:
            self.handle.write(raw.rstrip("\r\n") + "," + _csv_cell(error) + "\r\n")
        elif record.row is not None:
            self.handle.write(_with_error(raw, error) + "\n")
        else:
            self.handle.write(
                json.dumps({"_raw": raw.rstrip("\r\n"), "_error": error}, ensure_ascii=False) + "\n"
            )

    def _overlong(self, raw: Overlong, error: str) -> None:
        """Stream a line too long to hold, as it came, then its error."""
        assert self.handle is not None
        csv_file = self.kind is FileKind.CSV
        self.handle.write("" if csv_file else '{"_raw": "')
        pending = raw.head
        for chunk in raw.rest:
            self.handle.write(pending if csv_file else json.dumps(pending, ensure_ascii=False)[1:-1])
            pending = chunk
        pending = pending.rstrip("\r\n")
        if csv_file:
            self.handle.write(pending + "," + _csv_cell(error) + "\r\n")
        else:
            tail = json.dumps(pending, ensure_ascii=False)[1:-1]
            self.handle.write(tail + '", "_error": ' + json.dumps(error, ensure_ascii=False) + "}\n")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _with_error(line: str, error: str) -> str:
    """A JSON object's own text with ``"_error"`` as its last key (any earlier one replaced)."""
    body = line.strip()[:-1].rstrip()  # without its closing brace
    body = _OLD_ERROR.sub("", body)
    separator = "" if body.rstrip() == "{" else ", "
    return body + separator + '"_error": ' + json.dumps(error, ensure_ascii=False) + "}"
