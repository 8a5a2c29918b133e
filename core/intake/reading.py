"""Reading an import file record by record, whatever the file holds.

A lender's export can carry anything: bytes that are not UTF-8, a quote that
never closes, a line of a million characters, JSON nested ten thousand deep.
Each such record becomes an error on its own line and reading goes on; only a
file without its header cannot be read at all. Memory stays bounded: a record
may span at most ``MAX_RECORD_LINES`` lines and ``MAX_RECORD_CHARS``
characters, and an over-long line is streamed, never held.

Undecodable bytes are kept as they were (``surrogateescape``), so the rejects
file can give the operator back exactly what they sent.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from dunning.core.errors import InputError

__all__ = [
    "MAX_RECORD_CHARS",
    "MAX_RECORD_LINES",
    "FileKind",
    "Overlong",
    "Record",
    "file_kind",
    "read_records",
]

#: Longest record (a CSV row however many lines it spans, or a JSON line), in characters.
MAX_RECORD_CHARS = 16_384
#: Most physical lines one CSV record may span (a quoted cell with line breaks in it).
MAX_RECORD_LINES = 32
#: Characters read at a time from the rest of an over-long line.
CHUNK = 65_536

#: A byte that was not UTF-8, as ``surrogateescape`` decodes it.
_UNDECODED = re.compile("[\udc80-\udcff]")
_NEWLINE = ("\n", "\r")


class FileKind(StrEnum):
    """The two formats an import file may have."""

    CSV = "csv"
    JSONL = "jsonl"


def file_kind(path: Path) -> FileKind:
    """The format of ``path``, from its suffix."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return FileKind.JSONL
    if suffix in (".csv", ".txt"):
        return FileKind.CSV
    raise InputError(f"{path.name}: unknown file type (use .csv or .jsonl)", field="file")


@dataclass(frozen=True)
class Overlong:
    """A physical line too long to be a record: its start, and the rest of it to stream once."""

    head: str
    rest: Iterator[str]


@dataclass(frozen=True)
class Record:
    """One record of an import file, read or refused.

    ``raw`` is what the rejects file writes back: the CSV cells, the JSON line's
    text, a physical line's text when it could not be split into cells, or an
    ``Overlong`` line.
    """

    line: int
    row: dict[str, Any] | None
    error: str | None
    raw: list[str] | str | Overlong


class _Lines:
    """The physical lines of a text file, numbered, with a way to read some of them again."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.number = 0
        self.again: deque[tuple[int, str]] = deque()
        self._open_rest = False

    def next(self) -> tuple[int, str] | None:
        """The next line and its number; an over-long line comes back cut after the limit."""
        if self.again:
            return self.again.popleft()
        self.skip_rest()
        text = self.handle.readline(MAX_RECORD_CHARS + 1)
        if not text:
            return None
        self.number += 1
        self._open_rest = overlong(text)
        return self.number, text

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        """Put ``lines`` back, in order, to be read next."""
        self.again.extendleft(reversed(lines))

    def rest(self) -> Iterator[str]:
        """The remainder of the over-long line just read, in chunks, up to and with its newline."""
        while self._open_rest:
            chunk = self.handle.readline(CHUNK)
            self._open_rest = bool(chunk) and not chunk.endswith(_NEWLINE)
            if chunk:
                yield chunk

    def skip_rest(self) -> None:
        for _ in self.rest():
            pass


def overlong(text: str) -> bool:
    """Whether a line read with the record limit was cut short by it."""
    return len(text) > MAX_RECORD_CHARS and not text.endswith(_NEWLINE)


def undecodable(text: str) -> str | None:
    """Why ``text`` is not UTF-8 (the first bad byte and where it is), or None if it is."""
    found = _UNDECODED.search(text)
    if found is None:
        return None
    byte = ord(found.group()) - 0xDC00
    return f"not UTF-8 text (byte 0x{byte:02X} at character {found.start() + 1}); save the file as UTF-8"


def read_records(
    path: Path, handle: IO[bytes], valid: Callable[[dict[str, Any]], bool] | None = None
) -> tuple[list[str], Iterator[Record]]:
    """The header and the records of an import file; InputError if the header cannot be read.

    ``valid`` tells whether a row is a good case by itself: a CSV record
    spanning several lines is taken as one only if none of its later lines is.
    """
    decoded = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
    lines = _Lines(decoded)
    if file_kind(path) is FileKind.JSONL:
        return [], _json_records(lines)
    header = _header(path, lines)
    return header, _csv_records(lines, header, valid or (lambda row: False))


# ---------------------------------------------------------------- JSON Lines


def _json_records(lines: _Lines) -> Iterator[Record]:
    while (item := lines.next()) is not None:
        number, text = item
        if overlong(text):
            yield Record(number, None, _too_long(), Overlong(text, lines.rest()))
        elif text.strip():
            yield _json_record(number, text)


def _json_record(number: int, text: str) -> Record:
    bad = undecodable(text)
    if bad is not None:
        return Record(number, None, f"row: {bad}", text)
    try:
        data = json.loads(text, parse_float=_json_number, parse_int=Decimal, parse_constant=str)
    except json.JSONDecodeError as exc:
        return Record(number, None, f"row: not JSON ({exc.msg})", text)
    except RecursionError:
        return Record(number, None, "row: not JSON (nested too deeply)", text)
    except ValueError as exc:  # numbers json cannot convert
        return Record(number, None, f"row: not JSON ({type(exc).__name__})", text)
    if not isinstance(data, dict):
        return Record(number, None, "row: not a JSON object", text)
    return Record(number, data, None, text)


def _json_number(literal: str) -> Decimal | str:
    """A JSON number exactly as written; with an exponent it stays text, for the field to refuse."""
    return literal if "e" in literal or "E" in literal else Decimal(literal)


# ---------------------------------------------------------------- CSV


def _header(path: Path, lines: _Lines) -> list[str]:
    first = lines.next()
    if first is None:
        raise InputError(f"{path}:1: the file is empty", field="header")
    text = first[1]
    problem = "longer than a header can be" if overlong(text) else undecodable(text)
    if problem is not None:
        raise InputError(f"{path}:1: {problem}", field="header")
    cells, _ = _split(lines, first)
    if cells is None:
        raise InputError(f"{path}:1: a quoted column name is never closed", field="header")
    return cells


def _csv_records(
    lines: _Lines, header: list[str], valid: Callable[[dict[str, Any]], bool]
) -> Iterator[Record]:
    while (first := lines.next()) is not None:
        number, text = first
        if overlong(text):
            yield Record(number, None, _too_long(), Overlong(text, lines.rest()))
            continue
        cells, taken = _split(lines, first)
        if cells is None:
            lines.read_again(taken[1:])
            yield Record(number, None, "row: a quote opened on this line is never closed", text)
        elif len(taken) > 1 and not _one_record(cells, taken, header, valid):
            lines.read_again(taken[1:])
            last = taken[-1][0]
            yield Record(number, None, f"row: a quote opened on this line closes only on line {last}", text)
        elif cells:  # a blank line is no record
            yield _csv_record(number, cells, taken, header)


def _split(lines: _Lines, first: tuple[int, str]) -> tuple[list[str] | None, list[tuple[int, str]]]:
    """The cells of the record starting at ``first``, and the lines it took; None if it never ends."""
    taken = [first]
    ran_out = False

    def feed() -> Iterator[str]:
        nonlocal ran_out
        yield first[1]
        size = len(first[1])
        while (item := lines.next()) is not None:
            if overlong(item[1]):
                lines.read_again([item])
                break
            taken.append(item)
            size += len(item[1])
            if len(taken) > MAX_RECORD_LINES or size > MAX_RECORD_CHARS:
                break
            yield item[1]
        ran_out = True  # the end of the file or a limit came inside a quoted cell

    try:
        cells = next(csv.reader(feed()), [])
    except csv.Error:
        return None, taken
    return (None if ran_out else cells), taken


def _one_record(
    cells: list[str], taken: list[tuple[int, str]], header: list[str], valid: Callable[[dict[str, Any]], bool]
) -> bool:
    """A record over several lines is one only if its cells fit the header and no later line is a row."""
    if len(cells) != len(header):
        return False
    for _, text in taken[1:]:
        alone = next(csv.reader([text]), [])
        if (
            len(alone) == len(header)
            and undecodable(text) is None
            and valid(dict(zip(header, alone, strict=True)))
        ):
            return False
    return True


def _csv_record(number: int, cells: list[str], taken: list[tuple[int, str]], header: list[str]) -> Record:
    for line, text in taken:
        bad = undecodable(text)
        if bad is not None:
            where = "" if line == number else f" on line {line}"
            return Record(number, None, f"row: {bad}{where}", cells)
    if len(cells) > len(header):
        return Record(number, None, "row: more cells than columns", cells)
    if len(cells) < len(header):
        return Record(number, None, "row: fewer cells than columns", cells)
    return Record(number, dict(zip(header, cells, strict=True)), None, cells)


def _too_long() -> str:
    return f"row: longer than {MAX_RECORD_CHARS} characters"
