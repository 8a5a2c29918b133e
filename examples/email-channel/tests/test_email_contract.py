"""The e-mail channel passes dunning's channel contract suite, against a real SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from dunning_email.channel import EmailChannel
from dunning_email.fake_smtp import ACCEPTED, UNKNOWN, FakeSmtp
from dunning_email.message import Envelope
from dunning_email.smtp import Relay

from dunning.core.channel import Channel, OutboundMessage
from dunning.testing.contract import ChannelContract, outbound


class TestEmailContract(ChannelContract):
    @pytest.fixture
    def offline_channel(self) -> Channel:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return EmailChannel(Relay("127.0.0.1", port, timeout=2), Envelope("r@anxin.example", "https://x"))

    @pytest.fixture
    def message(self) -> OutboundMessage:
        return outbound(EmailChannel, ACCEPTED, "mail-intent-1")

    @pytest.fixture
    def unreachable_message(self) -> OutboundMessage:
        return outbound(EmailChannel, UNKNOWN, "mail-intent-bad")

    @pytest.fixture
    def received(self, smtp: FakeSmtp) -> Callable[[str], int]:
        return smtp.count_for
