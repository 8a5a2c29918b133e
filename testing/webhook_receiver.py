"""A receiver of dunning's outbound webhooks on 127.0.0.1, for tests of a deployment's subscriptions.

It records every delivery (headers and body as sent) and answers 204, or
the statuses it is told to for the next requests. ``free_port()`` reserves
nothing: it names a port that was free a moment ago, so a test can point a
subscription at a receiver that is not running yet.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from dunning.testing.fake_server import Countdown, FakeRequest, FakeResponse, FakeServer, take_first

__all__ = ["WebhookReceiver", "free_port"]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebhookReceiver(FakeServer):
    """Records deliveries; answers 204 unless :meth:`fail_next` says otherwise."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.requests: list[FakeRequest] = []
        self._statuses: list[Countdown] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def fail_next(self, status: int = 500, *, requests: int = 1) -> None:
        """Answer ``status`` to the next ``requests`` deliveries."""
        with self._lock:
            self._statuses.append(Countdown(left=requests, value=status))

    def handle(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
            scripted = take_first(self._statuses)
            self._arrived.notify_all()
        return FakeResponse(status=scripted.value if scripted else 204)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[FakeRequest]:
        """Block until ``count`` requests arrived (or the timeout passed); return what arrived."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [request.json() for request in self.requests]
