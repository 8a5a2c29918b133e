"""Did a failed HTTP request reach the provider? The answer decides between retry and reconcile.

A request that never left (connection refused, connect timeout, DNS) is surely
not sent: retry it. One that failed after it was written (read timeout, the
server hung up) may have been accepted: never blind-retry it, because neither
Twilio nor FCM has an idempotency key and the debtor would get it twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import requests
import urllib3.exceptions

from dunning.core.errors import AmbiguousDeliveryError, DeliveryError, TransientDeliveryError

__all__ = ["retry_after_seconds", "surely_not_sent", "transport_error"]

#: urllib3 reasons that prove the request never reached the server.
_NOT_SENT = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
)


def surely_not_sent(exc: BaseException) -> bool:
    """True when ``exc`` (from requests) proves that no byte of the request reached the server.

    ``ConnectTimeout`` is a ``ConnectionError`` too, so it is checked first; a
    bare ``ConnectionError`` counts as not sent only when its urllib3 reason
    is a connect-phase failure.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        inner = exc.args[0] if exc.args else None
        reason = getattr(inner, "reason", inner)
        return isinstance(reason, _NOT_SENT)
    return False


def transport_error(exc: BaseException, provider: str) -> DeliveryError:
    """The delivery error a transport failure means: transient if surely not sent, else ambiguous."""
    kind = type(exc).__name__
    if surely_not_sent(exc):
        return TransientDeliveryError(f"{provider} unreachable ({kind}); nothing was sent", code=kind)
    return AmbiguousDeliveryError(
        f"{provider} may have received the request ({kind}); wait for its status callback", code=kind
    )


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
