"""Plugins own their settings: each its own DUNNING_<NAMESPACE>_* variables, validated with bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import Field, SecretStr

from dunning.channels.fcm_settings import FcmSettings
from dunning.channels.twilio_settings import TwilioSettings
from dunning.core.errors import ConfigError, DuplicateNameError, PluginError
from dunning.core.hookspecs import hookimpl
from dunning.core.plugins import make_registry
from dunning.core.runtime import build_runtime
from dunning.core.sections import SettingsSection, shown_values
from dunning.core.settings import Settings, load_settings


class Fax(SettingsSection):
    """A made-up provider's settings, as a third-party plugin would declare them."""

    namespace = "fax"

    host: str | None = None
    port: int = Field(default=9100, ge=1, le=65535)
    password: SecretStr | None = None
    from_: str | None = Field(default=None, alias="from")


class FaxPlugin:
    @hookimpl
    def dunning_register_settings(self, register):
        register(Fax)


def test_given_its_variables_in_the_environment_then_a_plugin_reads_its_own_section(monkeypatch):
    monkeypatch.setenv("DUNNING_FAX_HOST", "fax.example.com")
    monkeypatch.setenv("DUNNING_FAX_PORT", "9101")
    monkeypatch.setenv("DUNNING_FAX_FROM", "+14155550100")
    section = Fax.of(load_settings())
    assert (section.host, section.port, section.from_) == ("fax.example.com", 9101, "+14155550100")


def test_the_settings_file_is_read_and_the_environment_and_keywords_win_over_it(tmp_path, monkeypatch):
    # Given a settings file naming every value, the environment one, and a keyword another
    path = tmp_path / "dunning.env"
    path.write_text("DUNNING_FAX_HOST=file-host\nDUNNING_FAX_PORT=1\nDUNNING_FAX_FROM=+1000\n")
    monkeypatch.setenv("DUNNING_SETTINGS_FILE", str(path))
    monkeypatch.setenv("DUNNING_FAX_PORT", "2")
    section = Fax.of(load_settings(fax_from="+2000"))
    # Then the file fills in what nothing else says, as for the core's settings
    assert (section.host, section.port, section.from_) == ("file-host", 2, "+2000")


def test_a_value_out_of_bounds_is_an_error_naming_the_variable_and_never_the_value(monkeypatch):
    monkeypatch.setenv("DUNNING_FAX_PORT", "70000")
    monkeypatch.setenv("DUNNING_FAX_PASSWORD", "hunter2")
    with pytest.raises(ConfigError) as caught:
        Fax.of(load_settings())
    assert "DUNNING_FAX_PORT" in str(caught.value) and "70000" not in str(caught.value)


def test_a_bad_plugin_setting_stops_start_up_naming_the_variable(tmp_path, monkeypatch):
    # Given a runtime about to start with a plugin whose setting is out of bounds
    (tmp_path / "p.yaml").write_text("name: p\nsegments: [{name: d, ladder: l}]\nladders: {l: {steps: []}}\n")
    monkeypatch.setenv("DUNNING_FAX_PORT", "0")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", policy=str(tmp_path / "p.yaml"))
    # When it starts, Then it refuses, naming the variable
    with pytest.raises(ConfigError, match="DUNNING_FAX_PORT"):
        build_runtime(settings, registry=make_registry(extra=[FaxPlugin()]))


def test_secrets_are_masked_where_settings_are_shown():
    section = Fax.of(Settings(fax_password="hunter2", fax_host="h"))
    shown = shown_values(section)
    assert shown["DUNNING_FAX_PASSWORD"] == "**********"
    assert shown["DUNNING_FAX_HOST"] == "h" and shown["DUNNING_FAX_FROM"] is None
    assert "hunter2" not in repr(section) and "hunter2" not in str(shown)


def test_the_twilio_and_fcm_variables_deployments_already_set_keep_working(monkeypatch):
    # Given the variables every deployment has set so far, prices included
    for name, value in {
        "DUNNING_TWILIO_ACCOUNT_SID": "AC123",
        "DUNNING_TWILIO_FROM": "+14155550100",
        "DUNNING_TWILIO_RING_TIMEOUT": "25",
        "DUNNING_FCM_PROJECT_ID": "lender-app",
        "DUNNING_COST_SMS": "0.05",
        "DUNNING_COST_PUSH": "0.001",
        "DUNNING_COST_CURRENCY": "CNY",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    twilio, fcm = TwilioSettings.of(settings), FcmSettings.of(settings)
    # Then the plugins' sections read them
    assert (twilio.account_sid, twilio.from_, twilio.ring_timeout) == ("AC123", "+14155550100", 25)
    assert (twilio.sms_cost, twilio.cost_currency) == (Decimal("0.05"), "CNY")
    assert (fcm.project_id, fcm.cost, fcm.cost_currency) == ("lender-app", Decimal("0.001"), "CNY")
    # And the namespaced price wins over the older name when both are set
    monkeypatch.setenv("DUNNING_TWILIO_SMS_COST", "0.07")
    assert TwilioSettings.of(load_settings()).sms_cost == Decimal("0.07")


def test_the_core_settings_no_longer_hold_any_provider_field():
    fields = set(Settings.model_fields)
    assert not {f for f in fields if f.startswith(("twilio", "fcm", "cost_"))}, fields


def test_two_plugins_claiming_one_namespace_is_an_error_naming_both():
    class Other(SettingsSection):
        namespace = "fax"

    class OtherPlugin:
        @hookimpl
        def dunning_register_settings(self, register):
            register(Other)

    with pytest.raises(DuplicateNameError, match="'fax'"):
        make_registry(extra=[FaxPlugin(), OtherPlugin()])


def test_the_same_section_registered_by_two_channels_of_one_provider_is_fine():
    # sms and voice both register the Twilio settings
    registry = make_registry(["sms", "voice"])
    assert registry.settings["twilio"] is TwilioSettings
    assert registry.source_of("settings", "twilio") == "sms"


@pytest.mark.parametrize("namespace", ["api", "db", "tick", "Fax", "fax_x", ""])
def test_a_namespace_that_would_read_core_variables_or_is_malformed_is_refused(namespace):
    section = type("Bad", (SettingsSection,), {"namespace": namespace})

    class Plugin:
        @hookimpl
        def dunning_register_settings(self, register):
            register(section)

    with pytest.raises(PluginError, match="namespace"):
        make_registry(extra=[Plugin()])


def test_a_channel_reading_a_namespace_no_plugin_registers_fails_loudly():
    from dunning.core.channel import Channel, OutboundMessage, Receipt

    class Pager(Channel):
        name = "pager"
        settings_namespace = "pager"

        def send(self, message: OutboundMessage) -> Receipt:
            return Receipt("p-1")

    class PagerPlugin:
        @hookimpl
        def dunning_register_channels(self, register):
            register(Pager)

    with pytest.raises(PluginError, match=r"'pager'.*dunning_register_settings"):
        make_registry(extra=[PagerPlugin()])
