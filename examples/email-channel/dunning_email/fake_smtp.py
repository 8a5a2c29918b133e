"""A real SMTP server on 127.0.0.1 (aiosmtpd) that tests can make refuse, defer or hang up.

It speaks SMTP as a relay does: it can refuse a recipient (5xx at RCPT),
defer a message (4xx after DATA), drop the connection once it has the whole
message (the client cannot tell whether it was queued), offer STARTTLS and
require a login. What it accepted is kept as parsed messages.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dunning.core.settings import Settings

__all__ = ["ACCEPTED", "UNKNOWN", "FakeSmtp"]

#: An address the fake accepts, and one it refuses at RCPT as unknown (550 5.1.1).
ACCEPTED = "wang.fang@example.cn"
UNKNOWN = "nobody@example.cn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refused: dict[str, str] = {}
        self.deferrals: list[str] = []
        self.drops = 0
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            refused = self.refused.get(address)
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            if self.deferrals:
                return self.deferrals.pop(0)
            self.messages.append(parsed)  # type: ignore[arg-type]
            drop = self.drops > 0
            self.drops -= 1 if drop else 0
        if drop:
            server.transport.close()  # it has the message; the client never hears so
        return "250 2.0.0 OK: queued"


class FakeSmtp:
    """Use as a context manager; ``port`` is where it listens, ``messages`` what it accepted."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, logins: dict[str, str] | None = None) -> None:
        self.handler = _Handler()
        self.handler.refused[UNKNOWN] = f"550 5.1.1 <{UNKNOWN}>: mailbox unknown"
        self.port = _free_port()
        options: dict[str, Any] = {}
        if tls is not None:
            options.update(tls_context=tls, require_starttls=True)
        if logins is not None:
            options.update(authenticator=_authenticator(logins), auth_required=True)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> FakeSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def refuse(self, address: str, reply: str = "550 5.1.1 <{}>: mailbox unknown") -> None:
        """Refuse ``address`` at RCPT with ``reply`` (``{}`` is the address)."""
        with self.handler.lock:
            self.handler.refused[address] = reply.format(address)

    def defer(self, reply: str = "451 4.3.0 try again later", *, times: int = 1) -> None:
        """Answer the next ``times`` messages with a temporary refusal after DATA."""
        with self.handler.lock:
            self.handler.deferrals.extend([reply] * times)

    def drop_after_data(self, *, times: int = 1) -> None:
        """Keep the next ``times`` messages but hang up before saying so."""
        with self.handler.lock:
            self.handler.drops += times

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def count_for(self, intent_id: str) -> int:
        """How many messages of ``intent_id`` the server accepted."""
        return sum(1 for m in self.messages if m["X-Dunning-Intent"] == intent_id)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment that points dunning's e-mail channel here."""
        return {
            "DUNNING_EMAIL_HOST": "127.0.0.1",
            "DUNNING_EMAIL_PORT": str(self.port),
            "DUNNING_EMAIL_FROM": "Anxin Finance <reminders@anxin.example>",
            "DUNNING_EMAIL_TIMEOUT": "5",
            **extra,
        }

    def settings(self, **extra: Any) -> Settings:
        """Dunning's settings with the e-mail channel pointed here; ``extra`` as ``email_*`` keywords."""
        values: dict[str, Any] = {key[len("DUNNING_") :].lower(): value for key, value in self.env().items()}
        return Settings(public_url="https://dunning.example.com", **{**values, **extra})


def _authenticator(logins: dict[str, str]) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        good = isinstance(data, LoginPassword) and logins.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=good, handled=False)

    return check
