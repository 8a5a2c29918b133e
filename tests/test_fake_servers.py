"""The shipped fake providers speak the wire formats the real SDKs expect, and only to loopback."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import firebase_admin
import google.auth.exceptions
import pytest
from firebase_admin import credentials, messaging

from dunning.core.content.sms import sms_shape
from dunning.testing.fake_fcm import FakeFcm
from dunning.testing.fake_server import post_form
from dunning.testing.fake_twilio import FakeTwilio

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/x-www-form-urlencoded"}


def messages_url(fake: FakeTwilio) -> str:
    return f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


# ---------------------------------------------------------------- Twilio


def test_twilio_refuses_wrong_credentials_with_its_json_error(fake_twilio):
    form = urllib.parse.urlencode({"To": "+8613800138000", "From": "+15005550006", "Body": "x"}).encode()
    status, body = http("POST", messages_url(fake_twilio), form, basic(fake_twilio.account_sid, "nope"))
    assert status == 401
    assert body == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert fake_twilio.messages == []


def test_twilio_accepts_a_message_like_the_real_api_and_reports_its_later_status(fake_twilio):
    text = "您好，请还款"
    form = urllib.parse.urlencode(
        {
            "To": "+8613800138000",
            "From": "+15005550006",
            "Body": text,
            "StatusCallback": "http://127.0.0.1:1/s?intent_id=i9",
        }
    ).encode()
    status, body = http(
        "POST", messages_url(fake_twilio), form, basic(fake_twilio.account_sid, fake_twilio.auth_token)
    )
    assert status == 201
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert (body["status"], body["to"], body["from"], body["body"]) == (
        "queued",
        "+8613800138000",
        "+15005550006",
        text,
    )
    assert body["num_segments"] == str(sms_shape(text).segments)
    assert body["uri"] == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages/{body['sid']}.json"
    assert fake_twilio.count_for("i9") == 1
    # When Twilio later reports delivery, Then fetching the message shows it
    fake_twilio.send_status(body["sid"], "delivered")
    status, fetched = http(
        "GET",
        f"{messages_url(fake_twilio)[:-5]}/{body['sid']}.json",
        None,
        basic(fake_twilio.account_sid, fake_twilio.auth_token),
    )
    assert (status, fetched["status"]) == (200, "delivered")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"From": "+15005550006", "Body": "x"}, 21604),
        ({"To": "+8613800138000", "Body": "x"}, 21603),
        ({"To": "+8613800138000", "From": "+15005550006"}, 21602),
        ({"To": "+8613800138000", "From": "+15005550006", "Body": "x" * 1601}, 21617),
        ({"To": "12345", "From": "+15005550006", "Body": "x"}, 21211),
    ],
)
def test_twilio_validates_a_message_as_the_real_api_does(fake_twilio, params, code):
    form = urllib.parse.urlencode(params).encode()
    status, body = http(
        "POST", messages_url(fake_twilio), form, basic(fake_twilio.account_sid, fake_twilio.auth_token)
    )
    assert (status, body["code"]) == (400, code)


def test_reset_forgets_records_and_scripts(fake_twilio):
    fake_twilio.fail("+8613800138000", 21211)
    fake_twilio.inbound_sms("http://127.0.0.1:1/x", from_="+8613800138000", to="+15005550006", body="T")
    fake_twilio.reset()
    form = urllib.parse.urlencode({"To": "+8613800138000", "From": "+15005550006", "Body": "x"}).encode()
    status, _ = http(
        "POST", messages_url(fake_twilio), form, basic(fake_twilio.account_sid, fake_twilio.auth_token)
    )
    assert status == 201 and len(fake_twilio.messages) == 1 and fake_twilio.callbacks == []


def test_twilio_tells_when_it_answered_a_slow_message_request(fake_twilio):
    # Given a fake Twilio that answers the next message after 0.2 s
    fake_twilio.slow(0.2)
    form = urllib.parse.urlencode({"To": "+8613800138000", "From": "+15005550006", "Body": "x"}).encode()
    # When a message is posted
    posted = time.monotonic()
    status, body = http(
        "POST", messages_url(fake_twilio), form, basic(fake_twilio.account_sid, fake_twilio.auth_token)
    )
    returned = time.monotonic()
    # Then its record says when the request arrived, and the fake when its answer went out: in between
    # lies the delay, so a benchmark can tell which of its own readings fell while the send was in flight
    record = fake_twilio.record(body["sid"])
    answered = fake_twilio.answered(body["sid"])
    assert status == 201 and answered is not None
    assert posted <= record.received < answered <= returned
    assert answered - record.received >= 0.2


def test_stopping_a_fake_does_not_wait_for_a_slow_answer():
    fake = FakeTwilio().start()
    fake.slow(30)
    form = urllib.parse.urlencode({"To": "+8613800138000", "From": "+15005550006", "Body": "x"}).encode()
    request = urllib.request.Request(
        messages_url(fake), data=form, headers=basic(fake.account_sid, fake.auth_token)
    )

    def post() -> None:
        with contextlib.suppress(OSError):
            _OPENER.open(request, timeout=10)

    worker = threading.Thread(target=post)
    worker.start()
    deadline = time.monotonic() + 5
    while not fake.messages and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 2 and not worker.is_alive()


def test_fakes_only_ever_call_loopback_addresses():
    with pytest.raises(ValueError, match="loopback"):
        post_form("https://example.com/hook", {"a": "b"})


# ---------------------------------------------------------------- FCM


def test_fcm_token_endpoint_trusts_only_keys_it_issued(fake_fcm, tmp_path):
    trusted = credentials.Certificate(str(fake_fcm.write_service_account(tmp_path, "ok.json")))
    assert trusted.get_access_token().access_token.startswith("ya29.fake-")
    # A key the fake never saw (another project's file, pointed at this token endpoint)
    with FakeFcm() as other:
        foreign_path = other.write_service_account(tmp_path, "foreign.json", fresh_key=True)
    info = json.loads(foreign_path.read_text()) | {"token_uri": fake_fcm.token_uri}
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        credentials.Certificate(info).get_access_token()


def test_fcm_send_without_a_bearer_token_is_unauthenticated(fake_fcm):
    url = f"{fake_fcm.url}/v1/projects/{fake_fcm.project_id}/messages:send"
    body = json.dumps({"message": {"token": "t", "data": {"a": "b"}}}).encode()
    status, answer = http("POST", url, body, {"Content-Type": "application/json"})
    assert status == 401 and answer["error"]["status"] == "UNAUTHENTICATED"
    assert fake_fcm.messages == []


def test_fcm_errors_are_google_rpc_status_bodies_with_fcm_error_details(fake_fcm, fcm_service_account):
    token = credentials.Certificate(str(fcm_service_account)).get_access_token().access_token
    fake_fcm.fail("dead", "UNREGISTERED")
    url = f"{fake_fcm.url}/v1/projects/{fake_fcm.project_id}/messages:send"
    body = json.dumps({"message": {"token": "dead"}}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    status, answer = http("POST", url, body, headers)
    assert status == 404
    assert answer == {
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
            ],
        }
    }
    # And another project's URL is refused
    status, answer = http("POST", url.replace(fake_fcm.project_id, "other"), body, headers)
    assert (status, answer["error"]["status"]) == (403, "PERMISSION_DENIED")


def fcm_post(fake_fcm, fcm_service_account, message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    token = credentials.Certificate(str(fcm_service_account)).get_access_token().access_token
    url = f"{fake_fcm.url}/v1/projects/{fake_fcm.project_id}/messages:send"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return http("POST", url, json.dumps({"message": message}).encode(), headers)


def test_fcm_blames_an_invalid_token_in_a_bad_request_field_violation(fake_fcm, fcm_service_account):
    # Given FCM finds the registration token malformed
    fake_fcm.fail("t", "INVALID_ARGUMENT", field="message.token")
    status, answer = fcm_post(fake_fcm, fcm_service_account, {"token": "t"})
    # Then it answers 400 with the FcmError code and a google.rpc.BadRequest naming the field
    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["details"] == [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"},
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
        },
    ]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"token": "t", "data": {"n": 1}}, "message.data[0].value"),
        (
            {"token": "t", "apns": {"headers": {"apns-expiration": 1767225600}}},
            "message.apns.headers[0].value",
        ),
        ({"token": "t", "webpush": {"headers": {"TTL": 86400}}}, "message.webpush.headers[0].value"),
        ({"token": "t", "android": {"ttl": "1 day"}}, "message.android.ttl"),
    ],
)
def test_fcm_refuses_a_field_of_the_wrong_type_naming_it(fake_fcm, fcm_service_account, message, field):
    status, answer = fcm_post(fake_fcm, fcm_service_account, message)
    assert (status, answer["error"]["status"]) == (400, "INVALID_ARGUMENT")
    [violation] = answer["error"]["details"][0]["fieldViolations"]
    assert violation["field"] == field and answer["error"]["message"].startswith(
        f"Invalid value at '{field}'"
    )
    assert fake_fcm.messages == []


def test_fcm_dry_runs_are_recorded_but_not_counted_as_sent(fake_fcm, fcm_service_account):
    app = firebase_admin.initialize_app(credentials.Certificate(str(fcm_service_account)), name="dry-run")
    try:
        from dunning.channels.fcm_endpoint import point_messaging_at

        point_messaging_at(app, fake_fcm.url)
        message = messaging.Message(data={"intent_id": "dry"}, topic="news")
        assert messaging.send(message, dry_run=True, app=app).startswith("projects/dunning-test/messages/")
    finally:
        firebase_admin.delete_app(app)
    [record] = fake_fcm.messages
    assert record.validate_only and record.target_kind == "topic"
    assert fake_fcm.count_for("dry") == 0


def test_the_dunning_pytest_plugin_is_loaded_through_its_entry_point(request):
    plugin = request.config.pluginmanager.get_plugin("dunning")
    assert plugin is not None and plugin.__name__ == "dunning.testing.pytest_plugin"
