"""YAML with line numbers: every value's path mapped to the line it stands on.

A strategist reading ``policy.yaml:14: ladders.gentle.steps[1].channel: ...``
must find the line at once, so the policy loader keeps where each key and
item came from. Duplicate keys, which plain YAML silently overwrites, are
reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from dunning.core.errors import PolicyError, Problem

__all__ = ["Located", "format_path", "load_located"]

Path = tuple[str | int, ...]


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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([Problem(file, line, "", f"not valid YAML: {reason}")]) from exc
    located = Located(None, {}, file)
    problems: list[Problem] = []
    if node is not None:
        located.data = _build(node, (), located.lines, problems, file)
    if problems:
        raise PolicyError(problems)
    return located


def _build(node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[Problem], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node)  # scalars only
            if isinstance(key, list | dict):
                problems.append(Problem(file, key_node.start_mark.line + 1, "", "keys must be plain"))
                continue
            key = str(key) if not isinstance(key, str | int) else key
            child = (*path, key)
            if key in out:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        format_path(child),
                        "duplicate key (the later one would silently win)",
                    )
                )
            out[key] = _build(value_node, child, lines, problems, file)
            lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines, problems, file) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)
