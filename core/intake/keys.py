"""Idempotency keys: event ids namespaced by where they came from, and fingerprints of what was said.

A lender's ``event_id`` and a provider's message id live in one column, so
each is stored under its source's namespace (``api:``, ``cli:``, or the one a
channel plugin names for its provider's ids, such as ``twilio:``) and can
never collide with another's. The fingerprint of what the sender said
tells a retry (same id, same content: answered as a duplicate) from a
reuse of an id for something else (a conflict, never a silent drop).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

__all__ = ["Namespace", "client_id", "fingerprint", "namespaced"]

#: What a namespace looks like: the core's, or a channel plugin's own.
NAMESPACE = re.compile(r"^[a-z][a-z0-9_]*$")


class Namespace(StrEnum):
    """Where an event id was chosen."""

    API = "api"  #: the lender's systems, through the HTTP API
    CLI = "cli"  #: an operator, through ``dunning event``
    PUSH = "push"  #: the lender's app, acknowledging a push


def namespaced(namespace: str, event_id: str | None) -> str | None:
    """The stored form of an id: ``api:PAY-1``; None stays None.

    ``namespace`` is a :class:`Namespace` or a channel plugin's own
    (lower-case letters, digits and ``_``), for its provider's message ids.
    """
    if not NAMESPACE.match(namespace):
        raise ValueError(f"{namespace!r} is not an event-id namespace")
    if not event_id:
        return None
    return f"{namespace}:{event_id}"


def client_id(stored: str | None) -> str:
    """The id as its sender chose it (the stored form without its namespace)."""
    if not stored:
        return ""
    head, sep, tail = stored.partition(":")
    return tail if sep and NAMESPACE.match(head) else stored


def fingerprint(content: Mapping[str, Any]) -> str:
    """A digest of what a sender said, independent of key order and of the id itself."""
    body = {k: v for k, v in content.items() if k != "event_id" and v is not None}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]
