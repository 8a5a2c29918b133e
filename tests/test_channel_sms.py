"""SMS through the real twilio SDK to the fake Twilio: what is sent, and how each failure is typed."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from dunning.channels.sms import SmsChannel
from dunning.core.channel import OutboundMessage
from dunning.core.errors import AmbiguousDeliveryError, PermanentDeliveryError, TransientDeliveryError
from dunning.core.settings import load_settings
from dunning.testing.fake_server import RecordingEndpoint

PHONE = "+8613800138000"


def sms(
    to: str = PHONE, intent_id: str = "intent-1", body: str = "您好，请于12月4日前还款。回T退订"
) -> OutboundMessage:
    return OutboundMessage(intent_id, "C-1", "sms", to, {"body": body}, locale="zh-CN")


@pytest.fixture
def webhooks() -> Iterator[RecordingEndpoint]:
    with RecordingEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def channel(fake_twilio, webhooks) -> Iterator[SmsChannel]:
    built = SmsChannel.from_settings(load_settings(**fake_twilio.settings(public_url=webhooks.url)))
    assert built is not None
    yield built
    built.close()


def test_given_a_chinese_reminder_when_sent_then_twilio_gets_it_with_a_status_callback_for_the_intent(
    channel, fake_twilio, webhooks
):
    receipt = channel.send(sms())
    [record] = fake_twilio.messages
    assert receipt.provider_id == record.sid and record.sid.startswith("SM")
    assert receipt.status == "queued"
    assert (record.to, record.from_, record.body) == (PHONE, fake_twilio.from_, sms().body)
    assert record.status_callback == f"{webhooks.url}/webhooks/twilio/sms/status?intent_id=intent-1"
    assert record.intent_id == "intent-1"
    # And the SDK authenticated with the account's SID and token (the fake refuses anything else)
    assert fake_twilio.requests[0].header("Authorization").startswith("Basic ")


def test_given_a_messaging_service_when_sent_then_twilio_picks_the_sender(fake_twilio):
    settings = load_settings(
        **fake_twilio.settings(twilio_from=None, twilio_messaging_service_sid="MG" + "1" * 32)
    )
    channel = SmsChannel.from_settings(settings)
    assert channel is not None
    receipt = channel.send(sms())
    [record] = fake_twilio.messages
    assert record.params["MessagingServiceSid"] == "MG" + "1" * 32 and record.from_ is None
    assert receipt.status == "accepted"


@pytest.mark.parametrize(
    "missing",
    [
        {"twilio_account_sid": None},
        {"twilio_auth_token": None},
        {"twilio_from": None, "twilio_messaging_service_sid": None},
    ],
)
def test_without_sid_token_or_sender_sms_is_not_configured(fake_twilio, missing):
    assert SmsChannel.from_settings(load_settings(**fake_twilio.settings(**missing))) is None


@pytest.mark.parametrize(
    ("code", "invalidates", "opt_out"),
    [
        (21211, "address", False),  # invalid To: the number is no good for any channel
        (21610, None, True),  # the debtor texted STOP
        (21614, "channel", False),  # not a mobile number
        (21635, "channel", False),  # a landline
        (21408, None, False),  # any other refusal: permanent, nothing invalidated
    ],
)
def test_twilio_refusals_are_permanent_and_say_what_they_invalidate(
    channel, fake_twilio, code, invalidates, opt_out
):
    fake_twilio.fail(PHONE, code)
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(sms())
    assert caught.value.code == str(code)
    assert (caught.value.invalidates, caught.value.opt_out) == (invalidates, opt_out)
    assert fake_twilio.count_for("intent-1") == 0


def test_a_problem_details_refusal_is_typed_like_a_classic_one(channel, fake_twilio):
    # Given Twilio answers in RFC 9457 shape (TwilioServiceException, not a TwilioRestException)
    fake_twilio.fail(PHONE, 21211, problem_details=True)
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(sms())
    assert (caught.value.code, caught.value.invalidates) == ("21211", "address")


def test_rate_limited_is_transient_with_twilios_retry_after(channel, fake_twilio):
    fake_twilio.rate_limit(retry_after=7)
    with pytest.raises(TransientDeliveryError) as caught:
        channel.send(sms())
    assert (caught.value.code, caught.value.retry_after) == ("20429", 7.0)
    # And the SDK did not retry by itself: one request, then the runtime decides
    assert len(fake_twilio.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_twilio_server_error_is_transient(channel, fake_twilio, status):
    fake_twilio.outage(status)
    with pytest.raises(TransientDeliveryError):
        channel.send(sms())
    # When the outage is over, Then the same message goes through
    assert channel.send(sms()).provider_id


def test_an_outage_for_a_period_fails_every_send_until_it_ends(channel, fake_twilio):
    fake_twilio.outage(503, seconds=0.3)
    for _ in range(2):
        with pytest.raises(TransientDeliveryError):
            channel.send(sms())
    time.sleep(0.35)
    assert channel.send(sms()).provider_id


def test_given_twilio_answers_too_late_then_the_send_is_ambiguous_and_twilio_has_it_once(fake_twilio):
    channel = SmsChannel.from_settings(load_settings(**fake_twilio.settings(twilio_timeout=0.3)))
    assert channel is not None
    fake_twilio.slow(1.0)
    with pytest.raises(AmbiguousDeliveryError):
        channel.send(sms())
    # The request reached the provider: never blind-retry it
    assert fake_twilio.count_for("intent-1") == 1


def test_given_twilio_hangs_up_after_reading_the_request_then_the_send_is_ambiguous(channel, fake_twilio):
    fake_twilio.drop()
    with pytest.raises(AmbiguousDeliveryError):
        channel.send(sms())
    assert fake_twilio.count_for("intent-1") == 1


def test_given_nothing_listens_then_the_send_is_transient_because_nothing_was_sent(fake_twilio):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    channel = SmsChannel.from_settings(load_settings(**fake_twilio.settings(twilio_base_url=dead)))
    assert channel is not None
    with pytest.raises(TransientDeliveryError):
        channel.send(sms())


def test_wrong_credentials_are_permanent_and_raise_an_alert(fake_twilio, caplog):
    channel = SmsChannel.from_settings(load_settings(**fake_twilio.settings(twilio_auth_token="wrong")))
    assert channel is not None
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(sms())
    assert caught.value.code == "20003"
    assert "ALERT" in caplog.text


def test_a_failed_send_is_logged_with_the_number_masked(channel, fake_twilio, caplog):
    caplog.set_level(logging.INFO, logger="dunning")
    fake_twilio.fail(PHONE, 21211)
    with pytest.raises(PermanentDeliveryError):
        channel.send(sms())
    assert "+86*******8000" in caplog.text
    assert PHONE not in caplog.text and "还款" not in caplog.text


def test_status_callbacks_arrive_signed_with_the_intent_id(channel, fake_twilio, webhooks):
    # Given Twilio will report the text sent, then undelivered with 30003
    fake_twilio.on_sms(PHONE, "sent", ("undelivered", 30003))
    receipt = channel.send(sms())
    first, second = webhooks.wait_for(2)
    validator = RequestValidator(fake_twilio.auth_token)
    for request in (first, second):
        form = {k: v[0] for k, v in request.form().items()}
        assert validator.validate(webhooks.full_url(request), form, request.header("X-Twilio-Signature"))
        assert request.query["intent_id"] == ["intent-1"]
        assert form["MessageSid"] == receipt.provider_id
    assert second.form()["MessageStatus"] == ["undelivered"] and second.form()["ErrorCode"] == ["30003"]
    # And a tampered callback would not verify
    form = {k: v[0] for k, v in second.form().items()} | {"MessageStatus": "delivered"}
    assert not validator.validate(webhooks.full_url(second), form, second.header("X-Twilio-Signature"))


def test_callbacks_go_only_to_loopback_addresses(fake_twilio):
    channel = SmsChannel.from_settings(
        load_settings(**fake_twilio.settings(public_url="https://dunning.example"))
    )
    assert channel is not None
    fake_twilio.on_sms("*", "delivered")
    channel.send(sms())
    [callback] = fake_twilio.wait_for_callbacks(1)
    assert callback.status is None and callback.error == "skipped: not a loopback URL"
    assert urlsplit(callback.url).hostname == "dunning.example"
    assert parse_qs(urlsplit(callback.url).query) == {"intent_id": ["intent-1"]}


@pytest.mark.parametrize(
    ("code", "kind", "invalidates"),
    [
        ("30003", TransientDeliveryError, None),  # handset unreachable
        ("30005", PermanentDeliveryError, "address"),  # unknown destination
        ("30006", PermanentDeliveryError, "channel"),  # landline or unreachable carrier
        ("30007", PermanentDeliveryError, None),  # carrier filtering
        ("30008", TransientDeliveryError, None),  # unknown error
        ("30001", PermanentDeliveryError, None),  # anything else that failed
        (None, PermanentDeliveryError, None),
    ],
)
def test_a_failed_delivery_status_is_typed_like_a_send_error(channel, code, kind, invalidates):
    error = channel.status_error(code, "undelivered")
    assert type(error) is kind
    assert getattr(error, "invalidates", None) == invalidates


def test_carrier_filtering_raises_an_alert_for_the_template(channel, caplog):
    assert channel.status_error("30007", "failed") is not None
    assert "30007" in caplog.text and "ALERT" in caplog.text


@pytest.mark.parametrize("status", ["queued", "sent", "delivered", "read"])
def test_a_status_that_is_no_failure_is_no_error(channel, status):
    assert channel.status_error(None, status) is None


def test_an_inbound_text_is_posted_signed_like_twilio_does(fake_twilio, webhooks):
    url = f"{webhooks.url}/webhooks/twilio/sms/inbound"
    assert fake_twilio.inbound_sms(url, from_=PHONE, to=fake_twilio.from_, body="TD") == 204
    [request] = webhooks.received
    form = {k: v[0] for k, v in request.form().items()}
    assert (form["From"], form["Body"], form["SmsStatus"]) == (PHONE, "TD", "received")
    validator = RequestValidator(fake_twilio.auth_token)
    assert validator.validate(webhooks.full_url(request), form, request.header("X-Twilio-Signature"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_proxy_named_in_the_environment_carries_the_texts(fake_twilio, webhooks, monkeypatch):
    # Given an operator whose egress goes through a proxy (here one that is down)
    for name in [n for n in os.environ if n.lower() == "no_proxy"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    built = SmsChannel.from_settings(load_settings(**fake_twilio.settings(public_url=webhooks.url)))
    assert built is not None
    try:
        # Then the text goes to the proxy, not around it: nothing reaches Twilio directly
        with pytest.raises((TransientDeliveryError, AmbiguousDeliveryError)):
            built.send(sms())
    finally:
        built.close()
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    ("environ", "proxy", "bundle"),
    [
        ({"PATH": "/usr/bin", "HOME": "/root"}, False, None),
        ({"https_proxy": "http://proxy:3128"}, True, None),
        ({"ALL_PROXY": "socks5://proxy:1080"}, True, None),
        ({"NO_PROXY": "localhost"}, True, None),
        ({"REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem", "CURL_CA_BUNDLE": "/x.pem"}, False, "/etc/ssl/corp.pem"),
        ({"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"}, False, "/etc/ssl/curl.pem"),
    ],
)
def test_what_the_environment_says_to_requests_is_read_as_requests_reads_it(environ, proxy, bundle):
    from dunning.channels.twilio_common import ca_bundle, proxied

    assert (proxied(environ), ca_bundle(environ)) == (proxy, bundle)


def test_a_ca_bundle_in_the_environment_is_the_one_the_client_verifies_with(monkeypatch, fake_twilio):
    from dunning.channels.twilio_common import TwilioAccount

    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    account = TwilioAccount("AC" + "0" * 32, "token", base_url=fake_twilio.url)
    merged = account.http.session.merge_environment_settings("https://api.twilio.com/", {}, None, None, None)
    assert merged["verify"] == "/etc/ssl/corp.pem"
