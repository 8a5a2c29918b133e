"""``dunning plugin new``: a channel plugin distribution to start from, that passes the contract suite as made.

The files are templates under ``channel/`` (package data): ``${name}``-style
placeholders in their text, ``__package__`` and ``__name__`` in their paths.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from dunning.core.errors import InputError
from dunning.core.sections import check_namespace

__all__ = ["NAME", "new_channel_plugin"]

#: A plugin name: the channel's name, its settings namespace and its package's suffix at once.
NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
#: Template files end so; the suffix is dropped when written.
SUFFIX = ".tmpl"


def new_channel_plugin(name: str, parent: Path) -> Path:
    """Write the distribution ``dunning-<name>`` under ``parent``; its directory.

    Raises ``InputError`` for a name that cannot be a channel and settings
    namespace, or when the directory already exists (nothing is overwritten).
    """
    if not NAME.match(name):
        raise InputError(
            f"{name!r} is not a plugin name: lower-case letters and digits, starting with a letter"
        )
    _check_namespace(name)
    target = parent / f"dunning-{name}"
    if target.exists():
        raise InputError(f"{target} already exists: choose another name or directory")
    values = _values(name)
    _copy(files("dunning.core.scaffold") / "channel", target, values)
    return target


def _check_namespace(name: str) -> None:
    from dunning.core.errors import PluginError
    from dunning.core.sections import SettingsSection
    from dunning.core.settings import Settings

    section = type("Probe", (SettingsSection,), {"namespace": name})
    try:
        check_namespace(section, Settings.model_fields)
    except PluginError as exc:
        raise InputError(f"{name!r} cannot be a plugin name: {exc}") from exc


def _values(name: str) -> dict[str, str]:
    try:
        current = version("dunning")
    except PackageNotFoundError:
        current = "0.1"
    return {
        "name": name,
        "Name": name.capitalize(),
        "NAME": name.upper(),
        "package": f"dunning_{name}",
        "distribution": f"dunning-{name}",
        "dunning_version": current,
    }


def _copy(source: Traversable, target: Path, values: dict[str, str]) -> None:
    target.mkdir(parents=True)
    for child in sorted(source.iterdir(), key=lambda c: c.name):
        name = child.name.replace("__package__", values["package"]).replace("__name__", values["name"])
        if child.is_dir():
            _copy(child, target / name, values)
        elif child.name.endswith(SUFFIX):
            text = Template(child.read_text(encoding="utf-8")).substitute(values)
            (target / name[: -len(SUFFIX)]).write_text(text, encoding="utf-8")
