"""A fake of the in-house SMS gateway, built on dunning's shipped ``FakeServer``.

It checks each request's HMAC signature, records what it accepted, and can be
told to refuse a number, fail, or answer too late.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from dunning.testing.fake_server import Countdown, FakeRequest, FakeResponse, FakeServer, take_first
from dunning_gateway.channel import SIGNATURE_HEADER, sign

__all__ = ["PATH", "FakeGateway", "GatewayRecord"]

#: Where the gateway takes texts.
PATH = "/v1/sms"


@dataclass(frozen=True)
class GatewayRecord:
    id: str
    to: str
    body: str
    intent_id: str


class FakeGateway(FakeServer):
    """The gateway on 127.0.0.1: ``endpoint`` is the URL to configure, ``secret`` the shared key."""

    def __init__(self, secret: str = "gateway-test-secret") -> None:
        super().__init__()
        self.secret = secret
        self._lock = threading.Lock()
        self._refused: dict[str, str] = {}
        self._outages: list[Countdown] = []
        self._slow: list[Countdown] = []
        self._records: list[GatewayRecord] = []

    @property
    def endpoint(self) -> str:
        return self.url + PATH

    def env(self) -> dict[str, str]:
        """The environment that configures the gateway channel for this fake."""
        return {"DUNNING_GATEWAY_URL": self.endpoint, "DUNNING_GATEWAY_SECRET": self.secret}

    def refuse(self, number: str, error: str = "invalid_number") -> None:
        with self._lock:
            self._refused[number] = error

    def outage(self, status: int = 503, *, retry_after: float | None = None, requests: int = 1) -> None:
        with self._lock:
            self._outages.append(Countdown(left=requests, value=(status, retry_after)))

    def slow(self, seconds: float, *, requests: int = 1) -> None:
        with self._lock:
            self._slow.append(Countdown(left=requests, value=seconds))

    @property
    def records(self) -> list[GatewayRecord]:
        with self._lock:
            return list(self._records)

    def count_for(self, intent_id: str) -> int:
        return sum(1 for r in self.records if r.intent_id == intent_id)

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.method != "POST" or request.path != PATH:
            return FakeResponse(404, {"error": "not_found"})
        if not hmac.compare_digest(request.header(SIGNATURE_HEADER), sign(self.secret, request.body)):
            return FakeResponse(401, {"error": "bad_signature"})
        try:
            text: dict[str, Any] = request.json()
            to, body, intent_id = str(text["to"]), str(text["body"]), str(text["intent_id"])
        except (ValueError, KeyError, TypeError):
            return FakeResponse(400, {"error": "bad_request"})
        with self._lock:
            outage = take_first(self._outages)
            refused = self._refused.get(to)
        if outage is not None:
            status, retry_after = outage.value
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return FakeResponse(status, {"error": "unavailable"}, headers=headers)
        if refused is not None:
            return FakeResponse(422, {"error": refused})
        record = GatewayRecord("gw-" + uuid.uuid4().hex, to, body, intent_id)
        with self._lock:
            self._records.append(record)
            slow = take_first(self._slow)
        return FakeResponse(202, {"id": record.id, "status": "accepted"}, delay=slow.value if slow else 0.0)
