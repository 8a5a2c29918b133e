"""Voice calls through Twilio."""

from __future__ import annotations

from collections.abc import Callable

from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.errors import PermanentDeliveryError
from dunning.core.hookspecs import hookimpl


class VoiceChannel(Channel):
    name = "voice"
    contact_kind = "phone"
    kind = "call"

    @classmethod
    def from_settings(cls, settings: object) -> VoiceChannel | None:
        return None

    def send(self, message: OutboundMessage) -> Receipt:
        raise PermanentDeliveryError("voice is not configured")


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(VoiceChannel)
