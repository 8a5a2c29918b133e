"""What a reminder call itself says, besides the reminder: the closing line and keypress answers.

Each line is written per language; a language with no text of its own hears
the English text, read by the English voice, never by a voice of another
language. Every ``<Say>`` names its voice and language (see :mod:`.voices`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dunning.channels.voices import FALLBACK, Voice, voice_for, voice_speaking

__all__ = ["LINES", "line", "say"]

#: The fixed lines of a call, by meaning and language.
LINES: Mapping[str, Mapping[str, str]] = {
    # no key pressed before the Gather timed out
    "closing": {"zh": "未收到您的按键，再见。", "en": "We did not receive a key press. Goodbye."},
    "promise": {
        "zh": "谢谢，我们已记录您的还款承诺。",
        "en": "Thank you. We have noted your promise to pay.",
    },
    "ack": {"zh": "谢谢，我们已收到您的确认。", "en": "Thank you for confirming."},
    "handoff": {
        "zh": "正在为您转接人工客服，请稍候。",
        "en": "Please hold while we connect you to an agent.",
    },
    "unknown": {"zh": "抱歉，未能识别您的按键。", "en": "Sorry, that key was not recognised."},
    # the agent keypress, when no agent number is configured or nobody answered it
    "no_agent": {
        "zh": "抱歉，目前没有客服可以接听。我们会尽快回电给您，再见。",
        "en": "Sorry, no agent is available right now. We will call you back soon. Goodbye.",
    },
    # a key pressed on a call no reminder stands behind (a channel test): thanks, and goodbye
    "goodbye": {"zh": "谢谢，再见。", "en": "Thank you. Goodbye."},
}


def line(meaning: str, locale: str, voices: Mapping[str, Voice]) -> tuple[str, Voice]:
    """The text of ``meaning`` for ``locale`` and the voice to read it; English if unwritten."""
    texts = LINES.get(meaning, LINES["unknown"])
    language = locale.replace("_", "-").split("-")[0].lower()
    if language in texts and voice_for(locale, voices) is not None:
        return texts[language], voice_speaking(locale, voices)
    return texts[FALLBACK], voice_speaking(FALLBACK, voices)


def say(parent: Any, text: str, voice: Voice) -> None:
    """Append ``<Say voice=... language=...>text</Say>`` to a TwiML verb or response."""
    parent.say(text, voice=voice.name, language=voice.language)
