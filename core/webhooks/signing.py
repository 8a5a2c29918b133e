"""Signatures of outbound webhooks, as Stripe signs its own: HMAC-SHA256 over ``timestamp.body``.

The header ``Dunning-Signature: t=1767225600,v1=5257a8...`` carries the Unix
time of the attempt and the hex digest. A receiver recomputes the digest
with the shared secret (``DUNNING_WEBHOOK_SECRET``), compares in constant
time, and refuses a timestamp too far from its own clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "TOPIC_HEADER", "sign", "verify"]

#: The header that carries the signature.
SIGNATURE_HEADER = "Dunning-Signature"
#: The header that carries the delivery id (the same on every attempt: de-duplicate by it).
DELIVERY_HEADER = "Dunning-Delivery"
#: The header that names the topic.
TOPIC_HEADER = "Dunning-Event"
#: How far a signature's time may be from the receiver's clock, by default (seconds).
TOLERANCE = 300


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, at a time within ``tolerance`` of ``now``."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
