"""Settings sections: each plugin's own ``DUNNING_<NAMESPACE>_*`` variables, in a model it owns.

A plugin subclasses :class:`SettingsSection`, names its namespace and
declares its fields with bounds (pydantic ``Field(ge=..., le=...)``); it
registers the class through ``dunning_register_settings`` and reads its
values with ``MySection.of(settings)``. The core reads the variables once,
with the rest of the settings (the settings file, then the environment,
then explicit overrides), and validates a section when it is first asked
for: a bad value is a ``ConfigError`` naming its variable, never its value.
Secrets (``SecretStr`` fields) show as ``**********`` wherever they are shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, SecretBytes, SecretStr, ValidationError

from dunning.core.errors import ConfigError, PluginError

__all__ = ["PREFIX", "SettingsSection", "check_namespace", "raw_values", "read_section", "shown_values"]

#: Every dunning variable starts with this.
PREFIX = "DUNNING_"
#: What a namespace may look like: it becomes part of every variable's name.
NAMESPACE = re.compile(r"^[a-z][a-z0-9]*$")
#: How a secret that is set is shown.
MASK = "**********"

S = TypeVar("S", bound="SettingsSection")


class SettingsSection(BaseModel):
    """Base of a plugin's settings: field ``host`` of namespace ``email`` is ``DUNNING_EMAIL_HOST``.

    A field with an ``alias`` is read under the alias (``from_`` with
    ``alias="from"`` is ``DUNNING_EMAIL_FROM``). ``legacy_names`` lets a field
    also be read from an older variable when its own is unset, so that
    deployments keep working when a setting moves into a plugin's namespace.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    #: The namespace, lower-case letters and digits: ``twilio``, ``email``, ...
    namespace: ClassVar[str] = ""
    #: Field name -> an older variable name it is also read from, e.g. ``{"cost": "DUNNING_COST_PUSH"}``.
    legacy_names: ClassVar[Mapping[str, str]] = MappingProxyType({})

    @classmethod
    def key(cls, field: str) -> str:
        """The field's key among the raw values: ``email_host`` (the variable less ``DUNNING_``)."""
        info = cls.model_fields[field]
        return f"{cls.namespace}_{info.alias or field}".lower()

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of ``field``: ``DUNNING_EMAIL_HOST``."""
        return (PREFIX + cls.key(field)).upper()

    @classmethod
    def of(cls: type[S], settings: Any) -> S:
        """This section of ``settings`` (a ``Settings``), validated once and kept.

        Anything without sections (``None``, a bare object) reads the
        environment alone. Raises ``ConfigError`` naming each bad variable.
        """
        section = getattr(settings, "section", None)
        if callable(section):
            found: S = section(cls)
            return found
        return read_section(cls, raw_values())


def check_namespace(section: type[SettingsSection], core_fields: Mapping[str, Any]) -> None:
    """Refuse a namespace that is malformed or would read the core's own variables."""
    namespace = section.namespace
    if not NAMESPACE.match(namespace or ""):
        raise PluginError(
            f"settings {section.__name__} have namespace {namespace!r}; use lower-case letters and digits"
        )
    taken = sorted(name for name in core_fields if name == namespace or name.startswith(namespace + "_"))
    if taken:
        clash = ", ".join(PREFIX + name.upper() for name in taken)
        raise PluginError(f"settings namespace {namespace!r} would read dunning's own {clash}")


def raw_values(
    env_file: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every ``DUNNING_*`` value, keyed by its lower-case name less the prefix.

    The settings file first, the environment over it, ``overrides`` (keyword
    arguments, already without the prefix) over both: the precedence of the
    core settings themselves.
    """
    values: dict[str, Any] = {}
    if env_file:
        values.update(_prefixed(dotenv_values(env_file)))
    values.update(_prefixed(os.environ))
    values.update({key.lower(): value for key, value in (overrides or {}).items()})
    return values


def _prefixed(source: Mapping[str, str | None]) -> dict[str, str]:
    size = len(PREFIX)
    return {
        key[size:].lower(): value
        for key, value in source.items()
        if value is not None and key.upper().startswith(PREFIX) and len(key) > size
    }


def read_section(section: type[S], raw: Mapping[str, Any]) -> S:
    """Validate ``section`` from the raw values; ``ConfigError`` names each variable at fault."""
    data: dict[str, Any] = {}
    names: dict[str, str] = {}
    for field in section.model_fields:
        key = section.key(field)
        legacy = section.legacy_names.get(field)
        if key in raw:
            if raw.get(key + "_file"):
                raise ConfigError(
                    f"{section.variable(field)} and {section.variable(field)}_FILE are both set: keep one"
                )
            data[field], names[field] = raw[key], section.variable(field)
        elif raw.get(key + "_file"):
            # A mounted secret: DUNNING_TWILIO_AUTH_TOKEN_FILE=/run/secrets/twilio_auth_token
            variable = section.variable(field) + "_FILE"
            data[field], names[field] = _file_value(variable, str(raw[key + "_file"])), variable
        elif legacy and legacy[len(PREFIX) :].lower() in raw:
            data[field], names[field] = raw[legacy[len(PREFIX) :].lower()], legacy
    try:
        return section.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(section, names, error) for error in exc.errors())) from exc


def _file_value(variable: str, path: str) -> str | None:
    """The content of a file a ``*_FILE`` variable names (an empty file is unset)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"{variable}: cannot read {path}: {reason}") from exc
    return text or None


def _problem(section: type[SettingsSection], names: Mapping[str, str], error: Any) -> str:
    """``DUNNING_EMAIL_PORT: Input should be less than or equal to 65535`` (never the value)."""
    field = str(error["loc"][0]) if error["loc"] else ""
    if field not in section.model_fields:
        field = next((f for f, info in section.model_fields.items() if info.alias == field), field)
    name = names.get(field) or (
        section.variable(field) if field in section.model_fields else section.namespace
    )
    return f"{name}: {error['msg']}"


def shown_values(values: SettingsSection) -> dict[str, Any]:
    """Each variable of a section and its value as an operator may see it: secrets masked."""
    shown: dict[str, Any] = {}
    for field in type(values).model_fields:
        value = getattr(values, field)
        if isinstance(value, SecretStr | SecretBytes):
            value = MASK if value.get_secret_value() else None
        elif value is not None and not isinstance(value, bool | int | float | str):
            value = str(value)
        shown[type(values).variable(field)] = value
    return shown
