"""A fake Twilio REST API on 127.0.0.1 that the real ``twilio`` SDK can talk to.

It speaks the 2010-04-01 Messages and Calls resources (form bodies, HTTP
Basic auth, Twilio's JSON errors; create, fetch, and list with Twilio's filters
and pages), can be scripted to refuse numbers, rate limit, fail, answer slowly
or hang up, and plays provider callbacks (status, keypress, inbound SMS) as
signed form POSTs to loopback webhooks only. Its clock (``clock``, seconds
since the epoch) dates what it accepts, so tests with a simulated clock can
give the provider the same time.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dunning.testing.fake_server import Countdown, FakeRequest, FakeResponse, FakeServer, take_first
from dunning.testing.twilio_resources import ListQueryError, list_page, resource_json
from dunning.testing.twilio_webhooks import CallScript, TwilioWebhooks, Webhook, first_status

__all__ = ["CallScript", "FakeTwilio", "TwilioRecord", "Webhook"]

DEFAULT_ACCOUNT_SID = "AC" + "fa4e" * 8
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token"
#: Twilio's magic test sender number.
DEFAULT_FROM = "+15005550006"

_RESOURCE = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/(?P<kind>Messages|Calls)(?:/(?P<id>\w+))?\.json$"
)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

#: Twilio error codes the fake knows: HTTP status and message.
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    20503: (503, "Service is unavailable. Please try again"),
    21205: (400, "Url or Twiml is required to create a call"),
    21211: (400, "The 'To' number is not a valid phone number."),
    21408: (
        400,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    ),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21635: (400, "'To' number cannot be a landline"),
}


@dataclass(frozen=True)
class TwilioRecord:
    """A message or call the fake accepted (or received, if it then answered slowly or hung up)."""

    kind: str
    sid: str
    to: str
    from_: str | None
    body: str | None
    twiml: str | None
    status_callback: str | None
    intent_id: str | None
    status_events: tuple[str, ...]
    params: Mapping[str, str]
    at: float
    #: ``time.monotonic()`` when the fake took the request in, for ordering against a test's own readings.
    received: float = 0.0


@dataclass
class _Script:
    failures: dict[tuple[str, str | None], tuple[int, int, str, bool]] = field(default_factory=dict)
    outages: list[Countdown] = field(default_factory=list)
    slow: list[Countdown] = field(default_factory=list)
    drops: list[Countdown] = field(default_factory=list)
    lists: list[Countdown] = field(default_factory=list)
    sms: dict[str, tuple[str | tuple[str, int | str], ...]] = field(default_factory=dict)
    calls: dict[str, CallScript] = field(default_factory=dict)


class FakeTwilio(FakeServer, TwilioWebhooks):
    """Fake Twilio: point ``Client.api.base_url`` (or ``twilio_base_url``) at :attr:`url`."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        from_: str = DEFAULT_FROM,
        callback_delay: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        FakeServer.__init__(self)
        TwilioWebhooks.__init__(self, account_sid, auth_token, callback_delay=callback_delay)
        self.from_ = from_
        #: Twilio's clock: what it stamps on messages and calls it accepts (``time.time`` by default).
        self.clock: Callable[[], float] = clock or time.time
        self._lock = threading.Lock()
        self._script = _Script()
        self._records: list[TwilioRecord] = []
        self._requests: list[FakeRequest] = []
        self._answers: dict[str, FakeResponse] = {}

    # ------------------------------------------------------------ scripting

    def fail(
        self,
        number: str,
        code: int,
        *,
        kind: str | None = None,
        status: int | None = None,
        problem_details: bool = False,
    ) -> None:
        """Refuse every message or call (``kind`` ``"message"``/``"call"``, or both) to ``number``.

        ``problem_details`` answers in the RFC 9457 shape of Twilio's newer APIs
        (the SDK raises ``TwilioServiceException`` for it, not ``TwilioRestException``).
        """
        http, text = ERRORS.get(code, (400, f"Error {code}"))
        with self._lock:
            self._script.failures[(number, kind)] = (code, status or http, text, problem_details)

    def rate_limit(self, *, retry_after: float = 1, requests: int = 1) -> None:
        """Answer the next ``requests`` with 429 (code 20429) and a ``Retry-After`` header."""
        self._add("outages", Countdown(left=requests, value=(429, retry_after)))

    def outage(self, status: int = 503, *, requests: int | None = None, seconds: float | None = None) -> None:
        """Answer 5xx for the next ``requests`` (default 1), or for ``seconds``."""
        until = time.monotonic() + seconds if seconds is not None else None
        left = requests if requests is not None or until is not None else 1
        self._add("outages", Countdown(left=left, until=until, value=(status, None)))

    def fail_lists(self, status: int = 503, *, requests: int = 1) -> None:
        """Answer the next ``requests`` list reads (``GET Messages.json``/``Calls.json``) with ``status``."""
        self._add("lists", Countdown(left=requests, value=(status, None)))

    def slow(self, seconds: float, *, requests: int = 1) -> None:
        """Record the next ``requests`` as received, then answer only after ``seconds``."""
        self._add("slow", Countdown(left=requests, value=seconds))

    def drop(self, *, requests: int = 1) -> None:
        """Record the next ``requests`` as received, then hang up without answering."""
        self._add("drops", Countdown(left=requests))

    def on_sms(self, number: str, *statuses: str | tuple[str, int | str]) -> None:
        """Status callbacks for texts to ``number`` (``"*"``: any): ``"delivered"``, ``("undelivered", 30003)``."""
        with self._lock:
            self._script.sms[number] = statuses

    def on_call(
        self,
        number: str,
        outcome: str = "completed",
        *,
        answered_by: str | None = "human",
        digits: str | None = None,
        duration: int = 20,
        error_code: int | str | None = None,
    ) -> None:
        """How calls to ``number`` (``"*"``: any) go: answered (and ``digits`` pressed), busy, no-answer, failed."""
        script = CallScript(outcome, answered_by, digits, duration, error_code)
        with self._lock:
            self._script.calls[number] = script

    def reset(self) -> None:
        """Forget every record, callback and script."""
        with self._lock:
            self._script = _Script()
            self._records.clear()
            self._requests.clear()
            self._answers.clear()
        self.clear_webhooks()

    def _add(self, slot: str, countdown: Countdown) -> None:
        with self._lock:
            getattr(self._script, slot).append(countdown)

    # ------------------------------------------------------------ what it saw

    @property
    def records(self) -> list[TwilioRecord]:
        with self._lock:
            return list(self._records)

    @property
    def messages(self) -> list[TwilioRecord]:
        return [r for r in self.records if r.kind == "message"]

    @property
    def calls(self) -> list[TwilioRecord]:
        return [r for r in self.records if r.kind == "call"]

    @property
    def requests(self) -> list[FakeRequest]:
        """Every HTTP request, refused ones included."""
        with self._lock:
            return list(self._requests)

    def count_for(self, intent_id: str) -> int:
        """How many messages and calls of ``intent_id`` reached the fake."""
        return sum(1 for r in self.records if r.intent_id == intent_id)

    def answered(self, sid: str) -> float | None:
        """``time.monotonic()`` when the answer accepting ``sid`` was written (None: not yet, or never)."""
        with self._lock:
            response = self._answers.get(sid)
        return response.sent if response is not None else None

    def record(self, sid: str) -> TwilioRecord:
        found = [r for r in self.records if r.sid == sid]
        if not found:
            raise KeyError(sid)
        return found[0]

    def settings(self, **extra: Any) -> dict[str, Any]:
        """``load_settings`` overrides that point dunning's Twilio channels at this fake."""
        return {
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": self.auth_token,
            "twilio_from": self.from_,
            "twilio_base_url": self.url,
            "twilio_timeout": 5.0,
            **extra,
        }

    # ------------------------------------------------------------ protocol

    def handle(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self._requests.append(request)
        match = _RESOURCE.match(request.path)
        if match is None:
            return _error(20404)
        if not self._authorized(request, match["sid"]):
            return _error(20003)
        kind = "message" if match["kind"] == "Messages" else "call"
        if request.method == "GET" and match["id"]:
            return self._fetch(match["id"])
        if request.method == "GET":
            return self._list(kind, request)
        if request.method != "POST" or match["id"]:
            return _error(20404)
        outage = self._take("outages")
        if outage is not None:
            status, retry_after = outage
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            code = 20429 if status == 429 else (20503 if status == 503 else 20500)
            return _error(code, status=status, headers=headers)
        params = {k: v[0] for k, v in request.form().items()}
        refusal = self._validate(kind, params)
        if refusal is not None:
            return refusal
        record = self._accept(kind, request, params)
        response = FakeResponse(201, self.resource_json(record, first_status(record)))
        response.delay = float(self._take("slow") or 0.0)
        response.drop = bool(self._take("drops", default=False))
        response.after = self._after(record)
        with self._lock:
            self._answers[record.sid] = response
        return response

    def _authorized(self, request: FakeRequest, sid: str) -> bool:
        scheme, _, value = request.header("Authorization").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except ValueError:
            return False
        return user == self.account_sid == sid and password == self.auth_token

    def _take(self, slot: str, default: Any = None) -> Any:
        with self._lock:
            countdown = take_first(getattr(self._script, slot))
        if countdown is None:
            return default
        return countdown.value if countdown.value is not None else True

    def _validate(self, kind: str, params: Mapping[str, str]) -> FakeResponse | None:
        to = params.get("To", "")
        if not to:
            return _error(21604)
        if kind == "message":
            if not (params.get("From") or params.get("MessagingServiceSid")):
                return _error(21603)
            if not params.get("Body"):
                return _error(21602)
            if len(params["Body"]) > 1600:
                return _error(21617)
        elif not (params.get("Twiml") or params.get("Url") or params.get("ApplicationSid")):
            return _error(21205)
        with self._lock:
            failure = self._script.failures.get((to, kind)) or self._script.failures.get((to, None))
        if failure is not None:
            code, status, text, problem_details = failure
            return _error(code, status=status, text=text, problem_details=problem_details)
        if not _E164.match(to):
            return _error(21211)
        return None

    def _accept(self, kind: str, request: FakeRequest, params: Mapping[str, str]) -> TwilioRecord:
        callback = params.get("StatusCallback")
        record = TwilioRecord(
            kind=kind,
            sid=("SM" if kind == "message" else "CA") + uuid.uuid4().hex,
            to=params["To"],
            from_=params.get("From"),
            body=params.get("Body"),
            twiml=params.get("Twiml"),
            status_callback=callback,
            intent_id=_intent_of(callback),
            status_events=tuple(request.form().get("StatusCallbackEvent", [])),
            params=dict(params),
            at=self.clock(),
            received=time.monotonic(),
        )
        with self._lock:
            self._records.append(record)
        return record

    def _fetch(self, sid: str) -> FakeResponse:
        try:
            record = self.record(sid)
        except KeyError:
            return _error(20404)
        return FakeResponse(200, self.resource_json(record, self.last_status(record)))

    def _list(self, kind: str, request: FakeRequest) -> FakeResponse:
        failure = self._take("lists")
        if failure is not None:
            status, _ = failure
            return _error(20503 if status == 503 else 20500, status=status)
        resources = [self.resource_json(r, self.last_status(r)) for r in self.records if r.kind == kind]
        try:
            return FakeResponse(200, list_page(kind, resources, request.query, request.path))
        except ListQueryError as exc:
            return _error(20001, status=400, text=str(exc))

    def _after(self, record: TwilioRecord) -> Any:
        with self._lock:
            if record.kind == "message":
                steps = self._script.sms.get(record.to) or self._script.sms.get("*")
                return (lambda: self.play_sms(record, steps)) if steps else None
            script = self._script.calls.get(record.to) or self._script.calls.get("*")
            return (lambda: self.play_call(record, script)) if script else None

    def resource_json(self, record: TwilioRecord, status: str) -> dict[str, Any]:
        """The Message or Call resource as Twilio's API returns it (see :func:`resource_json`)."""
        return resource_json(record, status, self.account_sid)


def _intent_of(url: str | None) -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("intent_id")
    return values[0] if values else None


def _error(
    code: int,
    *,
    status: int | None = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
    problem_details: bool = False,
) -> FakeResponse:
    http, default = ERRORS.get(code, (status or 400, f"Error {code}"))
    status = status or http
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    body: dict[str, Any] = (
        {
            "type": more_info,
            "title": text or default,
            "status": status,
            "code": code,
            "detail": text or default,
        }
        if problem_details
        else {"code": code, "message": text or default, "more_info": more_info, "status": status}
    )
    return FakeResponse(status, body, headers=dict(headers or {}))
