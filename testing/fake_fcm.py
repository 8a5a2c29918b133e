"""A fake FCM HTTP v1 API, with its own OAuth token endpoint, on 127.0.0.1.

firebase-admin talks to it for real: google-auth signs a JWT with the key of a
service-account file this fake wrote, exchanges it at ``/token`` for a bearer
token, and the send endpoint refuses any request without one. Errors are
FCM's exact ``google.rpc.Status`` bodies, scriptable per token; a malformed
message (a field of the wrong type, a ``ttl`` that is no duration) gets the
``google.rpc.BadRequest`` field violations FCM answers with.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dunning.testing.fake_server import Countdown, FakeRequest, FakeResponse, FakeServer, take_first

__all__ = ["ERRORS", "INVALID_TOKEN_MESSAGE", "FakeFcm", "FcmFailure", "FcmRecord"]

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
#: What FCM answers when a registration token is malformed (an ``INVALID_ARGUMENT``).
INVALID_TOKEN_MESSAGE = "The registration token is not a valid FCM registration token"
#: FCM's message for an ``INVALID_ARGUMENT`` that does not say more.
INVALID_ARGUMENT_MESSAGE = "Request contains an invalid argument."
#: A ``google.protobuf.Duration`` in JSON: seconds, up to nine decimals, then ``s``.
_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The ``aud`` google-auth puts in a service account's assertion, whatever its ``token_uri``.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_SEND = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")

#: FCM error codes: HTTP status, canonical status and message, as FCM answers them.
ERRORS: dict[str, tuple[int, str, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
    "APNS_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS"),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", INVALID_ARGUMENT_MESSAGE),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
}


@dataclass(frozen=True)
class FcmRecord:
    """One message FCM accepted (or received before answering slowly or hanging up)."""

    name: str
    target_kind: str
    target: str
    notification: Mapping[str, Any]
    data: Mapping[str, str]
    android: Mapping[str, Any]
    apns: Mapping[str, Any]
    webpush: Mapping[str, Any]
    message: Mapping[str, Any]
    authorization: str
    validate_only: bool
    at: float

    @property
    def intent_id(self) -> str | None:
        return self.data.get("intent_id")


@dataclass(frozen=True)
class FcmFailure:
    """A scripted refusal: an FCM error code, and optionally its message and the field at fault."""

    error: str
    retry_after: float | None = None
    message: str | None = None
    field: str | None = None
    description: str = "Invalid registration token"


@dataclass
class _Script:
    failures: dict[str, FcmFailure] = field(default_factory=dict)
    outages: list[Countdown] = field(default_factory=list)
    slow: list[Countdown] = field(default_factory=list)
    drops: list[Countdown] = field(default_factory=list)


class FakeFcm(FakeServer):
    """Fake FCM: write a service account with :meth:`write_service_account`, send to :attr:`url`."""

    def __init__(self, project_id: str = "dunning-test", *, token_lifetime: int = 3600) -> None:
        super().__init__()
        self.project_id = project_id
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()
        self._script = _Script()
        self._keys: dict[str, str] = {}
        self._tokens: dict[str, float] = {}
        self._records: list[FcmRecord] = []
        self._requests: list[FakeRequest] = []
        self.tokens_issued = 0

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def write_service_account(
        self, directory: str | Path, name: str = "service-account.json", *, fresh_key: bool = False
    ) -> Path:
        """A service-account JSON whose ``token_uri`` is this fake; return its path.

        Its RSA key is generated once per process (a 2048-bit key takes a
        while), or anew with ``fresh_key``; the fake trusts it either way.
        """
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if fresh_key else _process_key()
        email = f"dunning-{uuid.uuid4().hex[:8]}@{self.project_id}.iam.gserviceaccount.com"
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with self._lock:
            self._keys[email] = public.decode()
        info = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": uuid.uuid4().hex,
            "private_key": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "client_email": email,
            "client_id": str(uuid.uuid4().int)[:21],
            "token_uri": self.token_uri,
            "universe_domain": "googleapis.com",
        }
        path = Path(directory) / name
        path.write_text(json.dumps(info, indent=2), encoding="utf-8")
        return path

    def settings(self, credentials: str | Path, **extra: Any) -> dict[str, Any]:
        """``load_settings`` overrides that point dunning's push channel at this fake."""
        return {
            "fcm_credentials": str(credentials),
            "fcm_project_id": self.project_id,
            "fcm_base_url": self.url,
            "fcm_timeout": 5.0,
            **extra,
        }

    # ------------------------------------------------------------ scripting

    def fail(
        self,
        target: str,
        error: str,
        *,
        retry_after: float | None = None,
        message: str | None = None,
        field: str | None = None,
    ) -> None:
        """Refuse every message to ``target`` (token or FID) with FCM error ``error`` (see ERRORS).

        ``message`` replaces FCM's text (e.g. :data:`INVALID_TOKEN_MESSAGE`);
        ``field`` adds a ``google.rpc.BadRequest`` violation of that field
        (e.g. ``message.token``), as FCM details an ``INVALID_ARGUMENT``.
        """
        if error not in ERRORS:
            raise ValueError(f"unknown FCM error {error!r}; one of {sorted(ERRORS)}")
        with self._lock:
            self._script.failures[target] = FcmFailure(error, retry_after, message, field)

    def outage(
        self, error: str = "UNAVAILABLE", *, requests: int = 1, retry_after: float | None = None
    ) -> None:
        """Answer the next ``requests`` sends, whatever their target, with ``error``."""
        with self._lock:
            self._script.outages.append(Countdown(left=requests, value=FcmFailure(error, retry_after)))

    def slow(self, seconds: float, *, requests: int = 1) -> None:
        """Record the next ``requests`` sends as received, then answer only after ``seconds``."""
        with self._lock:
            self._script.slow.append(Countdown(left=requests, value=seconds))

    def drop(self, *, requests: int = 1) -> None:
        """Record the next ``requests`` sends as received, then hang up without answering."""
        with self._lock:
            self._script.drops.append(Countdown(left=requests, value=True))

    def revoke_tokens(self) -> None:
        """Forget every bearer token issued: the next send gets a 401 and google-auth refreshes."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        """Forget records and scripts (issued tokens and trusted keys stay valid)."""
        with self._lock:
            self._script = _Script()
            self._records.clear()
            self._requests.clear()

    # ------------------------------------------------------------ what it saw

    @property
    def messages(self) -> list[FcmRecord]:
        with self._lock:
            return list(self._records)

    @property
    def requests(self) -> list[FakeRequest]:
        """Every HTTP request, token requests and refused sends included."""
        with self._lock:
            return list(self._requests)

    def count_for(self, intent_id: str) -> int:
        """How many real (not validate-only) sends of ``intent_id`` reached the fake."""
        return sum(1 for r in self.messages if r.intent_id == intent_id and not r.validate_only)

    # ------------------------------------------------------------ protocol

    def handle(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self._requests.append(request)
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        match = _SEND.match(request.path)
        if request.method != "POST" or match is None:
            return _status(404, "NOT_FOUND", "Requested entity was not found.")
        authorization = request.header("Authorization")
        if not self._bearer_ok(authorization):
            return _status(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if match["project"] != self.project_id:
            return _status(403, "PERMISSION_DENIED", "Permission 'cloudmessaging.messages.create' denied.")
        try:
            body = request.json()
            message = body["message"]
        except (ValueError, KeyError, TypeError):
            return _status(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        targets = [k for k in ("token", "fid", "topic", "condition") if message.get(k)]
        if len(targets) != 1:
            return _status(400, "INVALID_ARGUMENT", INVALID_ARGUMENT_MESSAGE)
        malformed = _malformed(message)
        if malformed is not None:
            return malformed
        with self._lock:
            outage = take_first(self._script.outages)
            failure = self._script.failures.get(message[targets[0]])
        if outage is not None:
            return _fcm_error(outage.value)
        if failure is not None:
            return _fcm_error(failure)
        record = self._accept(targets[0], message, authorization, bool(body.get("validate_only")), request.at)
        response = FakeResponse(200, {"name": record.name})
        with self._lock:
            slow = take_first(self._script.slow)
            drop = take_first(self._script.drops)
        response.delay = float(slow.value) if slow is not None else 0.0
        response.drop = drop is not None
        return response

    def _token(self, request: FakeRequest) -> FakeResponse:
        form = {k: v[0] for k, v in request.form().items()}
        if form.get("grant_type") != JWT_BEARER or not form.get("assertion"):
            return FakeResponse(400, {"error": "unsupported_grant_type"})
        try:
            issuer = jwt.decode(form["assertion"], options={"verify_signature": False}).get("iss")
            with self._lock:
                key = self._keys.get(str(issuer))
            if key is None:
                raise jwt.InvalidTokenError(f"unknown service account {issuer!r}")
            jwt.decode(
                form["assertion"], key, algorithms=["RS256"], audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri]
            )
        except jwt.PyJWTError as exc:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"})
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
            self.tokens_issued += 1
        return FakeResponse(
            200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _bearer_ok(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            expiry = self._tokens.get(token)
        return scheme.lower() == "bearer" and expiry is not None and expiry > time.time()

    def _accept(
        self, kind: str, message: Mapping[str, Any], authorization: str, validate_only: bool, at: float
    ) -> FcmRecord:
        record = FcmRecord(
            name=f"projects/{self.project_id}/messages/0:{int(at * 1e6)}%{uuid.uuid4().hex[:16]}",
            target_kind=kind,
            target=str(message[kind]),
            notification=message.get("notification") or {},
            data=message.get("data") or {},
            android=message.get("android") or {},
            apns=message.get("apns") or {},
            webpush=message.get("webpush") or {},
            message=message,
            authorization=authorization,
            validate_only=validate_only,
            at=at,
        )
        with self._lock:
            self._records.append(record)
        return record


@functools.cache
def _process_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _status(
    http: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> FakeResponse:
    error: dict[str, Any] = {"code": http, "message": message, "status": status}
    if details:
        error["details"] = details
    return FakeResponse(http, {"error": error}, headers={"Content-Type": "application/json; charset=UTF-8"})


def _fcm_error(failure: FcmFailure) -> FakeResponse:
    http, status, message = ERRORS[failure.error]
    details: list[dict[str, Any]] = [{"@type": FCM_ERROR_TYPE, "errorCode": failure.error}]
    if failure.field:
        details.append(_bad_request(failure.field, failure.description))
    response = _status(http, status, failure.message or message, details)
    if failure.retry_after is not None:
        response.headers["Retry-After"] = f"{failure.retry_after:g}"
    return response


def _bad_request(field: str, description: str) -> dict[str, Any]:
    return {"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"field": field, "description": description}]}


def _malformed(message: Mapping[str, Any]) -> FakeResponse | None:
    """FCM's answer to a message with a field of the wrong type, or None when it is well formed."""
    for path, value in _string_maps(message):
        for index, item in enumerate(value.values()):
            if not isinstance(item, str):
                return _violation(f"{path}[{index}].value", f"(TYPE_STRING), {json.dumps(item)}")
    ttl = (message.get("android") or {}).get("ttl")
    if ttl is not None and not (isinstance(ttl, str) and _DURATION.match(ttl)):
        return _violation("message.android.ttl", f"(type.googleapis.com/google.protobuf.Duration), {ttl!r}")
    return None


def _string_maps(message: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The maps whose values FCM types as strings: data, and the APNs and Web Push headers."""
    found = [("message.data", message.get("data") or {})]
    for platform in ("apns", "webpush"):
        found.append((f"message.{platform}.headers", (message.get(platform) or {}).get("headers") or {}))
    found.append(("message.webpush.data", (message.get("webpush") or {}).get("data") or {}))
    return [(path, value) for path, value in found if isinstance(value, Mapping)]


def _violation(field: str, what: str) -> FakeResponse:
    text = f"Invalid value at '{field}' {what}"
    return _status(400, "INVALID_ARGUMENT", text, [_bad_request(field, text)])
