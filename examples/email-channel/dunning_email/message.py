"""The MIME message of one reminder: plain text and HTML alternatives, and the headers mail programs act on.

``List-Unsubscribe`` always offers a ``mailto:``; with a signing secret it
also offers a one-click link, and ``List-Unsubscribe-Post`` says the link
takes RFC 8058's POST. ``Auto-Submitted`` keeps out-of-office replies away.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import quote

from dunning.core.channel import OutboundMessage
from dunning_email.unsubscribe import ONE_CLICK, unsubscribe_url

__all__ = ["Envelope", "build_message", "domain_of"]

#: The header that names the reminder, so that a bounce or a test can find its intent.
INTENT_HEADER = "X-Dunning-Intent"


@dataclass(frozen=True)
class Envelope:
    """Who sends and how debtors unsubscribe: what every message of a channel shares."""

    sender: str
    public_url: str
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    unsubscribe_secret: str | None = None


def domain_of(address: str) -> str:
    """The domain of an address (``Name <a@b>`` too), for Message-IDs."""
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


def build_message(message: OutboundMessage, envelope: Envelope) -> EmailMessage:
    """The e-mail of a rendered reminder; ``ValueError`` when a part or header cannot be one."""
    for part in ("subject", "body", "html"):
        if not message.parts.get(part):
            raise ValueError(f"an e-mail needs a non-empty {part!r} part")
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = envelope.sender
    mail["To"] = Address(addr_spec=message.to)
    mail["Subject"] = " ".join(message.parts["subject"].split())
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=domain_of(envelope.sender))
    mail["Auto-Submitted"] = "auto-generated"
    mail[INTENT_HEADER] = message.intent_id
    if envelope.reply_to:
        mail["Reply-To"] = envelope.reply_to
    _unsubscribe_headers(mail, message, envelope)
    mail.set_content(message.parts["body"])
    mail.add_alternative(message.parts["html"], subtype="html")
    mail["Content-Language"] = message.locale  # after the content: setting it clears Content-* headers
    return mail


def _unsubscribe_headers(mail: EmailMessage, message: OutboundMessage, envelope: Envelope) -> None:
    mailto = envelope.unsubscribe_mailto or parseaddr(envelope.sender)[1]
    targets = [f"<mailto:{mailto}?subject={quote('unsubscribe ' + message.intent_id)}>"]
    if envelope.unsubscribe_secret:
        link = unsubscribe_url(
            envelope.public_url, envelope.unsubscribe_secret, message.case_id, message.intent_id
        )
        targets.insert(0, f"<{link}>")
        mail["List-Unsubscribe-Post"] = ONE_CLICK
    mail["List-Unsubscribe"] = ", ".join(targets)
