"""One SMTP transaction, and what each way it can fail means to dunning.

The phases are driven one by one so that a failure is typed by where it
happened: a refusal of the recipient (5xx) proves the address unusable for
e-mail; any 4xx asks for a retry; anything that breaks before the message's
final dot was sent left nothing at the server (retry); a connection lost
after it may have left the message queued there (ambiguous: never resend
blindly, or the debtor could get it twice).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from dunning.core.errors import (
    AmbiguousDeliveryError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

__all__ = ["Relay", "refusal", "stuffed"]

log = logging.getLogger(__name__)

#: An enhanced status code (RFC 3463) at the start of a reply: ``5.1.1``.
ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")
#: Leading dots of lines, doubled in the DATA phase (RFC 5321 4.5.2).
LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class Relay:
    """Where and how to hand over mail."""

    host: str
    port: int = 25
    starttls: bool = False
    ca_file: str | None = None
    user: str | None = None
    password: str | None = None
    timeout: float = 10.0

    def send(self, sender: str, recipient: str, payload: bytes) -> str:
        """Hand one message over; the server's acceptance reply, or a ``DeliveryError``."""
        smtp = self._open()
        try:
            self._envelope(smtp, sender, recipient)
            return self._data(smtp, payload)
        finally:
            _close(smtp)

    def _open(self) -> smtplib.SMTP:
        """Connect, say EHLO, upgrade and log in: nothing of the message is sent yet."""
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(
                f"SMTP relay unreachable ({type(exc).__name__})", code="connect"
            ) from exc
        try:
            smtp.ehlo()
            if self.starttls:
                self._upgrade(smtp)
            if self.user:
                smtp.login(self.user, self.password or "")
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise refusal("CONNECT", exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLError):
                log.error("ALERT: the SMTP relay cannot secure or authenticate the session: %s", exc)
                raise PermanentDeliveryError(f"SMTP session refused: {exc}", code="session") from exc
            raise TransientDeliveryError(
                f"SMTP session broke ({type(exc).__name__})", code="session"
            ) from exc
        return smtp

    def _upgrade(self, smtp: smtplib.SMTP) -> None:
        if not smtp.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError(
                "the relay does not offer STARTTLS, which DUNNING_EMAIL_STARTTLS requires"
            )
        smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
        smtp.ehlo()

    def _envelope(self, smtp: smtplib.SMTP, sender: str, recipient: str) -> None:
        """MAIL, RCPT and DATA's go-ahead: a break here means nothing was sent."""
        steps: tuple[tuple[str, Callable[[], tuple[int, bytes]], tuple[int, ...]], ...] = (
            ("MAIL", lambda: smtp.mail(sender), (250,)),
            ("RCPT", lambda: smtp.rcpt(recipient), (250, 251)),
            ("DATA", lambda: smtp.docmd("DATA"), (354,)),
        )
        try:
            for phase, step, accepted in steps:
                code, reply = step()
                if code not in accepted:
                    raise refusal(phase, code, reply)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(
                f"SMTP session broke before the message was sent ({type(exc).__name__})", code="session"
            ) from exc

    def _data(self, smtp: smtplib.SMTP, payload: bytes) -> str:
        """Send the message and its final dot; a break now leaves it maybe queued at the relay."""
        try:
            smtp.send(stuffed(payload))
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise AmbiguousDeliveryError(
                f"the SMTP relay may have queued the message ({type(exc).__name__} after DATA)",
                code="after_data",
            ) from exc
        if code != 250:
            raise refusal("DATA", code, reply)
        return reply.decode("utf-8", "replace")


def stuffed(payload: bytes) -> bytes:
    """The DATA body: CRLF line ends, leading dots doubled, and the terminating dot."""
    body = re.sub(rb"(?<!\r)\n", b"\r\n", payload)
    body = LEADING_DOT.sub(b"..", body)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def refusal(phase: str, code: int, reply: bytes | str) -> DeliveryError:
    """The delivery error an SMTP refusal means, by its code and the phase that drew it."""
    raw = reply if isinstance(reply, bytes) else reply.encode("utf-8", "replace")
    found = ENHANCED.match(raw)
    enhanced = found.group(1).decode() if found else ""
    code_text = enhanced or str(code)
    text = f"SMTP {phase} refused: {code} {raw.decode('utf-8', 'replace').strip()}"
    if 400 <= code < 500:
        return TransientDeliveryError(text, code=code_text)
    if enhanced.startswith("5.7.") or phase in ("CONNECT", "MAIL"):
        # Policy, authentication or the sender: nothing wrong with the debtor's address.
        log.error(
            "ALERT: the SMTP relay refused at %s (%s): check the relay's settings or the content",
            phase,
            code_text,
        )
        return PermanentDeliveryError(text, code=code_text)
    if phase == "RCPT" or enhanced.startswith("5.1."):
        return PermanentDeliveryError(text, code=code_text, invalidates="channel")
    return PermanentDeliveryError(text, code=code_text)


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
