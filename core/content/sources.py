"""Where templates come from besides dunning's own: plugins' directories and package resources.

A plugin registers a source through ``dunning_register_templates``: a path,
or an ``importlib.resources`` traversable (``files("my_plugin") /
"templates"``) so that templates installed inside a wheel, even a zipped
one, are found without knowing where pip put them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TypeAlias

from jinja2 import BaseLoader, Environment, TemplateNotFound

__all__ = ["TemplateSource", "TraversableLoader", "as_traversable"]

#: What a plugin may register: a directory path or a package resource.
TemplateSource: TypeAlias = "str | os.PathLike[str] | Traversable"


def as_traversable(source: TemplateSource) -> Traversable:
    """A registered source as something to read templates from."""
    if isinstance(source, str | os.PathLike):
        return Path(source)
    return source


class TraversableLoader(BaseLoader):
    """Loads ``channel/name.locale.j2`` from a directory or a package resource."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool]]:
        node = self._node(template)
        if node is None or not node.is_file():
            raise TemplateNotFound(template)
        filename = str(node) if isinstance(node, Path) else None
        return node.read_text(encoding="utf-8"), filename, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self._walk(self.root, ""))

    def _node(self, template: str) -> Traversable | None:
        parts = [part for part in template.split("/") if part]
        if any(part in (".", "..") for part in parts):
            return None
        node = self.root
        for part in parts:
            node = node.joinpath(part)
        return node

    def _walk(self, node: Traversable, prefix: str) -> Iterator[str]:
        if not node.is_dir():
            return
        for child in node.iterdir():
            name = f"{prefix}{child.name}"
            if child.is_dir():
                yield from self._walk(child, name + "/")
            elif child.name.endswith(".j2"):
                yield name

    def __repr__(self) -> str:
        return f"TraversableLoader({self.root!s})"
