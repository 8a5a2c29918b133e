"""Voice calls through Twilio: the reminder is read out, and one keypress is the debtor's answer.

The TwiML travels with the call (no fetch of our server at answer time): a
``<Gather>`` reads the rendered body in the debtor's language and posts the
key pressed to our gather webhook, which knows the intent from its query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from dunning.channels.twilio_common import (
    LIST_PAGE,
    TwilioAccount,
    callback_url,
    code_error,
    reconcile_by_listing,
)
from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.errors import DeliveryError, PermanentDeliveryError
from dunning.core.hookspecs import hookimpl

__all__ = ["GATHER_PATH", "STATUS_PATH", "VoiceChannel", "say_language", "twiml_for"]

log = logging.getLogger(__name__)

#: Where Twilio posts the call's progress (under ``public_url``).
STATUS_PATH = "/webhooks/twilio/voice/status"
#: Where Twilio posts the key the debtor pressed.
GATHER_PATH = "/webhooks/twilio/voice/gather"
#: Call progress events we ask Twilio to report.
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
#: Seconds the Gather waits for a key after the prompt ends.
GATHER_SECONDS = 6
#: What is said when no key was pressed, before hanging up.
CLOSING = {
    "cmn-CN": "未收到您的按键，再见。",
    "en-US": "We did not receive a key press. Goodbye.",
}


def say_language(locale: str) -> str:
    """The ``<Say language>`` for a debtor's locale: Mandarin for ``zh*``, else US English."""
    return "cmn-CN" if locale.lower().startswith("zh") else "en-US"


def twiml_for(message: OutboundMessage, gather_url: str) -> str:
    """The call's TwiML: the reminder inside a one-digit Gather, then a closing line and hang-up."""
    language = say_language(message.locale)
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", num_digits=1, action=gather_url, method="POST", timeout=GATHER_SECONDS
    )
    gather.say(message.body, language=language)
    response.say(CLOSING[language], language=language)
    response.hangup()
    xml: str = response.to_xml(xml_declaration=False)
    return xml


class VoiceChannel(Channel):
    """One automated call per reminder; a call attempt is what Reg F's 7-in-7 counts."""

    name = "voice"
    contact_kind = "phone"
    kind = "call"
    template_parts = ("body",)

    def __init__(
        self,
        twilio: TwilioAccount,
        *,
        from_: str,
        public_url: str,
        ring_timeout: int = 30,
        machine_detection: str | None = None,
    ) -> None:
        if not from_:
            raise ValueError("a voice channel needs a From number")
        self.twilio = twilio
        self.from_ = from_
        self.public_url = public_url
        self.ring_timeout = ring_timeout
        self.machine_detection = machine_detection

    @classmethod
    def from_settings(cls, settings: Any) -> VoiceChannel | None:
        """Configured by a Twilio SID, token and ``twilio_from``: a messaging service cannot call."""
        from_ = getattr(settings, "twilio_from", None)
        if not from_:
            return None
        twilio = TwilioAccount.from_settings(settings)
        if twilio is None:
            return None
        return cls(
            twilio,
            from_=from_,
            public_url=getattr(settings, "public_url", "http://127.0.0.1:8000"),
            ring_timeout=getattr(settings, "twilio_ring_timeout", 30),
            machine_detection=getattr(settings, "twilio_machine_detection", None),
        )

    def send(self, message: OutboundMessage) -> Receipt:
        if not message.parts.get("body"):
            raise PermanentDeliveryError("a call needs a non-empty body part", code="no_body")
        twiml = twiml_for(message, callback_url(self.public_url, GATHER_PATH, message.intent_id))
        options: dict[str, Any] = {}
        if self.machine_detection:
            options["machine_detection"] = self.machine_detection
        try:
            created = self.twilio.call(
                "calls.create",
                lambda: self.twilio.client.calls.create(
                    to=message.to,
                    from_=self.from_,
                    twiml=twiml,
                    status_callback=callback_url(self.public_url, STATUS_PATH, message.intent_id),
                    status_callback_event=list(STATUS_EVENTS),
                    timeout=self.ring_timeout,
                    **options,
                ),
            )
        except DeliveryError as exc:
            log.info(
                "call to %s for intent %s failed: %s (%s)",
                mask_address(message.to),
                message.intent_id,
                type(exc).__name__,
                exc.code,
            )
            raise
        return Receipt(provider_id=created.sid, status=str(created.status or "queued"))

    can_reconcile = True

    def reconcile(self, intent_id: str, to: str, since: datetime) -> Receipt | None:
        """Did Twilio place a call to ``to`` since ``since``? Its receipt if so, None if surely not.

        Two reads of the Calls list, by recipient: calls started on or after
        the day of ``since`` (Twilio filters ``StartTime`` by the day), and
        calls still ``queued`` (no start time yet). Either read failing raises
        ``TransientDeliveryError``: the runtime asks again later.
        """
        calls = self.twilio.client.calls
        return reconcile_by_listing(
            self.twilio,
            "calls",
            intent_id,
            to,
            since,
            lambda day: [
                *calls.list(to=to, start_time_after=day, page_size=LIST_PAGE),
                *calls.list(to=to, status="queued", page_size=LIST_PAGE),
            ],
        )

    def rate_key(self) -> str:
        """Twilio limits calls per second per account, whatever the caller ID."""
        return f"twilio:{self.twilio.account_sid}:voice"

    def status_error(self, code: str | None, status: str) -> DeliveryError | None:
        """Only ``failed`` is a failure: busy or no-answer is an attempt that rang, not an error."""
        if status != "failed":
            return None
        message = f"Twilio reported the call failed (error {code or 'none'})"
        typed = code_error(code, message)
        return typed if typed is not None else PermanentDeliveryError(message, code=code)

    def close(self) -> None:
        self.twilio.close()


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(VoiceChannel)
