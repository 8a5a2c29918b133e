"""SMS encoding and segment counting (GSM 03.38 versus UCS-2).

One character outside GSM-7 makes the whole message UCS-2: 70 characters in
one segment, 67 per segment when split, counted in UTF-16 units (an emoji is
two). GSM-7 fits 160, then 153 per segment; characters of the extension
table (``{ } [ ] ~ \\ | ^ €``) take two septets. Chinese is always UCS-2.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SmsShape", "sms_shape"]

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"
_GSM = frozenset(_GSM_BASIC)
_GSM_EXT = frozenset(_GSM_EXTENDED)


@dataclass(frozen=True)
class SmsShape:
    """How a text travels as SMS: encoding, length in units, and segments billed."""

    encoding: str
    units: int
    segments: int

    @property
    def per_segment(self) -> int:
        if self.segments <= 1:
            return 160 if self.encoding == "GSM-7" else 70
        return 153 if self.encoding == "GSM-7" else 67


def sms_shape(text: str) -> SmsShape:
    """The encoding, length and segment count of ``text`` as one SMS."""
    if all(ch in _GSM or ch in _GSM_EXT for ch in text):
        units = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsShape(encoding, units, 1 if units else 0)
    return SmsShape(encoding, units, -(-units // multi))
