"""What our channels send, checked against the providers' own published descriptions.

The fakes in ``dunning.testing`` were written by us, so a test that passes
against them only proves that we agree with ourselves. Here the request
bodies the real twilio and firebase-admin SDKs send (captured by the fakes)
are validated against the schemas Twilio and Google publish, vendored under
``tests/specs/`` (see its README): every field name known, every enum
respected, every type right. The TwiML we send or answer must name a voice
and a language on every ``<Say>``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator, FormatChecker

from dunning.channels.push import PushChannel
from dunning.channels.sms import SmsChannel
from dunning.channels.voice import VoiceChannel
from dunning.core.api import create_app
from dunning.core.channel import OutboundMessage
from dunning.core.runtime import build_runtime
from dunning.core.settings import Settings, load_settings
from dunning.testing.factories import make_case
from dunning.testing.fake_fcm import FakeFcm
from dunning.testing.fake_twilio import FakeTwilio

SPECS = Path(__file__).parent / "specs"
MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
CALLS = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
PHONE = "+8613800138000"
TOKEN = "cDkE8b9NQbWn3P0q1xYzAb:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx3hqfeyJ4Y0nUq8c"
FID = "cDkE8b9NQbWn3P0q1xYzAb"

#: Constraints Twilio states only in a field's description ("Can be: `Enable` or ..."; "Max 4000
#: characters"), read from the vendored description itself: (field, sentence pattern, keyword).
PROSE = {
    CALLS: [
        ("MachineDetection", r"Can be: (.+?)\. ", "enum"),
        ("StatusCallbackEvent", r"Can be: (.+?)\. ", "items.enum"),
        ("Twiml", r"Max (\d+) characters", "maxLength"),
    ],
    MESSAGES: [("Body", r"up to ([\d,]+) characters", "maxLength")],
}


# ---------------------------------------------------------------- the published schemas


def _checker() -> FormatChecker:
    """The formats Twilio's and Google's schemas name, as their documentation defines them."""
    checker = FormatChecker(formats=())
    e164 = re.compile(r"^\+[1-9]\d{6,14}$")

    @checker.checks("phone-number")
    def _phone(value: object) -> bool:
        return not isinstance(value, str) or bool(e164.match(value))

    @checker.checks("endpoint")
    def _endpoint(value: object) -> bool:
        return not isinstance(value, str) or bool(e164.match(value)) or value.startswith(("sip:", "client:"))

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        parts = urlsplit(str(value))
        return (
            parts.scheme in ("http", "https") and bool(parts.hostname) and "_" not in (parts.hostname or "")
        )

    @checker.checks("google-duration")
    def _duration(value: object) -> bool:
        return not isinstance(value, str) or bool(re.fullmatch(r"\d+(\.\d{1,9})?s", value))

    return checker


def _inline(node: Any, components: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(components[node["$ref"].rsplit("/", 1)[-1]], components)
        return {k: _inline(v, components) for k, v in node.items() if not k.startswith("x-")}
    if isinstance(node, list):
        return [_inline(v, components) for v in node]
    return node


def twilio_schema(path: str) -> dict[str, Any]:
    """The form body schema of a Twilio create operation: closed, with its prose constraints."""
    spec = json.loads((SPECS / "twilio_api_v2010.json").read_text(encoding="utf-8"))
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    schema = _inline(body["schema"], spec["components"]["schemas"])
    schema["additionalProperties"] = False
    for field, sentence, keyword in PROSE[path]:
        found = re.search(sentence, schema["properties"][field]["description"])
        assert found, f"Twilio no longer states {keyword} of {field} as expected: update PROSE"
        target = schema["properties"][field]
        if keyword.startswith("items."):
            target, keyword = target["items"], keyword.removeprefix("items.")
        if keyword == "enum":
            target["enum"] = re.findall(r"`([^`]+)`", found[1])
        else:
            target[keyword] = int(found[1].replace(",", ""))
    return schema


def fcm_schema() -> dict[str, Any]:
    """FCM's ``SendMessageRequest`` as JSON Schema, from the API's discovery document.

    Proto JSON accepts a field's original snake_case name as well as the
    camelCase one, and FCM takes enum values in any case (its own
    description of ``AndroidConfig.priority``: "Can take normal and high").
    """
    doc = json.loads((SPECS / "fcm_v1.json").read_text(encoding="utf-8"))

    def convert(node: Mapping[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            return convert(doc["schemas"][node["$ref"]])
        out: dict[str, Any] = {}
        if node.get("type") not in (None, "any"):
            out["type"] = node["type"]
        if "format" in node:
            out["format"] = node["format"]
        if "enum" in node:
            out["pattern"] = "^(?i:" + "|".join(map(re.escape, node["enum"])) + ")$"
        if "items" in node:
            out["items"] = convert(node["items"])
        if "properties" in node:
            out["properties"] = {}
            for name, child in node["properties"].items():
                out["properties"][name] = out["properties"][_snake(name)] = convert(child)
            out["additionalProperties"] = False
        elif isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = convert(node["additionalProperties"])
        return out

    return convert(doc["schemas"]["SendMessageRequest"])


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def problems(schema: Mapping[str, Any], instance: Any) -> list[str]:
    """Every way ``instance`` breaks ``schema``, as readable lines (empty when it conforms)."""
    validator = Draft7Validator(schema, format_checker=_checker())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def typed_form(body: bytes, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A form body as the JSON its schema describes: repeated keys as arrays, numbers, booleans."""
    out: dict[str, Any] = {}
    for name, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
        kind = schema["properties"].get(name, {}).get("type")
        if kind == "array":
            out[name] = values
        elif len(values) > 1:
            out[name] = values  # a scalar sent twice: the schema says what is wrong with that
        else:
            out[name] = _scalar(values[0], kind)
    return out


def _scalar(value: str, kind: str | None) -> Any:
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def unvoiced(twiml: str) -> list[str]:
    """Each ``<Say>`` of a TwiML document without both a voice and a language."""
    root = ElementTree.fromstring(twiml)
    assert root.tag == "Response", twiml
    says = list(root.iter("Say"))
    assert says, "no <Say> at all"
    return [
        ElementTree.tostring(s, encoding="unicode")
        for s in says
        if not (s.get("voice") and s.get("language"))
    ]


# ---------------------------------------------------------------- the schemas catch what they should


def test_given_the_published_call_schema_then_machine_detection_true_is_refused():
    # The schemas must be able to fail: MachineDetection=true is what Twilio would refuse
    schema = twilio_schema(CALLS)
    good = {"To": PHONE, "From": "+15005550006", "Twiml": "<Response/>", "MachineDetection": "Enable"}
    assert problems(schema, good) == []
    assert problems(schema, good | {"MachineDetection": "true"}) == [
        "MachineDetection: 'true' is not one of ['Enable', 'DetectMessageEnd']"
    ]
    assert problems(schema, good | {"Timeout": "soon"}) == ["Timeout: 'soon' is not of type 'integer'"]
    assert problems(schema, good | {"StatusCallbackEvent": ["answered", "hung-up"]}) != []
    assert problems(schema, good | {"MachineDetetion": "Enable"}) != []  # a misspelt field


def test_given_the_published_fcm_schema_then_a_misplaced_or_mistyped_field_is_refused():
    schema = fcm_schema()
    good = {"message": {"token": "t", "android": {"ttl": "86400s", "priority": "high"}}}
    assert problems(schema, good) == []
    assert problems(schema, {"message": {"token": "t", "android": {"ttl": 86400}}}) != []
    assert problems(schema, {"message": {"token": "t", "apns_expiration": "1"}}) != []
    assert problems(schema, {"message": {"token": "t", "android": {"priority": "urgent"}}}) != []
    assert problems(schema, {"message": {"token": "t", "apns": {"headers": {"apns-expiration": 1}}}}) != []


# ---------------------------------------------------------------- what we send to Twilio


def sends(fake: FakeTwilio, kind: str) -> list[bytes]:
    return [r.body for r in fake.requests if r.method == "POST" and r.path.endswith(f"/{kind}.json")]


def outbound(
    channel: str, locale: str, intent_id: str, parts: dict[str, str], to: str = PHONE
) -> OutboundMessage:
    return OutboundMessage(
        intent_id, "C-1", channel, to, parts, locale=locale, data={"link": "https://pay.example.com/r/1"}
    )


@pytest.mark.parametrize(
    "sender", [{}, {"twilio_from": None, "twilio_messaging_service_sid": "MG" + "a1" * 16}]
)
def test_every_text_we_send_is_a_message_twilio_describes(fake_twilio, sender):
    channel = SmsChannel.from_settings(load_settings(**fake_twilio.settings(**sender)))
    assert channel is not None
    for locale, body in (
        ("zh-CN", "王芳您好，您的账户已逾期3天。回T退订"),
        ("en", "Alex, your payment is 3 days late."),
    ):
        channel.send(outbound("sms", locale, f"sms-{locale}", {"body": body}))
    channel.close()
    schema = twilio_schema(MESSAGES)
    bodies = sends(fake_twilio, "Messages")
    assert len(bodies) == 2
    for body in bodies:
        assert problems(schema, typed_form(body, schema)) == []


@pytest.mark.parametrize("detection", [None, "enable", "DETECTMESSAGEEND"])
def test_every_call_we_place_is_a_call_twilio_describes_and_every_say_has_a_voice(fake_twilio, detection):
    settings = load_settings(
        **fake_twilio.settings(twilio_machine_detection=detection, twilio_voices="fr=Polly.Lea:fr-FR")
    )
    channel = VoiceChannel.from_settings(settings)
    assert channel is not None
    for locale in ("zh-CN", "en", "en-GB", "fr", "es"):
        channel.send(outbound("voice", locale, f"call-{locale}", {"body": "请按1。 Press 1."}))
    channel.close()
    schema = twilio_schema(CALLS)
    bodies = sends(fake_twilio, "Calls")
    assert len(bodies) == 5
    for body in bodies:
        form = typed_form(body, schema)
        assert problems(schema, form) == []
        assert unvoiced(form["Twiml"]) == []


# ---------------------------------------------------------------- what we send to FCM


def test_every_push_we_send_is_a_message_fcm_describes(fake_fcm: FakeFcm, fcm_service_account: Path):
    channel = PushChannel.from_settings(load_settings(**fake_fcm.settings(fcm_service_account)))
    assert channel is not None
    parts = {"title": "还款提醒", "body": "王芳您好，账户****2233待还¥3,200.00。"}
    channel.send(outbound("push", "zh-CN", "push-token", parts, to=TOKEN))
    channel.send(outbound("push", "zh-CN", "push-fid", parts, to=FID))
    channel.send_many([outbound("push", "en", f"push-batch-{i}", parts, to=f"{TOKEN}{i}") for i in range(3)])
    channel.close()
    schema = fcm_schema()
    bodies = [r.json() for r in fake_fcm.requests if r.path.endswith("/messages:send")]
    assert len(bodies) == 5
    for body in bodies:
        assert problems(schema, body) == []
        # And the expiry each platform documents: APNs a UNIX time, Web Push seconds (RFC 8030)
        message = body["message"]
        assert message["apns"]["headers"]["apns-expiration"].isdigit()
        assert message["webpush"]["headers"]["TTL"].isdigit()


# ---------------------------------------------------------------- what we answer Twilio


@pytest.fixture
def webhook_client(tmp_path: Path) -> Iterator[tuple[TestClient, FakeTwilio, str]]:
    """The API on a SQLite store with one planned call (to C-1, a Mandarin speaker)."""
    (tmp_path / "p.yaml").write_text(
        "name: t\npreset: none\nsegments: [{name: all, ladder: l}]\n"
        "ladders: {l: {steps: [{channel: voice, template: overdue_call, wait: 2d}]}}\n"
        'responses: {keypress: {"1": promise, "2": handoff, "3": ack}}\n'
    )
    fake = FakeTwilio()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        policy=str(tmp_path / "p.yaml"),
        public_url="https://dunning.example.com",
        twilio_auth_token=fake.auth_token,
    )
    rt = build_runtime(settings, dry_run=True)
    with rt.store.write() as conn:
        rt.store.upsert_cases(conn, [make_case()], rt.now())
    from dunning.core.runtime.scheduler import tick

    tick(rt, rt.now())
    with rt.store.read() as conn:
        (intent,) = rt.store.pending_intents(conn, ["C-1"])
    with TestClient(create_app(rt), base_url="https://dunning.example.com") as client:
        yield client, fake, intent.intent_id
    rt.close()


@pytest.mark.parametrize(
    ("intent", "digits", "locale"),
    [
        ("planned", "1", ""),  # a promise
        ("planned", "2", ""),  # a hand-off
        ("planned", "3", ""),  # an acknowledgement
        ("planned", "9", ""),  # a key that means nothing
        ("test-call", "1", "zh-CN"),  # a channel test: no reminder behind it
        ("test-call", "1", "fr"),
        ("test-call", "1", ""),
    ],
)
def test_every_twiml_answer_to_a_keypress_gives_each_say_a_voice(webhook_client, intent, digits, locale):
    client, fake, planned = webhook_client
    intent_id = planned if intent == "planned" else "test-0123"
    url = f"https://dunning.example.com/webhooks/twilio/voice/gather?intent_id={intent_id}"
    url += f"&locale={locale}" if locale else ""
    params = {"CallSid": "CA" + "0" * 32, "Digits": digits, "AccountSid": fake.account_sid}
    answer = client.post(url, data=params, headers={"X-Twilio-Signature": fake.signature(url, params)})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    assert unvoiced(answer.text) == []
