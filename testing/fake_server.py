"""A scriptable HTTP server on 127.0.0.1, the base of every fake provider dunning ships.

It listens on an ephemeral port in a background thread and hands each request
to :meth:`FakeServer.handle`. An answer may be delayed (to trip a client's
read timeout after the request has arrived) or dropped (the server hangs up
without answering), and may run an action once it has been written, such as a
provider's status callback. Third-party channel authors may build on it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "Countdown",
    "FakeRequest",
    "FakeResponse",
    "FakeServer",
    "RecordingEndpoint",
    "is_loopback",
    "post_form",
    "take_first",
]

#: Hosts a fake may call back; nothing else is ever contacted.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine's loopback interface."""
    return (urlsplit(url).hostname or "") in LOOPBACK


@dataclass(frozen=True)
class FakeRequest:
    """One request as the fake received it."""

    method: str
    target: str  #: path and query, as sent
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    at: float

    def header(self, name: str, default: str = "") -> str:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), default)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class FakeResponse:
    """What to answer, and how: ``delay`` seconds late, or ``drop`` the connection unanswered."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    after: Callable[[], None] | None = None
    #: ``time.monotonic()`` once the answer was written (None until then, or if it never was).
    sent: float | None = None

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        self.headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Countdown:
    """A scripted behaviour for the next ``left`` requests, or until ``until`` (``time.monotonic``)."""

    left: int | None = None
    until: float | None = None
    value: Any = None

    def take(self) -> bool:
        """Whether it applies to this request (and count it)."""
        if self.until is not None:
            return time.monotonic() < self.until
        if self.left:
            self.left -= 1
            return True
        return False


def take_first(countdowns: list[Countdown]) -> Countdown | None:
    """The first countdown that applies to this request; spent ones are dropped from the list."""
    for countdown in list(countdowns):
        if countdown.take():
            return countdown
        countdowns.remove(countdown)
    return None


class FakeServer:
    """Base of the fakes: start/stop (or ``with``), ``url``, and one :meth:`handle` per request."""

    def __init__(self, port: int = 0) -> None:
        #: the port to listen on once started (0: any free one)
        self.wanted_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._unread: list[Countdown] = []

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.wanted_port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._conn_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ to override

    def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one request; subclasses speak their provider's protocol here."""
        return FakeResponse(404, {"error": "not found"})

    # ------------------------------------------------------------ scripting

    def hang_up_unread(self, *, requests: int = 1) -> None:
        """Reset the next ``requests`` connections after the request line, before reading the body.

        :meth:`handle` never sees them: nothing was accepted. The client only
        learns that the connection was reset, so it cannot tell whether the
        request got through (a provider's load balancer failing mid-request).
        """
        with self._conn_lock:
            self._unread.append(Countdown(left=requests))

    def _take_unread(self) -> bool:
        with self._conn_lock:
            return take_first(self._unread) is not None

    # ------------------------------------------------------------ helpers

    def wait(self, seconds: float) -> None:
        """Sleep, but wake at once when the server stops (so slow answers never outlive a test)."""
        self._stopping.wait(seconds)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)


class _Server(ThreadingHTTPServer):
    #: ``send_each`` opens up to 500 connections at once; the default backlog of 5 would drop SYNs.
    request_queue_size = 512
    daemon_threads = True


class RecordingEndpoint(FakeServer):
    """A loopback endpoint that answers every request with ``status`` and keeps it.

    It stands in for dunning's webhooks when a test only needs to see what a
    fake provider called back with (and check its signature).
    """

    def __init__(self, status: int = 204) -> None:
        super().__init__()
        self.status = status
        self._received: list[FakeRequest] = []
        self._cond = threading.Condition()

    def handle(self, request: FakeRequest) -> FakeResponse:
        with self._cond:
            self._received.append(request)
            self._cond.notify_all()
        return FakeResponse(self.status)

    @property
    def received(self) -> list[FakeRequest]:
        with self._cond:
            return list(self._received)

    def full_url(self, request: FakeRequest) -> str:
        """The URL the caller posted to, as a provider signs it."""
        return self.url + request.target

    def wait_for(self, count: int, timeout: float = 5.0) -> list[FakeRequest]:
        """Block until ``count`` requests arrived; raise ``TimeoutError`` otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._received) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self._received)} of {count} requests after {timeout}s")
            return list(self._received)


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        #: The status line and headers go in one write and the body in another; with Nagle's
        #: algorithm on, the body would wait for the client's delayed ACK (some 40 ms a request).
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            fake._track(self.connection, True)

        def finish(self) -> None:
            fake._track(self.connection, False)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: requests carry phone numbers and tokens."""

        def _serve(self) -> None:
            if fake._take_unread():
                self._reset()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = FakeRequest(
                method=self.command,
                target=self.path,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=dict(self.headers.items()),
                body=body,
                at=time.time(),
            )
            try:
                response = fake.handle(request)
            except Exception as exc:
                response = FakeResponse(500, {"error": f"fake server bug: {type(exc).__name__}: {exc}"})
            if response.delay:
                fake.wait(response.delay)
            if response.drop or fake._stopping.is_set():
                self.close_connection = True
            else:
                self._write(response)
            if response.after is not None:
                threading.Thread(target=response.after, daemon=True).start()

        def _reset(self) -> None:
            """Close with an RST (linger 0), leaving the request body unread."""
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def _write(self, response: FakeResponse) -> None:
            payload = response.payload()
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                response.sent = time.monotonic()
            except OSError:
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


def post_form(
    url: str, params: Mapping[str, str], headers: Mapping[str, str] | None = None, timeout: float = 5.0
) -> int:
    """POST a form to a loopback URL (a provider's webhook call); return the HTTP status.

    Refuses any other host: the fakes never contact anything but this machine.
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    if not is_loopback(url):
        raise ValueError(f"fakes only call loopback addresses, not {urlsplit(url).hostname!r}")
    data = urllib.parse.urlencode(params).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
