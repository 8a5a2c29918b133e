"""Bounds on a YAML file, checked on its event stream before anything is built.

A policy is a few hundred lines written by a person, so a file that is huge,
nests deeply, expands aliases into millions of nodes (the "billion laughs"),
refers to itself or carries explicit tags is refused with the line at fault —
in bounded time and memory, before a single alias is expanded. Ordinary
anchors, aliases and ``<<:`` merges within :data:`MAX_NODES` still work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dunning.core.errors import PolicyError, Problem

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "check_bounds", "check_size", "read_bounded"]

#: The largest file accepted, in bytes (UTF-8); a real policy is a few kilobytes.
MAX_BYTES = 256 * 1024

#: The most values (mappings, lists and scalars) a file may hold once its aliases are expanded.
MAX_NODES = 10_000

#: The deepest nesting of mappings and lists, aliases expanded (a policy needs about 6).
MAX_DEPTH = 20

#: The only explicit tags allowed: the YAML core schema's, e.g. ``!!str 0800`` to keep a string.
ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)


def read_bounded(path: str | Path, file: str | None = None) -> str:
    """Read a UTF-8 file of at most :data:`MAX_BYTES`; raise PolicyError otherwise.

    Reads no more than one byte past the bound, so a huge file costs nothing.
    """
    name = str(path) if file is None else file
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PolicyError([Problem(name, 0, "", f"cannot read: {exc.strerror}")]) from exc
    if len(raw) > MAX_BYTES:
        line = raw[:MAX_BYTES].count(b"\n") + 1
        raise PolicyError([_too_big(name, line)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError([Problem(name, line, "", "not UTF-8 text")]) from exc


def check_size(text: str, file: str) -> None:
    """Refuse text over :data:`MAX_BYTES`, naming the line where the bound is crossed."""
    if len(text) <= MAX_BYTES // 4:
        return  # four UTF-8 bytes a character at most: surely within the bound
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_BYTES:
        raise PolicyError([_too_big(file, encoded[:MAX_BYTES].count(b"\n") + 1)])


def _too_big(file: str, line: int) -> Problem:
    return Problem(file, line, "", f"file too large: a policy may be at most {MAX_BYTES // 1024} KiB")


@dataclass
class _Open:
    """A mapping or list being read: where its count started and how deep it goes."""

    anchor: str | None
    start: int
    height: int = 1


@dataclass
class _Walk:
    """The running totals of one pass over a file's events."""

    file: str
    nodes: int = 0
    open: list[_Open] = field(default_factory=list)
    #: anchor -> (values it expands to, nesting height)
    anchors: dict[str, tuple[int, int]] = field(default_factory=dict)

    def refuse(self, event: yaml.Event, message: str) -> PolicyError:
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        return PolicyError([Problem(self.file, line, "", message)])

    def grow(self, event: yaml.Event, size: int, height: int) -> None:
        """Count ``size`` more values nested ``height`` deep at the current position."""
        self.nodes += size
        if self.nodes > MAX_NODES:
            raise self.refuse(event, f"too many values (more than {MAX_NODES} with aliases expanded)")
        if len(self.open) + height > MAX_DEPTH:
            raise self.refuse(event, f"nested too deeply (more than {MAX_DEPTH} levels)")
        if self.open:
            self.open[-1].height = max(self.open[-1].height, height + 1)


def check_bounds(text: str, file: str = "<policy>") -> None:
    """Raise PolicyError at the first line past a bound; return if the file is within them.

    Parse errors are left to the caller's loader, which reports them.
    """
    check_size(text, file)
    walk = _Walk(file)
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        _visit(walk, event)


def _visit(walk: _Walk, event: yaml.Event) -> None:
    tag = getattr(event, "tag", None)
    if tag is not None and tag not in ALLOWED_TAGS:
        raise walk.refuse(event, f"explicit tag {tag!r} not allowed (only plain values)")
    if isinstance(event, yaml.AliasEvent):
        _alias(walk, event)
    elif isinstance(event, yaml.ScalarEvent):
        walk.grow(event, 1, 0)
        if event.anchor is not None:
            walk.anchors[event.anchor] = (1, 0)
    elif isinstance(event, yaml.CollectionStartEvent):
        walk.grow(event, 1, 1)
        walk.open.append(_Open(event.anchor, walk.nodes))
    elif isinstance(event, yaml.CollectionEndEvent):
        done = walk.open.pop()
        if walk.open:
            walk.open[-1].height = max(walk.open[-1].height, done.height + 1)
        if done.anchor is not None:
            walk.anchors[done.anchor] = (walk.nodes - done.start + 1, done.height)


def _alias(walk: _Walk, event: yaml.AliasEvent) -> None:
    anchor = event.anchor or ""
    if any(o.anchor == anchor for o in walk.open):
        raise walk.refuse(event, f"alias *{anchor} refers to a value that contains it (a loop)")
    if anchor not in walk.anchors:
        raise walk.refuse(event, f"alias *{anchor} has no anchor &{anchor} before it")
    size, height = walk.anchors[anchor]
    walk.grow(event, size, height)
