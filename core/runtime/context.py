"""What a log line or a span is about: the case, intent, channel, tick or request being handled.

Set where work begins — a scheduler tick, a delivery, an API request — and
read wherever a line is logged below it, without passing ids through every
call. Context variables follow the thread or task that set them (Dramatiq's
worker threads, the API's request tasks), so concurrent work never mixes ids.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["FIELDS", "bound", "current", "new_id"]

#: The context fields a log line may carry, in the order they are shown.
FIELDS = ("request_id", "tick", "case_id", "intent_id", "channel")

_VARS: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"dunning_{name}", default=None) for name in FIELDS
}


def new_id() -> str:
    """A short random id for a tick or a request (16 hex digits: unique enough to grep for)."""
    return secrets.token_hex(8)


@contextlib.contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Set ``fields`` (names from :data:`FIELDS`) for the code inside; restored on the way out."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown context field(s): {', '.join(sorted(unknown))}")
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str]:
    """The fields set here and now, without those that are not."""
    found = {name: var.get() for name, var in _VARS.items()}
    return {name: value for name, value in found.items() if value is not None}
