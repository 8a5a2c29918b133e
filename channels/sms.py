"""SMS through Twilio's Messages API."""

from __future__ import annotations

from collections.abc import Callable

from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.errors import PermanentDeliveryError
from dunning.core.hookspecs import hookimpl


class SmsChannel(Channel):
    name = "sms"
    contact_kind = "phone"
    kind = "text"

    @classmethod
    def from_settings(cls, settings: object) -> SmsChannel | None:
        return None

    def send(self, message: OutboundMessage) -> Receipt:
        raise PermanentDeliveryError("sms is not configured")


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(SmsChannel)
