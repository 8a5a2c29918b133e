"""Settings read from files: ``DUNNING_X_FILE=/run/secrets/x`` sets ``DUNNING_X`` to the file's content.

Secrets — API tokens, the Twilio auth token — are better mounted as files
(compose ``secrets:``, Kubernetes secret volumes) than passed in the
environment, where ``docker inspect`` and child processes see them. Any
setting may be given this way. Surrounding whitespace is dropped, an empty
file counts as unset, and a list setting (``DUNNING_API_TOKENS``) may hold
one value a line. Naming both ``DUNNING_X`` and ``DUNNING_X_FILE`` is a
ConfigError: which one wins would be a guess.

Any settings class can take it as a source (a channel plugin's settings too):
return ``SecretFiles(settings_cls)`` from ``settings_customise_sources``.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from dunning.core.errors import ConfigError

__all__ = ["SUFFIX", "SecretFiles"]

#: What a variable's name ends with when it names a file holding the value.
SUFFIX = "_FILE"


class SecretFiles(PydanticBaseSettingsSource):
    """A pydantic-settings source: ``<PREFIX><FIELD>_FILE`` variables, read from their files."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read at once, in __call__

    def __call__(self) -> dict[str, Any]:
        prefix = str(self.config.get("env_prefix", ""))
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            variable = f"{prefix}{name}".upper()
            path = self.environ.get(variable + SUFFIX)
            if not path:
                continue
            if self.environ.get(variable):
                raise ConfigError(f"{variable} and {variable}{SUFFIX} are both set: keep one")
            text = _read(variable + SUFFIX, path)
            if text:
                values[name] = _joined(text) if _is_list(field) else text
        return values


def _read(variable: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"{variable}: cannot read {path}: {reason}") from exc


def _is_list(field: FieldInfo) -> bool:
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return typing.get_origin(annotation) is list


def _joined(text: str) -> str:
    """A list given one value a line, as the comma-separated text list settings take."""
    return ",".join(line.strip() for line in text.splitlines() if line.strip())
