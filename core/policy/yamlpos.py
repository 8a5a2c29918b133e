"""YAML with line numbers: every value's path mapped to the line it stands on.

A strategist reading ``policy.yaml:14: ladders.gentle.steps[1].channel: ...``
must find the line at once, so the policy loader keeps where each key and
item came from. Duplicate keys, which plain YAML silently overwrites, are
reported too. The file is first held to :mod:`~dunning.core.policy.yamlbounds`
(size, values, depth, tags), so nothing here can expand without limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from dunning.core.errors import PolicyError, Problem
from dunning.core.policy.yamlbounds import check_bounds

__all__ = ["Located", "format_path", "load_located"]

Path = tuple[str | int, ...]

#: The tag YAML gives a plain ``<<`` key: merge the mapping(s) it names into this one.
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Located:
    """Parsed YAML data and the line of every path in it (1-based)."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    file: str = "<policy>"

    def line(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: Path, message: str, severity: str = "error") -> Problem:
        return Problem(self.file, self.line(path), format_path(path), message, severity)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_located(text: str, file: str = "<policy>") -> Located:
    """Parse ``text`` into data plus a path-to-line map; raise PolicyError if it is not YAML."""
    try:
        check_bounds(text, file)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([Problem(file, line, "", f"not valid YAML: {reason}")]) from exc
    located = Located(None, {}, file)
    builder = _Builder(located.lines, file)
    if node is not None:
        located.data = builder.build(node, ())
    if builder.problems:
        raise PolicyError(builder.problems)
    return located


class _Builder:
    """Builds plain data from composed nodes, noting each path's line and every problem."""

    def __init__(self, lines: dict[Path, int], file: str) -> None:
        self.lines = lines
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, format_path(path), message))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: Path) -> Any:
        try:
            return yaml.SafeLoader(" ").construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            # e.g. an integer of more digits than Python converts, or a 13th month
            reason = getattr(exc, "problem", None) or str(exc).split(":")[0]
            self.problem(node, path, f"not a usable value: {reason}")
            return None

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged = {**self.merge(value_node, path), **merged}
        self.lines[path] = node.start_mark.line + 1
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, path, "keys must be plain")
                continue
            key = self.scalar(key_node, path)
            key = str(key) if not isinstance(key, str | int) else key
            child = (*path, key)
            if key in out:
                self.problem(key_node, child, "duplicate key (the later one would silently win)")
            out[key] = self.build(value_node, child)
            self.lines[child] = key_node.start_mark.line + 1
        return {**merged, **out}

    def merge(self, node: yaml.Node, path: Path) -> dict[Any, Any]:
        """The keys a ``<<:`` brings in; in a list of mappings, earlier ones win (as YAML says)."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.problem(source, path, "<< merges a mapping or a list of mappings")
                continue
            merged.update(self.mapping(source, path))
        return merged
