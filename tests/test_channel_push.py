"""Push through the real firebase-admin SDK (and google-auth's OAuth dance) to the fake FCM."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator

import firebase_admin
import pytest
from firebase_admin import messaging

from dunning.channels.fcm_endpoint import ENDPOINT_ATTRIBUTE, point_messaging_at
from dunning.channels.push import PushChannel, target_field
from dunning.core.channel import OutboundMessage
from dunning.core.errors import (
    AmbiguousDeliveryError,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from dunning.core.settings import load_settings
from dunning.testing.fake_fcm import INVALID_TOKEN_MESSAGE

#: A classic FCM registration token ("<FID>:APA91b..."), and a bare Firebase installation ID.
TOKEN = "cDkE8b9NQbWn3P0q1xYzAb:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx3hqfeyJ4Y0nUq8c"
FID = "cDkE8b9NQbWn3P0q1xYzAb"

# firebase-admin 7.5+ deprecates Message(token=...): sending a registration token must not warn
pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


def push(to: str = TOKEN, intent_id: str = "intent-p1") -> OutboundMessage:
    return OutboundMessage(
        intent_id,
        "C-1",
        "push",
        to,
        {"title": "还款提醒：已逾期3天", "body": "王芳您好，账户****2233待还¥3,200.00。点击立即还款。"},
        locale="zh-CN",
        data={"link": "https://pay.example.com/r/1"},
    )


def make_channel(fake_fcm, service_account, **overrides) -> PushChannel:
    channel = PushChannel.from_settings(load_settings(**fake_fcm.settings(service_account, **overrides)))
    assert channel is not None
    return channel


@pytest.fixture
def channel(fake_fcm, fcm_service_account) -> Iterator[PushChannel]:
    built = make_channel(fake_fcm, fcm_service_account)
    yield built
    built.close()


def test_a_push_carries_title_body_and_app_data_and_is_sent_with_a_real_bearer_token(channel, fake_fcm):
    receipt = channel.send(push())
    [record] = fake_fcm.messages
    assert receipt.provider_id == record.name and record.name.startswith("projects/dunning-test/messages/")
    assert record.notification == {"title": "还款提醒：已逾期3天", "body": push().parts["body"]}
    assert record.data == {"case_id": "C-1", "intent_id": "intent-p1", "link": "https://pay.example.com/r/1"}
    assert record.android["priority"] == "high"
    assert record.apns["headers"]["apns-priority"] == "10"
    # And google-auth exchanged a signed JWT for the token the fake checked
    assert fake_fcm.tokens_issued == 1
    assert record.authorization.startswith("Bearer ya29.fake-")


def test_a_registration_token_travels_as_token_and_an_installation_id_as_fid(channel, fake_fcm):
    channel.send(push(TOKEN, "i-token"))
    channel.send(push(FID, "i-fid"))
    kinds = {r.intent_id: (r.target_kind, r.target) for r in fake_fcm.messages}
    assert kinds == {"i-token": ("token", TOKEN), "i-fid": ("fid", FID)}
    assert (target_field(TOKEN), target_field(FID), target_field("tok-1")) == ("token", "fid", "token")


def test_when_the_bearer_token_is_revoked_google_auth_fetches_a_new_one_and_the_push_goes(channel, fake_fcm):
    channel.send(push(intent_id="first"))
    fake_fcm.revoke_tokens()
    channel.send(push(intent_id="second"))
    assert fake_fcm.tokens_issued == 2
    assert fake_fcm.count_for("second") == 1


@pytest.mark.parametrize(
    ("error", "kind", "invalidates"),
    [
        ("UNREGISTERED", PermanentDeliveryError, "channel"),  # app uninstalled: drop the token
        ("SENDER_ID_MISMATCH", PermanentDeliveryError, "channel"),  # token of another project
        ("INVALID_ARGUMENT", PermanentDeliveryError, None),  # payload bug or malformed token
        ("THIRD_PARTY_AUTH_ERROR", PermanentDeliveryError, None),  # our APNs key: keep the token
        ("QUOTA_EXCEEDED", TransientDeliveryError, None),
        ("UNAVAILABLE", TransientDeliveryError, None),
        ("INTERNAL", TransientDeliveryError, None),
    ],
)
def test_each_fcm_error_is_typed(channel, fake_fcm, error, kind, invalidates):
    fake_fcm.fail(TOKEN, error)
    with pytest.raises(kind) as caught:
        channel.send(push())
    assert type(caught.value) is kind
    assert caught.value.code == error
    assert caught.value.invalidates == invalidates
    assert fake_fcm.count_for("intent-p1") == 0


@pytest.mark.parametrize(
    ("how", "invalidates"),
    [
        ({"field": "message.token"}, "channel"),  # google.rpc.BadRequest names the token field
        ({"message": INVALID_TOKEN_MESSAGE}, "channel"),  # "not a valid FCM registration token"
        ({"field": "message.fid"}, "channel"),  # an installation ID FCM refuses
        ({"field": "message.data[0].key"}, None),  # the payload is at fault: the token is kept
        ({}, None),  # FCM says no more than "invalid argument"
    ],
)
def test_an_invalid_argument_drops_the_token_only_when_fcm_blames_the_token(
    channel, fake_fcm, how, invalidates
):
    # Given FCM refuses the push with INVALID_ARGUMENT, in its wire format
    fake_fcm.fail(TOKEN, "INVALID_ARGUMENT", **how)
    # When the push is sent, Then it is refused for good, and the token is dropped only if at fault
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(push())
    assert (caught.value.code, caught.value.invalidates) == ("INVALID_ARGUMENT", invalidates)


def test_a_batch_drops_exactly_the_tokens_fcm_blames(channel, fake_fcm):
    bad = "cDkE8b9NQbWn3P0q1xYzAb:APA91bBAD"
    fake_fcm.fail(bad, "INVALID_ARGUMENT", field="message.token")
    good, refused = channel.send_many([push(TOKEN, "i-good"), push(bad, "i-bad")])
    assert not isinstance(good, Exception)
    assert isinstance(refused, PermanentDeliveryError) and refused.invalidates == "channel"


def test_a_push_expires_after_one_ttl_on_android_ios_and_the_web(channel, fake_fcm):
    # Given a push sent now
    before = int(time.time())
    channel.send(push())
    after = int(time.time())
    [record] = fake_fcm.messages
    # Then FCM holds it for an offline Android phone no longer than the TTL
    assert record.android["ttl"] == "86400s"
    # And APNs drops it at now + TTL (a UNIX time), so an iPhone offline for weeks never gets it late
    expires = int(record.apns["headers"]["apns-expiration"])
    assert before + 86400 <= expires <= after + 86400
    # And a browser's push service keeps it no longer than the TTL, in seconds
    assert record.webpush["headers"] == {"TTL": "86400"}


def test_the_push_ttl_and_expiry_follow_the_channels_clock_and_ttl(fake_fcm, fcm_service_account):
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    channel = PushChannel.from_settings(load_settings(**fake_fcm.settings(fcm_service_account)))
    assert channel is not None
    channel.clock, channel.ttl = (lambda: now), timedelta(hours=6)
    channel.send(push())
    channel.close()
    [record] = fake_fcm.messages
    assert record.android["ttl"] == "21600s"
    assert record.apns["headers"]["apns-expiration"] == str(int(now.timestamp()) + 21600)
    assert record.webpush["headers"]["TTL"] == "21600"


@pytest.mark.parametrize("error", ["QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"])
def test_a_retryable_error_is_not_retried_inside_the_sdk_and_keeps_retry_after(channel, fake_fcm, error):
    fake_fcm.fail(TOKEN, error, retry_after=1)
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError) as caught:
        channel.send(push())
    assert caught.value.retry_after == 1.0
    # One request, no sleeping: the runtime owns the backoff (the SDK would retry 500/503 4 times)
    assert len([r for r in fake_fcm.requests if r.path.endswith("messages:send")]) == 1
    assert time.monotonic() - started < 1.0


def test_a_third_party_auth_error_raises_an_alert(channel, fake_fcm, caplog):
    fake_fcm.fail(TOKEN, "THIRD_PARTY_AUTH_ERROR")
    with pytest.raises(PermanentDeliveryError):
        channel.send(push())
    assert "ALERT" in caplog.text and TOKEN not in caplog.text


def test_given_fcm_answers_too_late_the_push_is_ambiguous_and_was_received_exactly_once(
    fake_fcm, fcm_service_account
):
    # The SDK's own policy re-sends a POST after a read timeout: the debtor would get it twice
    channel = make_channel(fake_fcm, fcm_service_account, fcm_timeout=0.5)
    channel.send(push(intent_id="warm-up"))  # fetch the OAuth token before the slow answer
    fake_fcm.slow(1.5, requests=2)
    with pytest.raises(AmbiguousDeliveryError):
        channel.send(push())
    assert fake_fcm.count_for("intent-p1") == 1
    channel.close()


def test_given_fcm_hangs_up_after_reading_the_request_the_push_is_ambiguous(channel, fake_fcm):
    channel.send(push(intent_id="warm-up"))
    fake_fcm.drop(requests=2)
    with pytest.raises(AmbiguousDeliveryError):
        channel.send(push())
    assert fake_fcm.count_for("intent-p1") == 1


def test_given_nothing_listens_the_push_is_transient(fake_fcm, fcm_service_account):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    channel = make_channel(fake_fcm, fcm_service_account, fcm_base_url=dead)
    with pytest.raises(TransientDeliveryError):
        channel.send(push())
    channel.close()


def test_send_many_keeps_order_and_types_each_failure(channel, fake_fcm):
    fake_fcm.fail("dead-token", "UNREGISTERED")
    messages = [push(TOKEN, "a"), push("dead-token", "b"), push(FID, "c")]
    messages.append(OutboundMessage("d", "C-1", "push", TOKEN, {"body": "no title"}))  # cannot be built
    results = channel.send_many(messages)
    assert [type(r).__name__ for r in results] == [
        "Receipt",
        "PermanentDeliveryError",
        "Receipt",
        "PermanentDeliveryError",
    ]
    assert results[1].invalidates == "channel"  # type: ignore[union-attr]
    assert {r.intent_id for r in fake_fcm.messages} == {"a", "c"}


def test_send_many_sends_more_than_500_in_chunks_of_at_most_500(channel, fake_fcm):
    messages = [push(f"tok-{i}", f"i-{i}") for i in range(501)]
    results = channel.send_many(messages)
    assert len(results) == 501
    assert all(r.provider_id for r in results)  # type: ignore[union-attr]
    # Each result belongs to its own message, in order
    by_name = {r.name: r.intent_id for r in fake_fcm.messages}
    assert [by_name[r.provider_id] for r in results] == [f"i-{i}" for i in range(501)]  # type: ignore[union-attr]


def test_without_credentials_push_is_not_configured_and_a_bad_file_is_a_config_error(tmp_path):
    assert PushChannel.from_settings(load_settings(fcm_credentials=None)) is None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "authorized_user"}))
    with pytest.raises(ConfigError, match="fcm_credentials"):
        PushChannel.from_settings(load_settings(fcm_credentials=str(bad)))


def test_each_channel_has_its_own_firebase_app_and_close_deletes_it(fake_fcm, fcm_service_account):
    one = make_channel(fake_fcm, fcm_service_account)
    two = make_channel(fake_fcm, fcm_service_account)
    assert one.app.name != two.app.name
    one.close()
    with pytest.raises(ValueError):
        firebase_admin.get_app(one.app.name)
    assert firebase_admin.get_app(two.app.name) is two.app

    # close() also works from inside an event loop (an async server's shutdown)
    async def shut() -> None:
        two.close()

    asyncio.run(shut())
    with pytest.raises(ValueError):
        firebase_admin.get_app(two.app.name)


def test_the_sdk_still_keeps_the_fcm_endpoint_where_dunning_points_it(fake_fcm, fcm_service_account):
    # If this fails, firebase-admin moved the endpoint attribute: update channels/fcm_endpoint.py
    app = firebase_admin.initialize_app(
        firebase_admin.credentials.Certificate(str(fcm_service_account)), name="endpoint-check"
    )
    try:
        service = messaging._get_messaging_service(app)
        assert getattr(service, ENDPOINT_ATTRIBUTE) == messaging._MessagingService.FCM_URL.format(
            fake_fcm.project_id
        )
        assert (
            point_messaging_at(app, fake_fcm.url) == f"{fake_fcm.url}/v1/projects/dunning-test/messages:send"
        )
        assert (
            getattr(service, ENDPOINT_ATTRIBUTE) == f"{fake_fcm.url}/v1/projects/dunning-test/messages:send"
        )
    finally:
        firebase_admin.delete_app(app)


def test_if_the_endpoint_attribute_is_gone_pointing_fails_loudly(fcm_service_account):
    app = firebase_admin.initialize_app(
        firebase_admin.credentials.Certificate(str(fcm_service_account)), name="endpoint-gone"
    )
    try:
        delattr(messaging._get_messaging_service(app), ENDPOINT_ATTRIBUTE)  # what a new SDK might do
        with pytest.raises(ConfigError, match="no longer has"):
            point_messaging_at(app, "http://127.0.0.1:1")
    finally:
        firebase_admin.delete_app(app)


def test_a_failed_push_is_logged_without_the_token(channel, fake_fcm, caplog):
    caplog.set_level(logging.INFO, logger="dunning")
    fake_fcm.fail(TOKEN, "UNREGISTERED")
    with pytest.raises(PermanentDeliveryError):
        channel.send(push())
    assert "intent-p1" in caplog.text and TOKEN not in caplog.text and "王芳" not in caplog.text
