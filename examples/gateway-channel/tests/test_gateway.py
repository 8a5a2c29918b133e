"""What the gateway channel adds to the contract: its settings, its signature, its error typing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from dunning_gateway.channel import GatewayChannel
from dunning_gateway.fake_gateway import FakeGateway

from dunning.core.cli import cli
from dunning.core.errors import (
    AmbiguousDeliveryError,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from dunning.core.plugins import make_registry
from dunning.core.settings import load_settings
from dunning.testing.contract import outbound

PHONE = "+8613800138000"
#: The example policy: texts through the gateway first.
POLICY = Path(__file__).resolve().parent.parent / "policy.yaml"


@pytest.fixture
def gateway():
    with FakeGateway() as fake:
        yield fake


def test_the_channel_is_registered_through_the_dunning_entry_point():
    registry = make_registry()
    assert registry.channels["gateway"] is GatewayChannel
    assert registry.source_of("channel", "gateway") == "gateway"
    assert GatewayChannel.spec().queue_name == "dunning.gateway"


def test_it_is_configured_by_its_own_environment_variables(gateway, monkeypatch):
    assert GatewayChannel.from_settings(load_settings()) is None
    for key, value in gateway.env().items():
        monkeypatch.setenv(key, value)
    channel = GatewayChannel.from_settings(load_settings())
    assert channel is not None and channel.url == gateway.endpoint
    assert channel.send(outbound(GatewayChannel, PHONE, "env-1")).provider_id


def test_a_timeout_out_of_bounds_is_refused_naming_its_variable(monkeypatch):
    monkeypatch.setenv("DUNNING_GATEWAY_TIMEOUT", "0")
    with pytest.raises(ConfigError, match="DUNNING_GATEWAY_TIMEOUT"):
        GatewayChannel.from_settings(load_settings())


def test_its_templates_come_with_the_package_through_the_templates_hook():
    library = make_registry().templates()
    assert library.locales("gateway", "overdue_notice") == ["en", "zh-CN"]
    assert library.exists("gateway", "overdue_firm", "zh-CN")


def test_policy_check_passes_with_gateway_steps():
    # Given the example policy whose ladders text through the gateway
    result = CliRunner().invoke(cli, ["policy", "check", str(POLICY)], env={})
    # Then it checks, and each gateway template renders with its SMS shape
    assert result.exit_code == 0, result.output
    assert "gateway/overdue_notice.zh-CN.j2: UCS-2" in result.output
    assert f"{POLICY}: ok" in result.output


def test_a_wrong_secret_is_refused_permanently(gateway):
    channel = GatewayChannel(gateway.endpoint, "not-the-secret", timeout=2)
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(outbound(GatewayChannel, PHONE, "sig-1"))
    assert caught.value.code == "bad_signature" and gateway.records == []


def test_an_opted_out_number_records_the_opt_out(gateway):
    gateway.refuse(PHONE, "opted_out")
    with pytest.raises(PermanentDeliveryError) as caught:
        GatewayChannel(gateway.endpoint, gateway.secret).send(outbound(GatewayChannel, PHONE, "o-1"))
    assert caught.value.opt_out


def test_an_outage_is_transient_with_retry_after(gateway):
    gateway.outage(503, retry_after=4)
    with pytest.raises(TransientDeliveryError) as caught:
        GatewayChannel(gateway.endpoint, gateway.secret).send(outbound(GatewayChannel, PHONE, "t-1"))
    assert caught.value.retry_after == 4.0


def test_an_answer_too_late_is_ambiguous_and_the_gateway_has_the_text_once(gateway):
    gateway.slow(1.0)
    channel = GatewayChannel(gateway.endpoint, gateway.secret, timeout=0.3)
    with pytest.raises(AmbiguousDeliveryError):
        channel.send(outbound(GatewayChannel, PHONE, "slow-1"))
    assert gateway.count_for("slow-1") == 1
