"""Which voice reads a call aloud, per debtor locale: Twilio's default voice speaks no Mandarin.

Every ``<Say>`` dunning emits names a ``voice`` and the ``language`` that voice
speaks (Twilio refuses or mangles a mismatched pair). A built-in table covers
the locales dunning ships templates for; ``DUNNING_TWILIO_VOICES`` adds or
replaces entries: ``zh-CN=Polly.Zhiyu,en=Polly.Joanna,fr=Polly.Lea:fr-FR``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dunning.core.errors import ConfigError

__all__ = ["BUILT_IN", "FALLBACK", "SETTING", "Voice", "parse_voices", "voice_for", "voice_speaking"]

#: The environment variable that overrides the table, named in its errors.
SETTING = "DUNNING_TWILIO_VOICES"
#: The locale whose voice reads a call in a locale with none (templates fall back to English too).
FALLBACK = "en"

_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
#: ``man``, ``Polly.Joanna-Neural``, ``Google.cmn-CN-Standard-A``: a word, then dotted words.
_VOICE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9][A-Za-z0-9_-]*)*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,4})?$")
#: A Google voice names its language: ``Google.<language>-<REGION>-...``.
_GOOGLE = re.compile(r"^Google\.(?P<language>[a-z]{2,3}-[A-Z]{2})-")


@dataclass(frozen=True)
class Voice:
    """A Twilio ``<Say voice>`` and the ``<Say language>`` it speaks."""

    name: str
    language: str

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


#: Amazon Polly voices as Twilio names them, with the language code each speaks
#: (Twilio's text-to-speech voice list; Polly's Mandarin voice Zhiyu speaks ``cmn-CN``).
BUILT_IN: Mapping[str, Voice] = MappingProxyType(
    {
        "en": Voice("Polly.Joanna", "en-US"),
        "en-GB": Voice("Polly.Amy", "en-GB"),
        "zh": Voice("Polly.Zhiyu", "cmn-CN"),
    }
)


def _key(locale: str) -> str:
    """Locales compare case-insensitively, ``zh_CN`` as ``zh-CN``."""
    return locale.strip().replace("_", "-").lower()


def voice_for(locale: str, voices: Mapping[str, Voice]) -> Voice | None:
    """The voice of ``locale`` itself or of its language (``zh-CN``, then ``zh``); None if neither."""
    table = {_key(k): v for k, v in voices.items()}
    wanted = _key(locale)
    return table.get(wanted) or table.get(wanted.split("-")[0])


def voice_speaking(locale: str, voices: Mapping[str, Voice]) -> Voice:
    """The voice to read ``locale`` with: its own, else the fallback locale's (as templates fall back)."""
    found = voice_for(locale, voices) or voice_for(FALLBACK, voices) or BUILT_IN[FALLBACK]
    return found


def parse_voices(text: str | None) -> dict[str, Voice]:
    """The built-in table with the entries of ``DUNNING_TWILIO_VOICES`` over it.

    Each entry is ``LOCALE=VOICE`` or ``LOCALE=VOICE:LANGUAGE``. Without a
    language, a Google voice's own is used, else the built-in one of the
    locale (or its language), else the locale itself when it names a region.
    Raises ``ConfigError`` naming the setting and the entry at fault.
    """
    voices = dict(BUILT_IN)
    seen: set[str] = set()
    for entry in (part.strip() for part in (text or "").split(",")):
        if not entry:
            continue
        locale, voice = _entry(entry)
        if _key(locale) in seen:
            raise ConfigError(f"{SETTING}: locale {locale!r} is given twice")
        seen.add(_key(locale))
        voices = {k: v for k, v in voices.items() if _key(k) != _key(locale)}
        voices[locale] = voice
    return voices


def _entry(entry: str) -> tuple[str, Voice]:
    locale, equals, spec = (part.strip() for part in entry.partition("="))
    if not equals or not locale or not spec:
        raise ConfigError(f"{SETTING}: {entry!r} is not LOCALE=VOICE (e.g. zh-CN=Polly.Zhiyu)")
    if not _LOCALE.match(locale):
        raise ConfigError(f"{SETTING}: {entry!r}: {locale!r} is not a locale such as zh-CN or en")
    name, colon, language = (part.strip() for part in spec.partition(":"))
    if not _VOICE.match(name):
        raise ConfigError(f"{SETTING}: {entry!r}: {name!r} is not a Twilio voice name such as Polly.Zhiyu")
    if colon and not _LANGUAGE.match(language):
        raise ConfigError(f"{SETTING}: {entry!r}: {language!r} is not a language code such as cmn-CN")
    language = language or _language_of(locale, name)
    if not language:
        raise ConfigError(
            f"{SETTING}: {entry!r}: say which language {name} speaks, as {locale}={name}:<language> "
            "(e.g. fr=Polly.Lea:fr-FR)"
        )
    return locale, Voice(name, language)


def _language_of(locale: str, name: str) -> str:
    google = _GOOGLE.match(name)
    if google:
        return google["language"]
    built_in = voice_for(locale, BUILT_IN)
    if built_in is not None:
        return built_in.language
    if "-" in locale.replace("_", "-"):
        language, _, region = locale.replace("_", "-").partition("-")
        return f"{language.lower()}-{region.upper()}"
    return ""
