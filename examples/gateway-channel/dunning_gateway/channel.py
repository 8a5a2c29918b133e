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
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from importlib.resources import files
from typing import Any

from pydantic import Field, SecretStr

from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.content.sources import TemplateSource
from dunning.core.errors import (
    AmbiguousDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from dunning.core.hookspecs import hookimpl
from dunning.core.price import Price
from dunning.core.sections import SettingsSection

__all__ = ["SIGNATURE_HEADER", "GatewayChannel", "GatewaySettings", "sign"]

log = logging.getLogger(__name__)

#: The header carrying ``sha256=<hex HMAC of the body>``.
SIGNATURE_HEADER = "X-Gateway-Signature"


class GatewaySettings(SettingsSection):
    """``DUNNING_GATEWAY_URL``, ``_SECRET``, ``_TIMEOUT``, and the price of a text (``_COST``, ``_COST_CURRENCY``)."""

    namespace = "gateway"

    url: str | None = None
    secret: SecretStr | None = None
    #: seconds a request may take
    timeout: float = Field(default=10.0, gt=0, le=120)
    #: what one text costs, whatever its length
    cost: Decimal = Field(default=Decimal("0"), ge=0)
    cost_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


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
    settings_namespace = GatewaySettings.namespace

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        # An in-house gateway is reached directly: never through an HTTP proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def from_settings(cls, settings: Any) -> GatewayChannel | None:
        """Reads its own ``DUNNING_GATEWAY_*`` section of dunning's settings."""
        own = GatewaySettings.of(settings)
        if not own.url or own.secret is None:
            return None
        return cls(own.url, own.secret.get_secret_value(), timeout=own.timeout)

    @classmethod
    def price(cls, settings: Any) -> Price:
        own = GatewaySettings.of(settings)
        return Price(own.cost, own.cost_currency)

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


@hookimpl
def dunning_register_settings(register: Callable[[type[SettingsSection]], None]) -> None:
    register(GatewaySettings)


@hookimpl
def dunning_register_templates(register: Callable[[TemplateSource], None]) -> None:
    """The gateway's texts, installed with the package: ``templates/gateway/<name>.<locale>.j2``."""
    register(files("dunning_gateway") / "templates")
