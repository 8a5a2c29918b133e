"""The gateway channel passes dunning's channel contract suite, against its own fake gateway."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from dunning_gateway.channel import GatewayChannel
from dunning_gateway.fake_gateway import FakeGateway

from dunning.core.channel import Channel, OutboundMessage
from dunning.testing.contract import ChannelContract, outbound

GOOD = "+8613800138000"
BAD = "+8613900000000"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as fake:
        fake.refuse(BAD, "invalid_number")
        yield fake


class TestGatewayContract(ChannelContract):
    @pytest.fixture
    def channel(self, gateway: FakeGateway) -> Channel:
        return GatewayChannel(gateway.endpoint, gateway.secret, timeout=2)

    @pytest.fixture
    def offline_channel(self) -> Channel:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return GatewayChannel(f"http://127.0.0.1:{port}/v1/sms", "secret", timeout=2)

    @pytest.fixture
    def message(self) -> OutboundMessage:
        return outbound(GatewayChannel, GOOD, "gw-intent-1")

    @pytest.fixture
    def unreachable_message(self) -> OutboundMessage:
        return outbound(GatewayChannel, BAD, "gw-intent-bad")

    @pytest.fixture
    def received(self, gateway: FakeGateway) -> Callable[[str], int]:
        return gateway.count_for
