"""Settings, from ``DUNNING_*`` environment variables or a settings file.

Secrets are ``SecretStr``: they print as ``**********`` and never reach a log.
Settings are read when :func:`load_settings` is called, never at import time.
A settings file (``DUNNING_SETTINGS_FILE``, ``.env`` syntax) holds the same
keys; the environment wins over it.

These are the core's own settings. A plugin's live in its own namespace
(``DUNNING_<NAMESPACE>_*``, a :class:`~dunning.core.sections.SettingsSection`),
read from the same sources at the same moment and validated when the plugin
asks for them with :meth:`Settings.section`.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from dunning.core.errors import ConfigError
from dunning.core.secret_files import SecretFiles
from dunning.core.sections import S, raw_values, read_section

__all__ = ["Settings", "load_settings"]


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every setting of a dunning deployment. See README for what each does."""

    model_config = SettingsConfigDict(env_prefix="DUNNING_", extra="ignore", frozen=True)

    # -------------------------------------------------------------- core
    database_url: str = "sqlite:///dunning.db"
    broker_url: str | None = None
    plugins: CommaList | None = None
    plugin_trace: bool = False
    policy: str | None = None
    dry_run: bool = False
    public_url: str = "http://127.0.0.1:8000"
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    #: ``text`` or ``json`` (one object a line); logging reads and checks it from the environment itself
    log_format: str = "text"

    # -------------------------------------------------------------- runtime
    tick_seconds: float = 30.0
    tick_batch: int = 2000
    lease_seconds: float = 60.0
    sweep_seconds: float = 15.0
    ambiguous_after_seconds: float = 120.0
    outage_log_seconds: float = 60.0
    worker_threads: int = 4
    max_retries: int = 5
    min_backoff_ms: int = 1000
    max_backoff_ms: int = 300_000
    scheduler_partitions: int = 1
    scheduler_partition: int = 0
    rate_limits: CommaList = Field(default_factory=list)
    #: store connections each process keeps (as many more may open under load)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    #: seconds a caller waits for a store connection before giving up (the API answers 503)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    #: API requests served at once; 0 means the pool size less two (kept for the scheduler and workers)
    api_concurrency: int = Field(default=0, ge=0, le=1000)
    #: seconds an API request waits for its turn before it is answered 503 with Retry-After
    api_queue_seconds: float = Field(default=5.0, gt=0, le=120)
    #: directories of the deployment's own templates, searched before the built-in ones
    template_dirs: CommaList = Field(default_factory=list)

    # -------------------------------------------------------------- outbound webhooks
    #: ``URL=topic,topic;URL=...`` (see dunning.core.webhooks.topics)
    webhooks: str | None = None
    #: the HMAC-SHA256 key every delivery is signed with (required with webhooks)
    webhook_secret: SecretStr | None = None
    #: attempts before a delivery counts as failed
    webhook_max_attempts: int = Field(default=12, ge=1, le=50)
    webhook_min_backoff_ms: int = Field(default=1000, ge=1)
    webhook_max_backoff_ms: int = Field(default=3_600_000, ge=1)
    webhook_timeout: float = Field(default=10.0, gt=0, le=120)

    # -------------------------------------------------------------- console
    #: hours a console session lasts without signing in again
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)

    #: every ``DUNNING_*`` value (file, environment, overrides), for the plugins' sections
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    #: sections already read and validated, by class
    _sections: dict[type, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        """Core settings from ``values``, the environment and ``_env_file``; keep the rest for plugins.

        A keyword that is no core setting (``email_host=...``) overrides the
        plugin variable of that name (``DUNNING_EMAIL_HOST``), as a core
        keyword overrides a core variable.
        """
        known = type(self).model_fields
        own = {k: v for k, v in values.items() if k in known or k.startswith("_")}
        super().__init__(**own)
        rest = {k: v for k, v in values.items() if k not in own}
        self._raw = raw_values(values.get("_env_file"), rest)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment, then ``DUNNING_*_FILE`` files (mounted secrets), then the settings file."""
        files = SecretFiles(settings_cls)
        return init_settings, env_settings, files, dotenv_settings, file_secret_settings

    @field_validator("plugins", "rate_limits", "template_dirs", mode="before")
    @classmethod
    def _commas(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        return _split(value)

    @property
    def api_slots(self) -> int:
        """How many API requests may use the store at once."""
        return self.api_concurrency or max(1, self.db_pool_size - 2)

    def section(self, section: type[S]) -> S:
        """A plugin's settings section, read with these settings and validated on first use.

        Raises ``ConfigError`` naming each variable whose value the section refuses.
        """
        found = self._sections.get(section)
        if found is None:
            found = self._sections[section] = read_section(section, self._raw)
        return found


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and ``DUNNING_SETTINGS_FILE``), then overrides.

    A value that cannot be used is a :class:`ConfigError` naming its variable,
    so that a process refusing to start says why in one line.
    """
    env_file = os.environ.get("DUNNING_SETTINGS_FILE")
    try:
        if env_file:
            return Settings(_env_file=env_file, **overrides)
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(error) for error in exc.errors())) from exc


def _problem(error: Any) -> str:
    """One invalid setting as ``DUNNING_NAME: what is wrong`` (never its value: it may be a secret)."""
    name = "DUNNING_" + "_".join(str(part) for part in error["loc"][:1]).upper()
    return f"{name}: {error['msg']}"
