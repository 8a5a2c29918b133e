"""Push through Firebase Cloud Messaging."""

from __future__ import annotations

from collections.abc import Callable

from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.errors import PermanentDeliveryError
from dunning.core.hookspecs import hookimpl


class PushChannel(Channel):
    name = "push"
    contact_kind = "push_token"
    kind = "push"

    @classmethod
    def from_settings(cls, settings: object) -> PushChannel | None:
        return None

    def send(self, message: OutboundMessage) -> Receipt:
        raise PermanentDeliveryError("push is not configured")


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(PushChannel)
