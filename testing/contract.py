"""The channel contract suite: what every dunning channel must do, as pytest tests to inherit.

A channel author subclasses :class:`ChannelContract` in a test module (as
``TestMyChannel``) and provides four fixtures:

``channel``
    a configured instance talking to a fake provider;
``message``
    an :class:`~dunning.core.channel.OutboundMessage` to an address the fake accepts;
``unreachable_message``
    one to an address the fake refuses permanently (an invalid number, a dead token);
``received``
    a callable ``received(intent_id) -> int``: how many times the fake got that intent.

Optionally ``offline_channel``: the same channel pointed at a port where
nothing listens; it must answer with ``TransientDeliveryError`` (nothing was sent).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest

from dunning.core.channel import KINDS, Channel, ChannelSpec, OutboundMessage, Receipt
from dunning.core.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from dunning.core.settings import Settings
from dunning.testing.factories import make_case

__all__ = ["ChannelContract", "outbound"]

#: What a channel name may look like: it appears in policies, queue names and metrics.
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def outbound(channel: Channel | type[Channel], to: str, intent_id: str, **fields: Any) -> OutboundMessage:
    """A rendered message for ``channel`` with every template part filled in (for tests)."""
    parts = {part: f"dunning contract test: {part}" for part in channel.template_parts}
    message = OutboundMessage(
        intent_id=intent_id, case_id="C-contract", channel=channel.name, to=to, parts=parts
    )
    return dataclasses.replace(message, **fields) if fields else message


class ChannelContract:
    """Inherit in a ``Test*`` class and provide the fixtures the module docstring lists."""

    # ------------------------------------------------------------ spec

    def test_spec_names_a_channel_the_engine_can_use(self, channel: Channel) -> None:
        # Given a channel class, Then its spec is complete and well-formed for policies and queues
        cls = type(channel)
        spec = cls.spec()
        assert isinstance(spec, ChannelSpec)
        assert NAME.match(spec.name), f"channel name {spec.name!r} must be lower_snake_case"
        assert spec.contact_kind and isinstance(spec.contact_kind, str)
        assert spec.kind in KINDS, f"kind {spec.kind!r} is not one of {KINDS}"
        assert spec.queue_name and isinstance(spec.queue_name, str)
        assert cls.template_parts and all(isinstance(p, str) and p for p in cls.template_parts)

    def test_from_settings_is_a_classmethod_that_may_say_not_configured(self, channel: Channel) -> None:
        # Given default settings (nothing configured), When the channel is built, Then it is None or a channel
        built = type(channel).from_settings(Settings.model_construct())
        assert built is None or isinstance(built, type(channel))
        if built is not None:
            built.close()

    def test_address_reads_its_own_contact_point_of_a_case(
        self, channel: Channel, message: OutboundMessage
    ) -> None:
        # Given a case holding the address in the channel's contact kind, Then address() finds it
        kind = channel.contact_kind
        fields: dict[str, object] = {"phone": None, "push_token": None}
        if kind in ("phone", "push_token"):
            fields[kind] = message.to
        else:
            fields["contacts"] = {kind: message.to}
        assert channel.address(make_case(**fields)) == message.to
        # And a case without that contact point has no address for it
        assert channel.address(make_case(phone=None, push_token=None)) is None

    # ------------------------------------------------------------ send

    def test_send_returns_a_receipt_and_the_provider_gets_the_message_once(
        self, channel: Channel, message: OutboundMessage, received: Callable[[str], int]
    ) -> None:
        # When the message is sent, Then a Receipt with the provider's id comes back
        receipt = channel.send(message)
        assert isinstance(receipt, Receipt), f"send() returned {receipt!r}, not a Receipt"
        assert receipt.provider_id, "the receipt carries no provider id"
        assert isinstance(receipt.status, str) and receipt.status
        # And the provider received it exactly once
        assert received(message.intent_id) == 1

    def test_a_permanent_refusal_raises_permanent_delivery_error(
        self, channel: Channel, unreachable_message: OutboundMessage
    ) -> None:
        # When the provider refuses the address for good, Then send raises PermanentDeliveryError
        with pytest.raises(PermanentDeliveryError) as caught:
            channel.send(unreachable_message)
        assert str(caught.value), "the error says nothing"

    def test_a_malformed_message_is_a_delivery_error_not_a_crash(
        self, channel: Channel, message: OutboundMessage
    ) -> None:
        # Given a message missing its template parts, When it is sent, Then only a DeliveryError escapes
        broken = dataclasses.replace(message, intent_id=message.intent_id + "-broken", parts={})
        try:
            channel.send(broken)
        except DeliveryError:
            pass
        except Exception as exc:
            pytest.fail(f"send() let {type(exc).__name__} escape; translate it into a DeliveryError")

    def test_an_offline_provider_is_transient_because_nothing_was_sent(
        self, request: pytest.FixtureRequest, message: OutboundMessage
    ) -> None:
        # Given a provider where nothing listens, When sending, Then the error is transient (safe to retry)
        try:
            offline: Channel = request.getfixturevalue("offline_channel")
        except pytest.FixtureLookupError:
            pytest.skip("no offline_channel fixture")
        with pytest.raises(TransientDeliveryError):
            offline.send(message)

    # ------------------------------------------------------------ send_many

    def test_send_many_keeps_order_and_length_and_types_each_failure(
        self,
        channel: Channel,
        message: OutboundMessage,
        unreachable_message: OutboundMessage,
        received: Callable[[str], int],
    ) -> None:
        # Given good, refused and good messages, When sent together
        second = dataclasses.replace(message, intent_id=message.intent_id + "-2")
        results = channel.send_many([message, unreachable_message, second])
        # Then there is one result per message, in order, each a Receipt or a typed error
        assert len(results) == 3
        assert isinstance(results[0], Receipt)
        assert isinstance(results[1], PermanentDeliveryError)
        assert isinstance(results[2], Receipt)
        assert received(message.intent_id) == 1 and received(second.intent_id) == 1

    def test_send_many_of_nothing_is_nothing(self, channel: Channel) -> None:
        assert channel.send_many([]) == []
