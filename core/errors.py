"""The one error tree of dunning.

::

    DunningError
    ├── ConfigError                 a policy, preset or setting is wrong
    │   └── PolicyError             names file, line and field of each problem
    ├── InputError                  a bad row, event or API request
    │   ├── ConflictError           an id already recorded with another content
    │   ├── NotFoundError           what the request names does not exist
    │   └── StateError              not now: the case is not in the queue, already claimed, ...
    ├── PluginError                 a plugin broke a rule of registration
    │   └── DuplicateNameError      two plugins registered the same name
    ├── TemplateError               a template is missing or failed to render
    ├── ProcessError                a worker or scheduler cannot start or keep running
    │   └── SchemaError             the store's schema is absent or behind this version
    └── DeliveryError               a channel could not deliver a message
        ├── PermanentDeliveryError  never retry; fall back to the next step
        ├── TransientDeliveryError  retry with backoff (``retry_after`` seconds)
        └── AmbiguousDeliveryError  may have been sent; reconcile, never blind-retry

Channels translate their providers' exceptions into the ``DeliveryError``
branch at their edge (``raise ... from exc``) so that the runtime knows whether
to retry, fall back or wait for a status callback.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AmbiguousDeliveryError",
    "ConfigError",
    "ConflictError",
    "DeliveryError",
    "DunningError",
    "DuplicateNameError",
    "InputError",
    "NotFoundError",
    "PermanentDeliveryError",
    "PluginError",
    "PolicyError",
    "Problem",
    "ProcessError",
    "SchemaError",
    "StateError",
    "TemplateError",
    "TransientDeliveryError",
]


class DunningError(Exception):
    """Base of every error dunning raises on purpose."""


class ConfigError(DunningError):
    """A policy, preset or setting cannot be used as written."""


@dataclass(frozen=True)
class Problem:
    """One finding of a policy check, located in its source file."""

    file: str
    line: int
    field: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        tag = "" if self.severity == "error" else " warning:"
        return f"{where}:{tag}{field} {self.message}"


class PolicyError(ConfigError):
    """A policy has errors; ``problems`` lists each with its line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InputError(DunningError):
    """Bad input: a row, an event, an API request. Names the field at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ConflictError(InputError):
    """An idempotency key already recorded with another content: a conflict, never a silent duplicate.

    ``stored`` describes what was recorded under the key, so the sender can
    tell which of its two messages the store kept.
    """

    def __init__(self, message: str, *, field: str | None = "event_id", stored: dict[str, str]) -> None:
        self.stored = stored
        super().__init__(message, field=field)


class NotFoundError(InputError):
    """What a request names (a case, a user) does not exist."""


class StateError(InputError):
    """The request is valid but cannot be done now: the case is not in the queue, or someone else has it."""


class PluginError(DunningError):
    """A plugin broke a rule of registration."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same channel or preset name."""


class TemplateError(DunningError):
    """A template is missing or failed to render (e.g. an undefined field)."""


class ProcessError(DunningError):
    """A worker or scheduler cannot start (store, broker, settings) or its processes keep dying."""


class SchemaError(ProcessError):
    """The store's schema is absent or older than this version: ``dunning db upgrade`` fixes it."""


class DeliveryError(DunningError):
    """A channel failed to deliver; the subclass says what to do next.

    ``code`` is the provider's error code where it gave one. ``invalidates``
    says what the error proves unusable: ``"address"`` (the contact point for
    every channel using it: an invalid number) or ``"channel"`` (this channel
    only: a landline cannot take SMS, an unregistered push token). ``opt_out``
    is true when the provider reports that the recipient opted out.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        invalidates: str | None = None,
        opt_out: bool = False,
    ) -> None:
        if invalidates not in (None, "address", "channel"):
            raise ValueError(f"invalidates must be 'address', 'channel' or None, not {invalidates!r}")
        self.code = code
        self.invalidates = invalidates
        self.opt_out = opt_out
        super().__init__(message)


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: fall back to the next step of the ladder."""


class TransientDeliveryError(DeliveryError):
    """Worth retrying later; ``retry_after`` (seconds) when the provider said."""

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, code=code)


class AmbiguousDeliveryError(DeliveryError):
    """The request may have reached the provider: never blind-retry.

    The runtime waits for the provider's status callback and reconciles, so
    that no debtor receives the same reminder twice.
    """
