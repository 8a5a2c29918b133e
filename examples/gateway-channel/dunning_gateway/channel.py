"""Texts through an in-house SMS gateway: signed JSON over HTTP, with dunning's error contract.

Only the standard library talks to the gateway. What matters is how each
failure is typed: a refusal is permanent, a 429 or 5xx transient, and a
request that may have reached the gateway (read timeout, hang-up) ambiguous.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.errors import (
    AmbiguousDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from dunning.core.hookspecs import hookimpl

__all__ = ["SIGNATURE_HEADER", "GatewayChannel", "GatewaySettings", "sign"]

log = logging.getLogger(__name__)

#: The header carrying ``sha256=<hex HMAC of the body>``.
SIGNATURE_HEADER = "X-Gateway-Signature"


class GatewaySettings(BaseSettings):
    """``DUNNING_GATEWAY_URL``, ``DUNNING_GATEWAY_SECRET`` and ``DUNNING_GATEWAY_TIMEOUT``."""

    model_config = SettingsConfigDict(env_prefix="DUNNING_GATEWAY_", extra="ignore")

    url: str | None = None
    secret: SecretStr | None = None
    timeout: float = 10.0


def sign(secret: str, body: bytes) -> str:
    """The signature header value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class GatewayChannel(Channel):
    """One signed POST per text; the gateway's answer says what to do next."""

    name = "gateway"
    contact_kind = "phone"
    kind = "text"
    queue = "dunning.gateway"
    template_parts = ("body",)

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        # An in-house gateway is reached directly: never through an HTTP proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def from_settings(cls, settings: Any) -> GatewayChannel | None:
        """Reads its own ``DUNNING_GATEWAY_*`` settings (and ``DUNNING_SETTINGS_FILE``, if set)."""
        env_file = os.environ.get("DUNNING_SETTINGS_FILE")
        own = GatewaySettings(_env_file=env_file) if env_file else GatewaySettings()  # type: ignore[call-arg]
        if not own.url or own.secret is None:
            return None
        return cls(own.url, own.secret.get_secret_value(), timeout=own.timeout)

    def send(self, message: OutboundMessage) -> Receipt:
        body = message.parts.get("body")
        if not body:
            raise PermanentDeliveryError("a text needs a non-empty body part", code="no_body")
        payload = json.dumps({"to": message.to, "body": body, "intent_id": message.intent_id}).encode("utf-8")
        request = urllib.request.Request(self.url, data=payload, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header(SIGNATURE_HEADER, sign(self.secret, payload))
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except Exception as exc:
            error = _typed(exc)
            log.info(
                "gateway text to %s for intent %s failed: %s (%s)",
                mask_address(message.to),
                message.intent_id,
                type(error).__name__,
                error.code,
            )
            raise error from exc
        return Receipt(
            provider_id=str(answer.get("id") or "") or None, status=str(answer.get("status", "accepted"))
        )


def _typed(exc: Exception) -> DeliveryError:
    if isinstance(exc, urllib.error.HTTPError):
        return _refusal(exc)
    if isinstance(exc, urllib.error.URLError):
        # urllib wraps only failures to connect or to write the request: the gateway has nothing.
        return TransientDeliveryError(f"gateway unreachable: {exc.reason}", code="unreachable")
    if isinstance(exc, TimeoutError | ConnectionError | http.client.HTTPException | ValueError):
        return AmbiguousDeliveryError(f"gateway may have the text ({type(exc).__name__})", code="ambiguous")
    return AmbiguousDeliveryError(f"unexpected {type(exc).__name__} from the gateway", code="ambiguous")


def _refusal(exc: urllib.error.HTTPError) -> DeliveryError:
    try:
        code = str(json.loads(exc.read() or b"{}").get("error") or exc.code)
    except ValueError:
        code = str(exc.code)
    retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
    if exc.code == 429 or exc.code >= 500:
        return TransientDeliveryError(f"gateway answered {exc.code}", code=code, retry_after=retry_after)
    if code == "invalid_number":
        return PermanentDeliveryError("gateway: invalid number", code=code, invalidates="address")
    if code == "opted_out":
        return PermanentDeliveryError("gateway: recipient opted out", code=code, opt_out=True)
    return PermanentDeliveryError(f"gateway refused the text ({exc.code} {code})", code=code)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(GatewayChannel)
