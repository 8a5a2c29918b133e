"""Typing firebase-admin's exceptions as delivery errors: drop the token, retry, alert or reconcile."""

from __future__ import annotations

import logging

import google.auth.exceptions
import requests
from firebase_admin import exceptions, messaging

from dunning.channels.transport import retry_after_seconds, transport_error
from dunning.core.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError

__all__ = ["auth_error", "fcm_error"]

log = logging.getLogger(__name__)

#: FCM errors that prove the token is dead for this app: stop using it.
_DEAD_TOKEN: dict[type[Exception], str] = {
    messaging.UnregisteredError: "UNREGISTERED",
    messaging.SenderIdMismatchError: "SENDER_ID_MISMATCH",
}
#: Errors FCM asks us to retry with backoff.
_RETRY = (
    messaging.QuotaExceededError,
    exceptions.ResourceExhaustedError,
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.DeadlineExceededError,
)


def fcm_error(exc: exceptions.FirebaseError) -> DeliveryError:
    """The delivery error an FCM failure means (the message never carries the token)."""
    response = exc.http_response
    text = f"FCM {type(exc).__name__}: {exc}"
    for kind, code in _DEAD_TOKEN.items():
        if isinstance(exc, kind):
            return PermanentDeliveryError(text, code=code, invalidates="channel")
    if isinstance(exc, messaging.ThirdPartyAuthError):
        log.error("ALERT: FCM reports an APNs/web-push credential problem; the push token is kept")
        return PermanentDeliveryError(text, code="THIRD_PARTY_AUTH_ERROR")
    if isinstance(exc, messaging.QuotaExceededError):
        return TransientDeliveryError(text, code="QUOTA_EXCEEDED", retry_after=_retry_after(response))
    if response is None and isinstance(exc.cause, requests.exceptions.RequestException):
        return transport_error(exc.cause, "FCM")
    status = getattr(response, "status_code", None)
    if isinstance(exc, _RETRY) or (isinstance(status, int) and status >= 500):
        return TransientDeliveryError(text, code=exc.code, retry_after=_retry_after(response))
    if isinstance(exc, exceptions.UnauthenticatedError | exceptions.PermissionDeniedError):
        log.error("ALERT: FCM refused dunning's credentials (%s): check DUNNING_FCM_CREDENTIALS", exc.code)
    return PermanentDeliveryError(text, code=exc.code)


def auth_error(exc: google.auth.exceptions.GoogleAuthError) -> DeliveryError:
    """A failure to get an OAuth token: nothing reached FCM, so it is never ambiguous."""
    text = f"FCM access token unavailable: {type(exc).__name__}"
    if isinstance(exc, google.auth.exceptions.TransportError) or getattr(exc, "retryable", False):
        return TransientDeliveryError(text, code="oauth")
    log.error("ALERT: the FCM service account cannot get a token (%s)", type(exc).__name__)
    return PermanentDeliveryError(text, code="oauth")


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None)
    return retry_after_seconds(headers) if headers is not None else None
