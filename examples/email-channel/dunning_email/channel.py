"""E-mail reminders over SMTP: multipart text and HTML, one-click unsubscribe, typed refusals.

Configured by its own ``DUNNING_EMAIL_*`` settings; the address is the
case's ``email`` contact point. The channel confirms an opt-out of e-mail
with one last e-mail (template ``opt_out_confirmation``), as dunning allows.
"""

from __future__ import annotations

import logging
import os
from types import MappingProxyType
from typing import Any

from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.errors import ConfigError, DeliveryError, PermanentDeliveryError, TransientDeliveryError
from dunning.core.outcome import StatusOutcome
from dunning.core.price import Price
from dunning_email.message import Envelope, build_message
from dunning_email.settings import EmailSettings
from dunning_email.smtp import Relay

__all__ = ["DSN_ACTIONS", "EmailChannel"]

log = logging.getLogger(__name__)

#: The ``Action`` of a delivery status notification (RFC 3464) and what it means,
#: for a bounce processor that reports DSNs through dunning's intake.
DSN_ACTIONS = MappingProxyType(
    {
        "delivered": StatusOutcome.DELIVERED,
        "relayed": StatusOutcome.ACCEPTED,
        "expanded": StatusOutcome.ACCEPTED,
        "delayed": StatusOutcome.ACCEPTED,
        "failed": StatusOutcome.FAILED,
    }
)


class EmailChannel(Channel):
    """One e-mail per reminder, handed to an SMTP relay."""

    name = "email"
    contact_kind = "email"
    kind = "other"
    queue = "dunning.email"
    template_parts = ("subject", "body", "html")
    settings_namespace = EmailSettings.namespace
    confirms_opt_out = True
    statuses = DSN_ACTIONS

    def __init__(self, relay: Relay, envelope: Envelope) -> None:
        self.relay = relay
        self.envelope = envelope

    @classmethod
    def from_settings(cls, settings: Any) -> EmailChannel | None:
        """Configured by ``DUNNING_EMAIL_HOST`` and ``DUNNING_EMAIL_FROM``; None without them."""
        own = EmailSettings.of(settings)
        if not own.host or not own.from_:
            return None
        if own.ca_file and not os.access(own.ca_file, os.R_OK):
            raise ConfigError(f"DUNNING_EMAIL_CA_FILE: cannot read {own.ca_file}")
        relay = Relay(
            own.host,
            own.port,
            starttls=own.starttls,
            ca_file=own.ca_file,
            user=own.user.get_secret_value() if own.user is not None else None,
            password=own.password.get_secret_value() if own.password is not None else None,
            timeout=own.timeout,
        )
        secret = own.unsubscribe_secret.get_secret_value() if own.unsubscribe_secret is not None else None
        envelope = Envelope(
            own.from_,
            public_url=str(getattr(settings, "public_url", "") or ""),
            reply_to=own.reply_to,
            unsubscribe_mailto=own.unsubscribe_mailto,
            unsubscribe_secret=secret or None,
        )
        return cls(relay, envelope)

    @classmethod
    def price(cls, settings: Any) -> Price:
        own = EmailSettings.of(settings)
        return Price(own.cost, own.cost_currency)

    def send(self, message: OutboundMessage) -> Receipt:
        try:
            mail = build_message(message, self.envelope)
            payload = mail.as_bytes()
        except (ValueError, TypeError, KeyError) as exc:
            raise PermanentDeliveryError(
                f"e-mail for intent {message.intent_id} cannot be built: {exc}", code="bad_message"
            ) from exc
        try:
            self.relay.send(self.envelope.sender, message.to, payload)
        except DeliveryError as exc:
            log.info(
                "e-mail to %s for intent %s failed: %s (%s)",
                mask_address(message.to),
                message.intent_id,
                type(exc).__name__,
                exc.code,
            )
            raise
        return Receipt(provider_id=str(mail["Message-ID"]), status="accepted")

    def status_error(self, code: str | None, status: str) -> DeliveryError | None:
        """A DSN's ``failed``: ``5.1.x`` proves the address unusable for e-mail; ``4.x.x`` is worth a retry."""
        if self.outcome_of(status) is not StatusOutcome.FAILED:
            return None
        text = f"the e-mail bounced ({code or 'no status'})"
        if (code or "").startswith("4."):
            return TransientDeliveryError(text, code=code)
        if (code or "").startswith("5.1."):
            return PermanentDeliveryError(text, code=code, invalidates="channel")
        return PermanentDeliveryError(text, code=code)

    def rate_key(self) -> str:
        """Relays limit senders per connection and account: one key per relay."""
        return f"email:{self.relay.host}:{self.relay.port}"
