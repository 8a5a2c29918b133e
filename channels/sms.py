"""SMS through Twilio's Messages API, with delivery statuses reported to our webhook.

An ambiguous send is reconciled by listing the texts Twilio holds for the
number (see :meth:`SmsChannel.reconcile`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from types import MappingProxyType
from typing import Any

from dunning.channels.twilio_common import (
    LIST_PAGE,
    TwilioAccount,
    callback_url,
    code_error,
    reconcile_by_listing,
)
from dunning.channels.twilio_settings import TwilioSettings
from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.errors import DeliveryError, PermanentDeliveryError
from dunning.core.hookspecs import hookimpl
from dunning.core.outcome import StatusOutcome
from dunning.core.price import Price
from dunning.core.sections import SettingsSection

__all__ = ["STATUS_PATH", "SmsChannel"]

log = logging.getLogger(__name__)

#: Where Twilio posts this channel's delivery statuses (under ``public_url``).
STATUS_PATH = "/webhooks/twilio/sms/status"
#: Twilio statuses that mean the text did not reach the handset.
FAILED_STATUSES = frozenset({"failed", "undelivered"})
#: Twilio's message statuses (its Messages API) and what each means.
STATUSES = MappingProxyType(
    {
        "queued": StatusOutcome.ACCEPTED,
        "accepted": StatusOutcome.ACCEPTED,
        "scheduled": StatusOutcome.ACCEPTED,
        "sending": StatusOutcome.ACCEPTED,
        "sent": StatusOutcome.ACCEPTED,
        "delivered": StatusOutcome.DELIVERED,
        "read": StatusOutcome.DELIVERED,
        "undelivered": StatusOutcome.FAILED,
        "failed": StatusOutcome.FAILED,
        "canceled": StatusOutcome.FAILED,
    }
)


class SmsChannel(Channel):
    """One text per reminder; Twilio's status callback later says whether it arrived."""

    name = "sms"
    contact_kind = "phone"
    kind = "text"
    template_parts = ("body",)
    settings_namespace = "twilio"
    confirms_opt_out = True
    statuses = STATUSES

    def __init__(
        self,
        twilio: TwilioAccount,
        *,
        public_url: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
    ) -> None:
        if not (from_ or messaging_service_sid):
            raise ValueError("an SMS channel needs a From number or a messaging service SID")
        self.twilio = twilio
        self.public_url = public_url
        self.from_ = from_
        self.messaging_service_sid = messaging_service_sid

    @classmethod
    def from_settings(cls, settings: Any) -> SmsChannel | None:
        """Configured by ``DUNNING_TWILIO_ACCOUNT_SID``, ``_AUTH_TOKEN`` and a sender."""
        own = TwilioSettings.of(settings)
        from_, service = own.from_, own.messaging_service_sid
        if not (from_ or service):
            return None
        twilio = TwilioAccount.from_settings(settings)
        if twilio is None:
            return None
        return cls(
            twilio,
            public_url=getattr(settings, "public_url", "http://127.0.0.1:8000"),
            from_=from_,
            messaging_service_sid=service,
        )

    @classmethod
    def price(cls, settings: Any) -> Price:
        """Twilio bills a text per segment: ``DUNNING_TWILIO_SMS_COST`` (or ``DUNNING_COST_SMS``)."""
        own = TwilioSettings.of(settings)
        return Price(own.sms_cost, own.cost_currency, "segment")

    def send(self, message: OutboundMessage) -> Receipt:
        body = message.parts.get("body")
        if not body:
            raise PermanentDeliveryError("an SMS needs a non-empty body part", code="no_body")
        sender: dict[str, str] = (
            {"messaging_service_sid": self.messaging_service_sid}
            if self.messaging_service_sid
            else {"from_": self.from_ or ""}
        )
        status_callback = callback_url(self.public_url, STATUS_PATH, message.intent_id)
        try:
            created = self.twilio.call(
                "messages.create",
                lambda: self.twilio.client.messages.create(
                    to=message.to, body=body, status_callback=status_callback, **sender
                ),
            )
        except DeliveryError as exc:
            log.info(
                "sms to %s for intent %s failed: %s (%s)",
                mask_address(message.to),
                message.intent_id,
                type(exc).__name__,
                exc.code,
            )
            raise
        return Receipt(provider_id=created.sid, status=str(created.status or "queued"))

    can_reconcile = True

    def reconcile(self, intent_id: str, to: str, since: datetime) -> Receipt | None:
        """Did Twilio take a text for ``to`` since ``since``? Its receipt if so, None if surely not.

        Two reads of the Messages list, by recipient: the texts sent on or
        after the day of ``since`` (Twilio filters ``DateSent`` by the day),
        and the newest page whatever their date, for a text still queued
        (it has no ``date_sent`` yet). Either read failing raises
        ``TransientDeliveryError``: the runtime asks again later.
        """
        messages = self.twilio.client.messages
        return reconcile_by_listing(
            self.twilio,
            "messages",
            intent_id,
            to,
            since,
            lambda day: [
                *messages.list(to=to, date_sent_after=day, page_size=LIST_PAGE),
                *messages.list(to=to, limit=LIST_PAGE),
            ],
        )

    def rate_key(self) -> str:
        """Twilio queues texts per sender: a number, or a messaging service's pool."""
        return f"twilio:{self.twilio.account_sid}:sms:{self.messaging_service_sid or self.from_}"

    def status_error(self, code: str | None, status: str) -> DeliveryError | None:
        """Type a failed or undelivered status callback by its ``ErrorCode``."""
        if status not in FAILED_STATUSES:
            return None
        message = f"Twilio reported the SMS {status} (error {code or 'none'})"
        typed = code_error(code, message)
        return typed if typed is not None else PermanentDeliveryError(message, code=code)

    def close(self) -> None:
        self.twilio.close()


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(SmsChannel)


@hookimpl
def dunning_register_settings(register: Callable[[type[SettingsSection]], None]) -> None:
    register(TwilioSettings)
