"""The built-in channels pass the same contract suite that third-party channels inherit."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from dunning.channels.push import PushChannel
from dunning.channels.sms import SmsChannel
from dunning.channels.voice import VoiceChannel
from dunning.core.channel import Channel, OutboundMessage
from dunning.core.settings import load_settings
from dunning.testing.contract import ChannelContract, outbound

GOOD_PHONE = "+8613800138000"
BAD_PHONE = "+8613900000000"
GOOD_TOKEN = "eXaMpLe:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"
DEAD_TOKEN = "dead:APA91bDeadTokenDeadTokenDeadTokenDead"


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _closing(channel: Channel | None) -> Iterator[Channel]:
    assert channel is not None, "the channel should be configured by the fake's settings"
    yield channel
    channel.close()


class TestSmsContract(ChannelContract):
    @pytest.fixture
    def channel(self, fake_twilio) -> Iterator[Channel]:
        fake_twilio.fail(BAD_PHONE, 21211)
        yield from _closing(SmsChannel.from_settings(load_settings(**fake_twilio.settings())))

    @pytest.fixture
    def offline_channel(self, fake_twilio) -> Iterator[Channel]:
        settings = load_settings(**fake_twilio.settings(twilio_base_url=closed_port_url()))
        yield from _closing(SmsChannel.from_settings(settings))

    @pytest.fixture
    def message(self) -> OutboundMessage:
        return outbound(SmsChannel, GOOD_PHONE, "intent-sms-1")

    @pytest.fixture
    def unreachable_message(self) -> OutboundMessage:
        return outbound(SmsChannel, BAD_PHONE, "intent-sms-bad")

    @pytest.fixture
    def received(self, fake_twilio) -> Callable[[str], int]:
        return fake_twilio.count_for


class TestVoiceContract(ChannelContract):
    @pytest.fixture
    def channel(self, fake_twilio) -> Iterator[Channel]:
        fake_twilio.fail(BAD_PHONE, 21211)
        yield from _closing(VoiceChannel.from_settings(load_settings(**fake_twilio.settings())))

    @pytest.fixture
    def offline_channel(self, fake_twilio) -> Iterator[Channel]:
        settings = load_settings(**fake_twilio.settings(twilio_base_url=closed_port_url()))
        yield from _closing(VoiceChannel.from_settings(settings))

    @pytest.fixture
    def message(self) -> OutboundMessage:
        return outbound(VoiceChannel, GOOD_PHONE, "intent-voice-1")

    @pytest.fixture
    def unreachable_message(self) -> OutboundMessage:
        return outbound(VoiceChannel, BAD_PHONE, "intent-voice-bad")

    @pytest.fixture
    def received(self, fake_twilio) -> Callable[[str], int]:
        return fake_twilio.count_for


class TestPushContract(ChannelContract):
    @pytest.fixture
    def channel(self, fake_fcm, fcm_service_account) -> Iterator[Channel]:
        fake_fcm.fail(DEAD_TOKEN, "UNREGISTERED")
        yield from _closing(
            PushChannel.from_settings(load_settings(**fake_fcm.settings(fcm_service_account)))
        )

    @pytest.fixture
    def offline_channel(self, fake_fcm, fcm_service_account) -> Iterator[Channel]:
        settings = load_settings(**fake_fcm.settings(fcm_service_account, fcm_base_url=closed_port_url()))
        yield from _closing(PushChannel.from_settings(settings))

    @pytest.fixture
    def message(self) -> OutboundMessage:
        return outbound(PushChannel, GOOD_TOKEN, "intent-push-1")

    @pytest.fixture
    def unreachable_message(self) -> OutboundMessage:
        return outbound(PushChannel, DEAD_TOKEN, "intent-push-bad")

    @pytest.fixture
    def received(self, fake_fcm) -> Callable[[str], int]:
        return fake_fcm.count_for
