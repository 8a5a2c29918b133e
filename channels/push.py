"""App push through Firebase Cloud Messaging (HTTP v1), via firebase-admin.

Each channel owns a named firebase app, so two channels (or tests) never
share a credential, an endpoint or a retry policy. The push carries a title,
a body, and data for the app: case, intent and the payment deep link. It
expires on every platform after one TTL (Android ``ttl``, APNs
``apns-expiration``, Web Push ``TTL``), so that a reminder held for an
offline phone never arrives after the debtor paid.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import firebase_admin
import google.auth.exceptions
import google.auth.transport.requests
from firebase_admin import credentials, exceptions, messaging

from dunning.channels.fcm_endpoint import point_messaging_at
from dunning.channels.fcm_errors import auth_error, fcm_error
from dunning.channels.fcm_settings import FCM_API, FcmSettings
from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.errors import AmbiguousDeliveryError, ConfigError, DeliveryError, PermanentDeliveryError
from dunning.core.hookspecs import hookimpl
from dunning.core.price import Price
from dunning.core.sections import SettingsSection

__all__ = ["TTL", "PushChannel", "build_message", "expiry_options", "target_field"]

log = logging.getLogger(__name__)

#: ``send_each`` takes at most this many messages.
BATCH = 500
#: A Firebase installation ID: 22 URL-safe base64 characters, the first one of c-f.
FID = re.compile(r"[cdef][A-Za-z0-9_-]{21}")
#: A reminder older than this is stale (the debtor may have paid): FCM drops it.
TTL = timedelta(hours=24)
#: Data keys FCM reserves; sending them is an INVALID_ARGUMENT.
RESERVED = re.compile(r"^(from|notification|message_type)$|^(google|gcm)")


def target_field(address: str) -> str:
    """``fid`` for a Firebase installation ID, ``token`` for a classic FCM registration token.

    firebase-admin 7.5+ deprecates ``Message(token=...)`` in favour of ``fid``,
    but an FID is another identifier (a registration token is longer and holds
    a colon), so a stored registration token must still travel as ``token``.
    """
    return "fid" if FID.fullmatch(address) else "token"


def expiry_options(
    ttl: timedelta, now: datetime
) -> tuple[messaging.AndroidConfig, messaging.APNSConfig, messaging.WebpushConfig]:
    """Android, APNs and Web Push options that all drop the push ``ttl`` after ``now``.

    Each platform spells it its own way (FCM v1 ``Message``): Android a
    duration, APNs the UNIX time it expires at (``apns-expiration``, else 30
    days), Web Push a number of seconds (``TTL``, RFC 8030).
    """
    seconds = int(ttl.total_seconds())
    expires = int(now.astimezone(UTC).timestamp()) + seconds
    android = messaging.AndroidConfig(priority="high", ttl=timedelta(seconds=seconds))
    apns = messaging.APNSConfig(
        headers={"apns-priority": "10", "apns-push-type": "alert", "apns-expiration": str(expires)},
        payload=messaging.APNSPayload(aps=messaging.Aps(sound="default")),
    )
    webpush = messaging.WebpushConfig(headers={"TTL": str(seconds)})
    return android, apns, webpush


def build_message(message: OutboundMessage, *, now: datetime, ttl: timedelta = TTL) -> messaging.Message:
    """The FCM message of a rendered reminder: notification, app data, and each platform's expiry."""
    data = {str(k): str(v) for k, v in message.data.items() if not RESERVED.search(str(k))}
    data.update(case_id=message.case_id, intent_id=message.intent_id)
    link = message.data.get("link") or message.data.get("payment_url")
    if link:
        data["link"] = str(link)
    android, apns, webpush = expiry_options(ttl, now)
    fcm = messaging.Message(
        notification=messaging.Notification(title=message.parts["title"], body=message.parts["body"]),
        data=data,
        android=android,
        apns=apns,
        webpush=webpush,
    )
    # Set after construction: the constructor's ``token=`` warns, the wire field ``token`` does not.
    if target_field(message.to) == "fid":
        fcm.fid = message.to
    else:
        fcm.token = message.to
    str(fcm)  # encodes it, so the SDK's validation errors surface here and not mid-batch
    return fcm


class PushChannel(Channel):
    """Pushes through a firebase app of its own, deleted again by :meth:`close`."""

    name = "push"
    contact_kind = "push_token"
    kind = "push"
    template_parts = ("title", "body")
    settings_namespace = "fcm"

    def __init__(
        self,
        credential: credentials.Base,
        *,
        project_id: str | None = None,
        base_url: str = FCM_API,
        timeout: float = 10.0,
        ttl: timedelta = TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if ttl.total_seconds() < 0:
            raise ConfigError(f"a push TTL cannot be negative, not {ttl}")
        self.ttl = ttl
        self.clock = clock
        options: dict[str, Any] = {"httpTimeout": timeout}
        if project_id:
            options["projectId"] = project_id
        self.timeout = timeout
        self._token_request = google.auth.transport.requests.Request()
        self.app = firebase_admin.initialize_app(credential, options, name=f"dunning-push-{uuid.uuid4().hex}")
        try:
            self.endpoint = point_messaging_at(self.app, base_url)
        except ConfigError:
            firebase_admin.delete_app(self.app)
            raise
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Any) -> PushChannel | None:
        """Configured by ``DUNNING_FCM_CREDENTIALS``, the path of a service-account JSON file."""
        own = FcmSettings.of(settings)
        path = own.credentials
        if not path:
            return None
        try:
            credential = credentials.Certificate(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"DUNNING_FCM_CREDENTIALS (fcm_credentials): cannot use {path}: {exc}") from exc
        return cls(
            credential,
            project_id=own.project_id,
            base_url=own.base_url,
            timeout=own.timeout,
        )

    @classmethod
    def price(cls, settings: Any) -> Price:
        """Per push: ``DUNNING_FCM_COST`` (or ``DUNNING_COST_PUSH``); FCM itself charges nothing."""
        own = FcmSettings.of(settings)
        return Price(own.cost, own.cost_currency)

    def send(self, message: OutboundMessage) -> Receipt:
        fcm = self._build(message)
        try:
            name = messaging.send(fcm, app=self.app)
        except exceptions.FirebaseError as exc:
            raise self._failed(message, fcm_error(exc)) from exc
        except google.auth.exceptions.GoogleAuthError as exc:
            raise self._failed(message, auth_error(exc)) from exc
        except Exception as exc:
            # KeyError: a 2xx without a message name. Nothing proves that it was not sent.
            log.error("unexpected %s from FCM", type(exc).__name__)
            raise AmbiguousDeliveryError(f"unexpected {type(exc).__name__} from FCM") from exc
        return Receipt(provider_id=name, status="sent")

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[Receipt | DeliveryError]:
        """``send_each`` in chunks of 500; one result per message, in order."""
        results: list[Receipt | DeliveryError | None] = [None] * len(messages)
        built: list[tuple[int, messaging.Message]] = []
        for index, message in enumerate(messages):
            try:
                built.append((index, self._build(message)))
            except DeliveryError as exc:
                results[index] = exc
        for start in range(0, len(built), BATCH):
            chunk = built[start : start + BATCH]
            for (index, _), result in zip(chunk, self._send_chunk([m for _, m in chunk]), strict=True):
                results[index] = result
        return [r for r in results if r is not None]

    def rate_key(self) -> str:
        """FCM's send quota is per Firebase project."""
        return f"fcm:{self.app.project_id}"

    def _send_chunk(self, chunk: list[messaging.Message]) -> list[Receipt | DeliveryError]:
        try:
            self._ensure_token()
        except google.auth.exceptions.GoogleAuthError as exc:
            return [auth_error(exc) for _ in chunk]
        try:
            batch = messaging.send_each(chunk, app=self.app)
        except Exception as exc:
            log.error("FCM send_each failed as a whole: %s", type(exc).__name__)
            text = f"FCM batch failed ({type(exc).__name__}); some pushes may have been sent"
            return [AmbiguousDeliveryError(text) for _ in chunk]
        out: list[Receipt | DeliveryError] = []
        for response in batch.responses:
            if response.success:
                out.append(Receipt(provider_id=response.message_id, status="sent"))
            elif response.exception is not None:
                out.append(fcm_error(response.exception))
            else:
                out.append(AmbiguousDeliveryError("FCM answered without a message name"))
        return out

    def _ensure_token(self) -> None:
        """Refresh the OAuth token before a batch, so no thread of ``send_each`` fails on it midway."""
        credential = self.app.credential.get_credential()
        if not credential.valid:
            credential.refresh(functools.partial(self._token_request, timeout=self.timeout))

    def _build(self, message: OutboundMessage) -> messaging.Message:
        try:
            return build_message(message, now=self.clock(), ttl=self.ttl)
        except (KeyError, ValueError, TypeError) as exc:
            raise PermanentDeliveryError(
                f"push for intent {message.intent_id} cannot be built: {type(exc).__name__}: {exc}",
                code="bad_message",
            ) from exc

    def _failed(self, message: OutboundMessage, error: DeliveryError) -> DeliveryError:
        log.info(
            "push to %s for intent %s failed: %s (%s)",
            mask_address(message.to),
            message.intent_id,
            type(error).__name__,
            error.code,
        )
        return error

    def close(self) -> None:
        """Delete the firebase app; from a thread when called inside an event loop (the SDK needs one)."""
        if self._closed:
            return
        self._closed = True
        self._token_request.session.close()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            firebase_admin.delete_app(self.app)
            return
        worker = threading.Thread(target=firebase_admin.delete_app, args=(self.app,))
        worker.start()
        worker.join()


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(PushChannel)


@hookimpl
def dunning_register_settings(register: Callable[[type[SettingsSection]], None]) -> None:
    register(FcmSettings)
