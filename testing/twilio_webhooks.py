"""The calls Twilio makes to *us*: status callbacks, keypresses and inbound texts, signed.

Each is a form POST with ``X-Twilio-Signature`` computed by the real SDK's
``RequestValidator``, so webhook tests verify exactly what production will.
Only loopback URLs are called; others are recorded as skipped.
"""

from __future__ import annotations

import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twilio.request_validator import RequestValidator

from dunning.core.content.sms import sms_shape
from dunning.testing.fake_server import is_loopback, post_form

if TYPE_CHECKING:
    from dunning.testing.fake_twilio import TwilioRecord

__all__ = ["CallScript", "TwilioWebhooks", "Webhook"]


@dataclass(frozen=True)
class CallScript:
    """How a scripted call goes: ``completed`` (answered), ``busy``, ``no-answer`` or ``failed``."""

    outcome: str = "completed"
    answered_by: str | None = "human"
    digits: str | None = None
    duration: int = 20
    error_code: int | str | None = None


@dataclass(frozen=True)
class Webhook:
    """One POST the fake made (or skipped): what it sent and what the webhook answered."""

    kind: str  #: ``status``, ``gather`` or ``inbound``
    url: str
    params: Mapping[str, str]
    signature: str
    status: int | None
    error: str | None = None


class TwilioWebhooks:
    """Mixin of :class:`~dunning.testing.fake_twilio.FakeTwilio`: plays Twilio's side of webhooks."""

    def __init__(self, account_sid: str, auth_token: str, *, callback_delay: float = 0.0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callback_delay = callback_delay
        self._validator = RequestValidator(auth_token)
        self._webhooks: list[Webhook] = []
        self._statuses: dict[str, str] = {}
        self._sequences: dict[str, int] = {}
        self._hook_cond = threading.Condition()

    def record(self, sid: str) -> TwilioRecord:
        raise NotImplementedError

    # ------------------------------------------------------------ public helpers

    def signature(self, url: str, params: Mapping[str, str]) -> str:
        """``X-Twilio-Signature`` of a POST of ``params`` to ``url``."""
        signature: str = self._validator.compute_signature(url, dict(params))
        return signature

    @property
    def callbacks(self) -> list[Webhook]:
        """Every webhook POST so far, in order."""
        with self._hook_cond:
            return list(self._webhooks)

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[Webhook]:
        """Block until ``count`` webhook POSTs were made; raise ``TimeoutError`` otherwise."""
        with self._hook_cond:
            if not self._hook_cond.wait_for(lambda: len(self._webhooks) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self._webhooks)} of {count} Twilio callbacks after {timeout}s")
            return list(self._webhooks)

    def last_status(self, record: TwilioRecord) -> str:
        """The status Twilio would report now for the record (its last callback's)."""
        with self._hook_cond:
            return self._statuses.get(record.sid, first_status(record))

    def send_status(self, sid: str, status: str, *, error_code: int | str | None = None) -> int | None:
        """Post one status callback for a message or call now; return the webhook's HTTP status."""
        record = self.record(sid)
        if record.kind == "message":
            return self._post("status", record.status_callback, self._sms_params(record, status, error_code))
        extra = {"ErrorCode": str(error_code)} if error_code else {}
        return self._post("status", record.status_callback, self._status_params(record, status, **extra))

    def repeat(self, hook: Webhook) -> int | None:
        """Post a webhook again exactly as before (Twilio retrying a callback it thinks was lost)."""
        return self._post(hook.kind, hook.url, dict(hook.params))

    def press(self, sid: str, digits: str = "1") -> int | None:
        """The debtor presses ``digits``: POST ``Digits`` to the Gather action of the call's TwiML."""
        record = self.record(sid)
        gather = ElementTree.fromstring(record.twiml or "<Response/>").find(".//Gather")
        action = gather.get("action") if gather is not None else None
        if not action:
            raise ValueError(f"call {sid} has no <Gather action=...> in its TwiML")
        params = self._call_params(record, "in-progress", Digits=digits, FinishedOnKey="")
        return self._post("gather", action, params)

    def inbound_sms(self, url: str, *, from_: str, to: str, body: str) -> int | None:
        """A debtor texts ``body`` from ``from_`` to our number ``to``: POST it to ``url``."""
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(max(1, sms_shape(body).segments)),
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        return self._post("inbound", url, params)

    def clear_webhooks(self) -> None:
        with self._hook_cond:
            self._webhooks.clear()
            self._statuses.clear()
            self._sequences.clear()

    # ------------------------------------------------------------ scripted sequences

    def play_sms(self, record: TwilioRecord, steps: Sequence[str | tuple[str, int | str]]) -> None:
        for step in steps:
            status, code = (step, None) if isinstance(step, str) else step
            self._pause()
            self._post("status", record.status_callback, self._sms_params(record, status, code))

    def play_call(self, record: TwilioRecord, script: CallScript) -> None:
        wanted = set(record.status_events)
        answered: dict[str, str] = {}
        if script.answered_by and record.params.get("MachineDetection"):
            answered["AnsweredBy"] = script.answered_by
        if script.outcome == "failed":
            extra = {"ErrorCode": str(script.error_code)} if script.error_code else {}
            self._event(record, wanted, "completed", "failed", CallDuration="0", **extra)
            return
        self._event(record, wanted, "initiated", "initiated")
        self._event(record, wanted, "ringing", "ringing")
        if script.outcome != "completed":
            self._event(record, wanted, "completed", script.outcome, CallDuration="0")
            return
        self._event(record, wanted, "answered", "in-progress", **answered)
        if script.digits:
            self._pause()
            self.press(record.sid, script.digits)
        self._event(record, wanted, "completed", "completed", CallDuration=str(script.duration), **answered)

    def _event(self, record: TwilioRecord, wanted: set[str], event: str, status: str, **extra: str) -> None:
        # Twilio always reports the end of a call; other events only when asked for.
        if event in wanted or event == "completed":
            self._pause()
            self._post("status", record.status_callback, self._status_params(record, status, **extra))

    # ------------------------------------------------------------ plumbing

    def _sms_params(self, record: TwilioRecord, status: str, code: int | str | None) -> dict[str, str]:
        params = {
            "MessageSid": record.sid,
            "SmsSid": record.sid,
            "AccountSid": self.account_sid,
            "From": record.from_ or getattr(self, "from_", ""),
            "To": record.to,
            "MessageStatus": status,
            "SmsStatus": status,
            "ApiVersion": "2010-04-01",
        }
        if record.params.get("MessagingServiceSid"):
            params["MessagingServiceSid"] = record.params["MessagingServiceSid"]
        if code is not None:
            params["ErrorCode"] = str(code)
        return params

    def _status_params(self, record: TwilioRecord, status: str, **extra: str) -> dict[str, str]:
        """A call status callback: the call's parameters and its ``SequenceNumber`` (0, 1, ...)."""
        with self._hook_cond:
            sequence = self._sequences.get(record.sid, 0)
            self._sequences[record.sid] = sequence + 1
        return self._call_params(record, status, SequenceNumber=str(sequence), **extra)

    def _call_params(self, record: TwilioRecord, status: str, **extra: str) -> dict[str, str]:
        return {
            "CallSid": record.sid,
            "AccountSid": self.account_sid,
            "From": record.from_ or "",
            "To": record.to,
            "CallStatus": status,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallbackSource": "call-progress-events",
            "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            **extra,
        }

    def _pause(self) -> None:
        if self.callback_delay:
            time.sleep(self.callback_delay)

    def _post(self, kind: str, url: str | None, params: dict[str, str]) -> int | None:
        if not url:
            return None
        status_word = params.get("MessageStatus") or params.get("CallStatus")
        sid = params.get("MessageSid") or params.get("CallSid")
        if kind == "status" and sid and status_word:
            with self._hook_cond:
                self._statuses[sid] = status_word
        signature = self.signature(url, params)
        status: int | None = None
        error: str | None = None
        if not is_loopback(url):
            error = "skipped: not a loopback URL"
        else:
            try:
                status = post_form(url, params, {"X-Twilio-Signature": signature})
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
        with self._hook_cond:
            self._webhooks.append(Webhook(kind, url, dict(params), signature, status, error))
            self._hook_cond.notify_all()
        return status


def first_status(record: TwilioRecord) -> str:
    """What the API answers on creation: ``accepted`` for a messaging service, else ``queued``."""
    if record.kind == "message" and not record.from_:
        return "accepted"
    return "queued"
