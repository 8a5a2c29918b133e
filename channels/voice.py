"""Voice calls through Twilio: the reminder is read out, and one keypress is the debtor's answer.

The TwiML travels with the call (no fetch of our server at answer time): a
``<Gather>`` reads the rendered body with a voice that speaks the debtor's
language (see :mod:`.voices`) and posts the key pressed to our gather
webhook, which knows the intent and the language from its query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from twilio.twiml.voice_response import VoiceResponse

from dunning.channels.twilio_common import (
    LIST_PAGE,
    TwilioAccount,
    callback_url,
    code_error,
    reconcile_by_listing,
)
from dunning.channels.twilio_settings import TwilioSettings
from dunning.channels.voice_lines import line, say
from dunning.channels.voices import BUILT_IN, SETTING, Voice, parse_voices, voice_for, voice_speaking
from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.errors import ConfigError, DeliveryError, PermanentDeliveryError
from dunning.core.hookspecs import hookimpl
from dunning.core.outcome import StatusOutcome
from dunning.core.price import Price
from dunning.core.sections import SettingsSection

__all__ = ["GATHER_PATH", "STATUS_PATH", "VoiceChannel", "normalise_machine_detection", "twiml_for"]

log = logging.getLogger(__name__)

#: Where Twilio posts the call's progress (under ``public_url``).
STATUS_PATH = "/webhooks/twilio/voice/status"
#: Where Twilio posts the key the debtor pressed.
GATHER_PATH = "/webhooks/twilio/voice/gather"
#: Call progress events we ask Twilio to report.
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
#: Seconds the Gather waits for a key after the prompt ends.
GATHER_SECONDS = 6
#: The values Twilio accepts for ``MachineDetection`` (its Calls API), by their lower-case spelling.
MACHINE_DETECTION = {"enable": "Enable", "detectmessageend": "DetectMessageEnd"}
#: Twilio's call statuses (its Calls API) and what each means: busy and no-answer rang out.
STATUSES = MappingProxyType(
    {
        "queued": StatusOutcome.ACCEPTED,
        "initiated": StatusOutcome.ACCEPTED,
        "ringing": StatusOutcome.ACCEPTED,
        "in-progress": StatusOutcome.ACCEPTED,
        "completed": StatusOutcome.DELIVERED,
        "busy": StatusOutcome.UNANSWERED,
        "no-answer": StatusOutcome.UNANSWERED,
        "failed": StatusOutcome.FAILED,
        "canceled": StatusOutcome.FAILED,
    }
)
#: The setting ``machine_detection`` comes from, named in its error.
MACHINE_DETECTION_SETTING = "DUNNING_TWILIO_MACHINE_DETECTION"


def normalise_machine_detection(value: str | None) -> str | None:
    """Twilio's spelling of a ``MachineDetection`` value (any case), None when unset.

    Anything but ``Enable`` or ``DetectMessageEnd`` is a ``ConfigError``: Twilio
    would refuse every call (``true`` is no value it accepts).
    """
    if value is None or not value.strip():
        return None
    found = MACHINE_DETECTION.get(value.strip().lower())
    if found is None:
        raise ConfigError(
            f"{MACHINE_DETECTION_SETTING}: {value!r} is not a value Twilio accepts; "
            "use Enable or DetectMessageEnd (or leave it unset for no detection)"
        )
    return found


def twiml_for(message: OutboundMessage, gather_url: str, voices: Mapping[str, Voice] = BUILT_IN) -> str:
    """The call's TwiML: the reminder inside a one-digit Gather, then a closing line and hang-up."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", num_digits=1, action=gather_url, method="POST", timeout=GATHER_SECONDS
    )
    say(gather, message.body, voice_speaking(message.locale, voices))
    say(response, *line("closing", message.locale, voices))
    response.hangup()
    xml: str = response.to_xml(xml_declaration=False)
    return xml


class VoiceChannel(Channel):
    """One automated call per reminder; a call attempt is what Reg F's 7-in-7 counts."""

    name = "voice"
    contact_kind = "phone"
    kind = "call"
    template_parts = ("body",)
    settings_namespace = "twilio"
    statuses = STATUSES

    def __init__(
        self,
        twilio: TwilioAccount,
        *,
        from_: str,
        public_url: str,
        ring_timeout: int = 30,
        machine_detection: str | None = None,
        voices: Mapping[str, Voice] = BUILT_IN,
    ) -> None:
        if not from_:
            raise ValueError("a voice channel needs a From number")
        self.twilio = twilio
        self.from_ = from_
        self.public_url = public_url
        self.ring_timeout = ring_timeout
        self.machine_detection = normalise_machine_detection(machine_detection)
        self.voices = dict(voices)

    @classmethod
    def from_settings(cls, settings: Any) -> VoiceChannel | None:
        """Configured by a Twilio SID, token and ``DUNNING_TWILIO_FROM``: a messaging service cannot call.

        The machine-detection and voice settings are checked first, so that a
        bad value is a ``ConfigError`` at start-up, not a refused call later.
        """
        own = TwilioSettings.of(settings)
        detection = normalise_machine_detection(own.machine_detection)
        voices = parse_voices(own.voices)
        from_ = own.from_
        if not from_:
            return None
        twilio = TwilioAccount.from_settings(settings)
        if twilio is None:
            return None
        return cls(
            twilio,
            from_=from_,
            public_url=getattr(settings, "public_url", "http://127.0.0.1:8000"),
            ring_timeout=own.ring_timeout,
            machine_detection=detection,
            voices=voices,
        )

    @classmethod
    def price(cls, settings: Any) -> Price:
        """Per call attempt: ``DUNNING_TWILIO_VOICE_COST`` (or ``DUNNING_COST_VOICE``)."""
        own = TwilioSettings.of(settings)
        return Price(own.voice_cost, own.cost_currency)

    @classmethod
    def describe(cls, settings: Any) -> dict[str, Any]:
        """The voice that reads each locale, as ``dunning channels list`` shows it."""
        voices = parse_voices(TwilioSettings.of(settings).voices)
        return {"voices": {locale: str(voice) for locale, voice in sorted(voices.items())}}

    @classmethod
    def locale_problem(cls, locale: str, settings: Any) -> str | None:
        """A template in a locale no voice speaks would be read by the English voice: say so."""
        try:
            voices = parse_voices(TwilioSettings.of(settings).voices)
        except ConfigError as exc:
            return str(exc)
        if voice_for(locale, voices) is not None:
            return None
        fallback = voice_speaking(locale, voices)
        return (
            f"no voice speaks {locale!r}: the call would be read by {fallback}; "
            f"add one to {SETTING} (e.g. {locale}=Polly.<Name>:<language>)"
        )

    def gather_url(self, message: OutboundMessage) -> str:
        """Where the key pressed goes: the intent and the call's locale ride in the query."""
        url = callback_url(self.public_url, GATHER_PATH, message.intent_id)
        return f"{url}&locale={quote(message.locale, safe='')}"

    def send(self, message: OutboundMessage) -> Receipt:
        if not message.parts.get("body"):
            raise PermanentDeliveryError("a call needs a non-empty body part", code="no_body")
        twiml = twiml_for(message, self.gather_url(message), self.voices)
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


@hookimpl
def dunning_register_settings(register: Callable[[type[SettingsSection]], None]) -> None:
    register(TwilioSettings)
