"""The agent keypress on a reminder call: put the debtor through to a person, or say why not.

When the policy names an agent's number for the case (by segment, then
locale: ``handoff: {numbers: {zh-CN: "+86...", en: "+1..."}}``), the call
answers with a ``<Dial>`` to it. Twilio posts the outcome of that leg
(``DialCallStatus``, ``DialCallDuration``) to the ``<Dial action>`` URL, a
signed webhook of its own: the case's work item records it, and a caller
whom nobody answered hears, in their language, that an agent will call back.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from twilio.twiml.voice_response import VoiceResponse

from dunning.channels.twilio_common import callback_url
from dunning.channels.voice_lines import line, say
from dunning.channels.voices import Voice

__all__ = ["ANSWERED", "DIAL_PATH", "after_dial", "handoff_twiml"]

#: Where Twilio posts the end of the call leg to the agent.
DIAL_PATH = "/webhooks/twilio/voice/dial"
#: ``DialCallStatus`` values meaning the agent took the call (Twilio's <Dial> documentation).
ANSWERED = frozenset({"completed", "answered"})


def handoff_twiml(
    *,
    number: str | None,
    locale: str,
    voices: Mapping[str, Voice],
    public_url: str,
    intent_id: str,
    timeout_seconds: int,
    caller_id: str | None,
) -> str:
    """TwiML for the agent keypress: a line, then ``<Dial>`` to the agent, or the fallback and goodbye."""
    response = VoiceResponse()
    if number is None:
        say(response, *line("no_agent", locale, voices))
        response.hangup()
        return str(response)
    say(response, *line("handoff", locale, voices))
    action = f"{callback_url(public_url, DIAL_PATH, intent_id)}&locale={quote(locale, safe='')}"
    options = {"caller_id": caller_id} if caller_id else {}
    response.dial(number, action=action, method="POST", timeout=timeout_seconds, **options)
    return str(response)


def after_dial(status: str, locale: str, voices: Mapping[str, Voice]) -> str:
    """TwiML once the agent's leg ended: hang up after a conversation, else the fallback line."""
    response = VoiceResponse()
    if status.strip().lower() not in ANSWERED:
        say(response, *line("no_agent", locale, voices))
    response.hangup()
    return str(response)
