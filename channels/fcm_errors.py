"""Typing firebase-admin's exceptions as delivery errors: drop the token, retry, alert or reconcile."""

from __future__ import annotations

import json
import logging
from typing import Any

import google.auth.exceptions
import requests
from firebase_admin import exceptions, messaging

from dunning.channels.transport import retry_after_seconds, transport_error
from dunning.core.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError

__all__ = ["auth_error", "fcm_error", "token_at_fault"]

log = logging.getLogger(__name__)

#: FCM errors that prove the token is dead for this app: stop using it.
_DEAD_TOKEN: dict[type[Exception], str] = {
    messaging.UnregisteredError: "UNREGISTERED",
    messaging.SenderIdMismatchError: "SENDER_ID_MISMATCH",
}
#: ``google.rpc.BadRequest`` detail of an ``INVALID_ARGUMENT``: which request fields were wrong.
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
#: The message fields that carry the push target: a violation there is the token's fault.
TARGET_FIELDS = frozenset({"message.token", "message.fid"})
#: What FCM says when the registration token itself is malformed (lower-cased).
INVALID_TOKEN_TEXT = "registration token is not a valid"
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
    if isinstance(exc, exceptions.InvalidArgumentError) and token_at_fault(exc):
        # Not a payload bug: this token can never receive a push. Drop it, as for UNREGISTERED.
        return PermanentDeliveryError(text, code=exc.code, invalidates="channel")
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


def token_at_fault(exc: exceptions.FirebaseError) -> bool:
    """Whether an ``INVALID_ARGUMENT`` blames the push target rather than the payload.

    FCM says so in two ways: a ``google.rpc.BadRequest`` detail whose field
    violations name ``message.token`` (or ``message.fid``), or the message
    "The registration token is not a valid FCM registration token".
    """
    error = _error_body(exc.http_response)
    said = " ".join(str(part) for part in (error.get("message"), exc)).lower()
    if INVALID_TOKEN_TEXT in said:
        return True
    for detail in error.get("details") or []:
        if not isinstance(detail, dict) or detail.get("@type") != BAD_REQUEST_TYPE:
            continue
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") in TARGET_FIELDS:
                return True
    return False


def _error_body(response: Any) -> dict[str, Any]:
    """The ``error`` object of a Google API error response, or {} when there is none."""
    try:
        body = json.loads(getattr(response, "content", b"") or b"{}")
    except (TypeError, ValueError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


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
