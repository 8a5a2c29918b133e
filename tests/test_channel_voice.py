"""Voice calls through the real twilio SDK to the fake Twilio: TwiML, call options, keypress, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator

import pytest
from twilio.request_validator import RequestValidator

from dunning.channels.voice import VoiceChannel, twiml_for
from dunning.channels.voices import BUILT_IN, Voice, parse_voices, voice_speaking
from dunning.core.channel import OutboundMessage
from dunning.core.errors import (
    AmbiguousDeliveryError,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from dunning.core.settings import load_settings
from dunning.testing.fake_server import RecordingEndpoint

PHONE = "+8613800138000"
ZH = "王芳您好，您的账户尾号2233已逾期3天。承诺还款请按1，转人工客服请按2。"


def call(to: str = PHONE, locale: str = "zh-CN", body: str = ZH) -> OutboundMessage:
    return OutboundMessage("intent-v1", "C-1", "voice", to, {"body": body}, locale=locale)


@pytest.fixture
def webhooks() -> Iterator[RecordingEndpoint]:
    with RecordingEndpoint() as endpoint:
        yield endpoint


def make_channel(fake_twilio, **overrides) -> VoiceChannel:
    channel = VoiceChannel.from_settings(load_settings(**fake_twilio.settings(**overrides)))
    assert channel is not None
    return channel


@pytest.fixture
def channel(fake_twilio, webhooks) -> Iterator[VoiceChannel]:
    built = make_channel(fake_twilio, public_url=webhooks.url, twilio_machine_detection="Enable")
    yield built
    built.close()


def test_given_a_chinese_debtor_the_call_reads_the_reminder_in_mandarin_and_gathers_one_key(
    channel, fake_twilio, webhooks
):
    receipt = channel.send(call())
    [record] = fake_twilio.calls
    assert receipt.provider_id == record.sid and record.sid.startswith("CA")
    twiml = ElementTree.fromstring(record.twiml)
    gather = twiml.find("Gather")
    assert gather is not None
    assert gather.get("action") == (
        f"{webhooks.url}/webhooks/twilio/voice/gather?intent_id=intent-v1&locale=zh-CN"
    )
    assert (gather.get("input"), gather.get("numDigits"), gather.get("method")) == ("dtmf", "1", "POST")
    # Read by a voice that speaks Mandarin: Twilio's default voice would be silent on Chinese text
    prompt = gather.find("Say")
    assert prompt is not None and prompt.text == ZH
    assert (prompt.get("voice"), prompt.get("language")) == ("Polly.Zhiyu", "cmn-CN")
    # Then, without a key, a closing line in the same language and voice, and a hang-up
    closing = twiml.findall("Say")
    assert len(closing) == 1 and closing[0].text == "未收到您的按键，再见。"
    assert (closing[0].get("voice"), closing[0].get("language")) == ("Polly.Zhiyu", "cmn-CN")
    assert twiml[-1].tag == "Hangup"


@pytest.mark.parametrize(
    ("locale", "voice"),
    [
        ("zh-CN", Voice("Polly.Zhiyu", "cmn-CN")),
        ("zh", Voice("Polly.Zhiyu", "cmn-CN")),
        ("zh_cn", Voice("Polly.Zhiyu", "cmn-CN")),
        ("en", Voice("Polly.Joanna", "en-US")),
        ("en-US", Voice("Polly.Joanna", "en-US")),
        ("en-GB", Voice("Polly.Amy", "en-GB")),
        # no voice speaks French: the English template it falls back to is read in English
        ("fr", Voice("Polly.Joanna", "en-US")),
    ],
)
def test_given_a_debtors_locale_the_call_is_read_by_a_voice_speaking_its_language(locale, voice):
    assert voice_speaking(locale, BUILT_IN) == voice


def test_given_voices_set_by_the_operator_every_say_of_the_call_uses_them():
    # Given DUNNING_TWILIO_VOICES overriding Mandarin and adding French
    voices = parse_voices("zh-CN=Polly.Zhiyu-Neural, fr=Polly.Lea:fr-FR")
    # When a French and a Chinese call are built
    for locale, expected in (("fr", ("Polly.Lea", "fr-FR")), ("zh-CN", ("Polly.Zhiyu-Neural", "cmn-CN"))):
        message = call(locale=locale, body="Bonjour")
        says = ElementTree.fromstring(twiml_for(message, "http://127.0.0.1/g", voices)).iter("Say")
        # Then the reminder is read by the chosen voice, in its language; no Say goes without one
        prompt, closing = list(says)
        assert (prompt.get("voice"), prompt.get("language")) == expected
        assert closing.get("voice") and closing.get("language")
    # And a French call, which has no closing text of its own, closes in English with an English voice
    closing = list(ElementTree.fromstring(twiml_for(call(locale="fr"), "http://x/g", voices)).iter("Say"))[1]
    assert (closing.text, closing.get("voice")) == (
        "We did not receive a key press. Goodbye.",
        "Polly.Joanna",
    )


def test_a_google_voice_names_its_own_language_and_a_region_locale_is_its_own_language():
    voices = parse_voices("zh-TW=Google.cmn-TW-Standard-A,es-MX=Polly.Mia")
    assert voices["zh-TW"] == Voice("Google.cmn-TW-Standard-A", "cmn-TW")
    assert voices["es-MX"] == Voice("Polly.Mia", "es-MX")
    assert voices["en"] == BUILT_IN["en"]  # the built-in ones stay


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("zh-CN", "is not LOCALE=VOICE"),
        ("zh-CN=", "is not LOCALE=VOICE"),
        ("=Polly.Zhiyu", "is not LOCALE=VOICE"),
        ("zh CN=Polly.Zhiyu", "is not a locale"),
        ("zh-CN=Polly Zhiyu", "is not a Twilio voice name"),
        ("fr=Polly.Lea", "say which language Polly.Lea speaks"),
        ("fr=Polly.Lea:French", "is not a language code"),
        ("en=Polly.Joanna,EN=Polly.Matthew", "given twice"),
    ],
)
def test_a_malformed_voices_setting_is_a_config_error_naming_it(fake_twilio, setting, says):
    # When the channel is built from a malformed DUNNING_TWILIO_VOICES, Then start-up fails, saying why
    with pytest.raises(ConfigError) as caught:
        make_channel(fake_twilio, twilio_voices=setting)
    assert str(caught.value).startswith("DUNNING_TWILIO_VOICES: ") and says in str(caught.value)


def test_the_call_asks_for_progress_callbacks_rings_for_the_set_time_and_detects_machines(
    fake_twilio, webhooks
):
    channel = make_channel(
        fake_twilio, public_url=webhooks.url, twilio_ring_timeout=25, twilio_machine_detection="Enable"
    )
    channel.send(call(locale="en", body="Hello, please press 1."))
    [record] = fake_twilio.calls
    assert record.status_callback == f"{webhooks.url}/webhooks/twilio/voice/status?intent_id=intent-v1"
    assert record.status_events == ("initiated", "ringing", "answered", "completed")
    assert record.params["Timeout"] == "25"
    assert record.params["MachineDetection"] == "Enable"
    assert record.params["From"] == fake_twilio.from_


def test_without_machine_detection_set_none_is_requested(fake_twilio):
    make_channel(fake_twilio).send(call())
    assert "MachineDetection" not in fake_twilio.calls[0].params


@pytest.mark.parametrize(
    ("setting", "sent"),
    [("enable", "Enable"), ("ENABLE", "Enable"), (" detectmessageend ", "DetectMessageEnd")],
)
def test_machine_detection_is_sent_in_twilios_own_spelling_whatever_the_case_of_the_setting(
    fake_twilio, setting, sent
):
    make_channel(fake_twilio, twilio_machine_detection=setting).send(call())
    assert fake_twilio.calls[0].params["MachineDetection"] == sent


@pytest.mark.parametrize("setting", ["true", "yes", "Enabled", "1"])
def test_a_machine_detection_value_twilio_refuses_is_a_config_error_naming_the_setting(fake_twilio, setting):
    # Given DUNNING_TWILIO_MACHINE_DETECTION=true (Twilio accepts only Enable or DetectMessageEnd)
    with pytest.raises(ConfigError) as caught:
        make_channel(fake_twilio, twilio_machine_detection=setting)
    # Then the channel is never built, and the operator learns which setting and what to write
    assert "DUNNING_TWILIO_MACHINE_DETECTION" in str(caught.value)
    assert "Enable or DetectMessageEnd" in str(caught.value)
    assert fake_twilio.requests == []


def test_a_messaging_service_cannot_place_calls(fake_twilio):
    settings = load_settings(
        **fake_twilio.settings(twilio_from=None, twilio_messaging_service_sid="MG" + "1" * 32)
    )
    assert VoiceChannel.from_settings(settings) is None


def test_an_answered_call_with_keypress_reports_progress_and_digits_signed(channel, fake_twilio, webhooks):
    # Given the debtor answers and presses 1
    fake_twilio.on_call(PHONE, "completed", answered_by="human", digits="1", duration=31)
    receipt = channel.send(call())
    requests = webhooks.wait_for(5)
    validator = RequestValidator(fake_twilio.auth_token)
    for request in requests:
        form = {k: v[0] for k, v in request.form().items()}
        assert validator.validate(webhooks.full_url(request), form, request.header("X-Twilio-Signature"))
        assert request.query["intent_id"] == ["intent-v1"] and form["CallSid"] == receipt.provider_id
    paths = [r.path for r in requests]
    statuses = [r.form().get("CallStatus", [""])[0] for r in requests]
    assert paths == ["/webhooks/twilio/voice/status"] * 3 + ["/webhooks/twilio/voice/gather"] + [
        "/webhooks/twilio/voice/status"
    ]
    assert statuses == ["initiated", "ringing", "in-progress", "in-progress", "completed"]
    # Each status callback carries its SequenceNumber, as Twilio numbers a call's progress events
    sequences = [r.form().get("SequenceNumber", [None])[0] for r in requests]
    assert sequences == ["0", "1", "2", None, "3"]
    assert requests[3].form()["Digits"] == ["1"]
    assert requests[2].form()["AnsweredBy"] == ["human"]
    assert requests[4].form()["CallDuration"] == ["31"]


@pytest.mark.parametrize("outcome", ["busy", "no-answer"])
def test_a_call_not_picked_up_ends_with_its_status_and_is_no_delivery_error(
    channel, fake_twilio, webhooks, outcome
):
    fake_twilio.on_call(PHONE, outcome)
    channel.send(call())
    last = webhooks.wait_for(3)[-1]
    assert last.form()["CallStatus"] == [outcome]
    assert channel.status_error(None, outcome) is None


def test_a_failed_call_to_an_invalid_number_invalidates_the_number(channel):
    error = channel.status_error("13224", "failed")
    assert isinstance(error, PermanentDeliveryError) and error.invalidates == "address"
    assert isinstance(channel.status_error(None, "failed"), PermanentDeliveryError)


def test_a_keypress_can_be_simulated_after_the_call_started(channel, fake_twilio, webhooks):
    receipt = channel.send(call())
    assert fake_twilio.press(receipt.provider_id, "2") == 204
    [request] = webhooks.received
    assert request.path == "/webhooks/twilio/voice/gather" and request.form()["Digits"] == ["2"]


def test_an_invalid_number_is_refused_permanently(channel, fake_twilio):
    fake_twilio.fail(PHONE, 21211)
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(call())
    assert (caught.value.code, caught.value.invalidates) == ("21211", "address")


def test_a_malformed_number_is_refused_by_twilio_as_invalid(channel):
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(call(to="13800138000"))
    assert caught.value.invalidates == "address"


def test_rate_limited_calls_are_transient(channel, fake_twilio):
    fake_twilio.rate_limit(retry_after=3)
    with pytest.raises(TransientDeliveryError) as caught:
        channel.send(call())
    assert caught.value.retry_after == 3.0


def test_a_call_request_answered_too_late_is_ambiguous_and_placed_once(fake_twilio):
    channel = make_channel(fake_twilio, twilio_timeout=0.3)
    fake_twilio.slow(1.0)
    with pytest.raises(AmbiguousDeliveryError):
        channel.send(call())
    # Calling again could ring the debtor twice: the call must not be blindly retried
    assert fake_twilio.count_for("intent-v1") == 1
