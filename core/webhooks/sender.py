"""One attempt at delivering a webhook: sign the stored body, POST it, say what came of it.

Plain ``urllib`` over HTTP(S), with a timeout; a 2xx answer is a delivery,
anything else (another status, a refused connection, a timeout) is a
failure to retry. The error kept for the console never quotes the body.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from dunning.core.webhooks.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TOPIC_HEADER, sign

__all__ = ["Attempt", "post_signed"]

#: The User-Agent of every delivery.
USER_AGENT = "dunning-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: ``error`` is None when the receiver took it (2xx)."""

    status: int | None
    error: str | None


def post_signed(
    url: str, body: str, *, delivery_id: str, topic: str, secret: str, timestamp: int, timeout: float
) -> Attempt:
    """POST ``body`` to ``url`` with the signature, delivery id and topic headers."""
    data = body.encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, timestamp, data),
            DELIVERY_HEADER: delivery_id,
            TOPIC_HEADER: topic,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return Attempt(exc.code, f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Attempt(None, f"{type(exc).__name__}: {reason}"[:300])
    if 200 <= status < 300:
        return Attempt(status, None)
    return Attempt(status, f"HTTP {status}")
