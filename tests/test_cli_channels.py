"""``dunning channels list`` and ``dunning channels test`` as an operator runs them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dunning.core.cli import cli

PHONE = "+8613800138000"


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def env_for(settings: dict[str, object]) -> dict[str, str]:
    """The ``DUNNING_*`` environment an operator would set for these settings."""
    return {f"DUNNING_{key.upper()}": str(value) for key, value in settings.items() if value is not None}


@pytest.fixture
def configured(fake_twilio, fake_fcm, fcm_service_account) -> dict[str, str]:
    return env_for({**fake_twilio.settings(), **fake_fcm.settings(fcm_service_account)})


def test_list_shows_every_channel_with_its_plugin_queue_kind_and_contact_point():
    result = run("channels", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert {"sms", "push", "voice"} <= set(rows)
    details = rows["sms"].pop("details")
    assert rows["sms"] == {
        "name": "sms",
        "plugin": "sms",
        "queue": "dunning.sms",
        "kind": "text",
        "contact_kind": "phone",
        "configured": False,
        "problem": "",
    }
    assert (rows["voice"]["kind"], rows["push"]["contact_kind"]) == ("call", "push_token")
    # And its settings are listed by variable, none set here
    assert details["settings"]["DUNNING_TWILIO_AUTH_TOKEN"] is None
    assert details["settings"]["DUNNING_TWILIO_BASE_URL"] == "https://api.twilio.com"


def test_list_shows_each_channels_settings_by_variable_with_secrets_masked(configured):
    # Given Twilio and FCM configured through their DUNNING_TWILIO_* and DUNNING_FCM_* variables
    result = run("channels", "list", "--json", env=configured)
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    # Then each channel shows its own namespace, the values an operator set
    sms, push = rows["sms"]["details"]["settings"], rows["push"]["details"]["settings"]
    assert sms["DUNNING_TWILIO_FROM"] == configured["DUNNING_TWILIO_FROM"]
    assert push["DUNNING_FCM_PROJECT_ID"] == configured["DUNNING_FCM_PROJECT_ID"]
    assert not any(key.startswith("DUNNING_FCM") for key in sms)
    # And the auth token is masked, in JSON and in the table alike
    assert sms["DUNNING_TWILIO_AUTH_TOKEN"] == "**********"
    table = run("channels", "list", env=configured).stdout
    for output in (result.stdout, table):
        assert configured["DUNNING_TWILIO_AUTH_TOKEN"] not in output
    assert "DUNNING_TWILIO_AUTH_TOKEN=**********" in table


def test_a_bad_channel_setting_is_shown_naming_its_variable():
    # Given a ring timeout Twilio would refuse
    result = run("channels", "list", "--json", env={"DUNNING_TWILIO_RING_TIMEOUT": "2"})
    voice = next(row for row in map(json.loads, result.stdout.splitlines()) if row["name"] == "voice")
    # Then the voice channel is not configured, and the problem names the variable
    assert voice["configured"] is False
    assert "DUNNING_TWILIO_RING_TIMEOUT" in voice["problem"]


def test_list_shows_the_voice_that_reads_each_locale_with_the_operators_overrides():
    # Given DUNNING_TWILIO_VOICES replacing the English voice and adding French
    env = {"DUNNING_TWILIO_VOICES": "en=Polly.Matthew,fr=Polly.Lea:fr-FR"}
    result = run("channels", "list", "--json", env=env)
    voice = next(row for row in map(json.loads, result.stdout.splitlines()) if row["name"] == "voice")
    # Then the operator sees, per locale, the voice and the language it speaks
    assert voice["details"]["voices"] == {
        "en": "Polly.Matthew (en-US)",
        "en-GB": "Polly.Amy (en-GB)",
        "fr": "Polly.Lea (fr-FR)",
        "zh": "Polly.Zhiyu (cmn-CN)",
    }
    # And the table for people shows them too
    table = run("channels", "list", env=env).stdout
    assert "zh=Polly.Zhiyu (cmn-CN)" in table and "fr=Polly.Lea (fr-FR)" in table


def test_a_malformed_voice_setting_shows_as_the_voice_channels_problem(configured):
    env = {**configured, "DUNNING_TWILIO_VOICES": "zh-CN:Polly.Zhiyu"}
    result = run("channels", "list", "--json", env=env)
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert not rows["voice"]["configured"]
    assert rows["voice"]["problem"].startswith("ConfigError: DUNNING_TWILIO_VOICES: 'zh-CN:Polly.Zhiyu'")
    assert rows["sms"]["configured"]  # the other Twilio channel is not held back by it


def test_a_machine_detection_twilio_refuses_makes_channels_test_voice_fail_naming_it(configured, fake_twilio):
    env = {**configured, "DUNNING_TWILIO_MACHINE_DETECTION": "true"}
    result = run("channels", "test", "voice", "--to", PHONE, env=env)
    assert result.exit_code == 1
    assert "DUNNING_TWILIO_MACHINE_DETECTION" in result.stderr and fake_twilio.calls == []


def test_given_provider_settings_list_says_the_channels_are_configured(configured):
    result = run("channels", "list", "--json", env=configured)
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["sms"]["configured"] and rows["voice"]["configured"] and rows["push"]["configured"]


def test_list_as_a_table_for_people(configured):
    result = run("channels", "list", env=configured)
    assert result.exit_code == 0
    for word in ("channel", "plugin", "queue", "configured", "dunning.voice", "push_token", "yes"):
        assert word in result.stdout


def test_a_broken_credentials_file_shows_as_not_configured_with_the_reason(tmp_path):
    bad = tmp_path / "sa.json"
    bad.write_text("{}")
    result = run("channels", "list", "--json", env={"DUNNING_FCM_CREDENTIALS": str(bad)})
    push = next(row for row in map(json.loads, result.stdout.splitlines()) if row["name"] == "push")
    assert not push["configured"] and push["problem"].startswith("ConfigError")


def test_channels_test_sends_one_message_and_prints_the_provider_id(configured, fake_twilio):
    result = run("channels", "test", "sms", "--to", PHONE, env=configured)
    assert result.exit_code == 0, result.output
    [message] = fake_twilio.messages
    assert f"provider id {message.sid}, status queued" in result.stdout
    assert "+86*******8000" in result.stdout and PHONE not in result.stdout
    assert "test message from dunning" in (message.body or "")


def test_channels_test_in_chinese_through_push(configured, fake_fcm):
    result = run("channels", "test", "push", "--to", "tok:APA91bTest", "--locale", "zh-CN", env=configured)
    assert result.exit_code == 0, result.output
    [record] = fake_fcm.messages
    assert record.notification["title"] == "dunning 测试"
    assert f"provider id {record.name}" in result.stdout


def test_a_refused_test_prints_the_error_class_code_and_message_and_fails(configured, fake_twilio):
    fake_twilio.fail(PHONE, 21211)
    result = run("channels", "test", "voice", "--to", PHONE, env=configured)
    assert result.exit_code == 1
    assert "PermanentDeliveryError: code=21211:" in result.stderr
    assert "not a valid phone number" in result.stderr
    assert "the address is unusable" in result.stderr


def test_a_rate_limited_test_says_when_to_retry(configured, fake_twilio):
    fake_twilio.rate_limit(retry_after=30)
    result = run("channels", "test", "sms", "--to", PHONE, env=configured)
    assert result.exit_code == 1
    assert "TransientDeliveryError: code=20429" in result.stderr and "retry after 30 s" in result.stderr


def test_testing_an_unknown_or_unconfigured_channel_is_a_clear_error():
    result = run("channels", "test", "pager", "--to", PHONE)
    assert result.exit_code == 1 and "no channel 'pager' is installed" in result.stderr
    result = run("channels", "test", "sms", "--to", PHONE)
    assert result.exit_code == 1 and "channel 'sms' is not configured" in result.stderr
