"""Masking personal data on its way into the log, whatever line carries it.

Code masks what it knows to be personal (``mask_phone``, ``mask_address``);
this filter is the net under it, for a number quoted back in an exception
message or a token in a driver's error. It masks phone-like and account-like
runs of digits (dates, times and ids with letters in them are left alone),
push tokens, bearer tokens, JSON Web Tokens and ``secret=value`` pairs. Names
and message bodies cannot be recognised: code never logs them.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactingFilter", "scrub"]

#: A phone number: a plus, then 7 to 15 digits with spaces, dashes, dots or brackets between them.
_PHONE = re.compile(r"(?<![\w+])\+\d(?:[ .\-()]{0,2}\d){6,14}(?![\w])")
#: An account or card number, or a phone without its plus: 7 or more digits, spaces or dashes allowed.
_DIGITS = re.compile(r"(?<![\w.:/-])\d(?:[ \-]?\d){6,}(?![\w])")
#: A date or time is not personal data: 2026-12-01, 20261201 or 2026-12-01T08:00:00 stay as they are.
_DATE = re.compile(r"^(?:19|20)\d{2}-?[01]\d-?[0-3]\d$")
#: An FCM registration token: an instance id, a colon, then a long opaque tail.
_PUSH_TOKEN = re.compile(r"(?<![\w-])[\w-]{8,}:[\w-]{40,}")
#: A JSON Web Token (three base64url parts, the first one a JSON header).
_JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
#: ``Bearer xyz`` / ``Basic xyz`` in a header quoted back.
_AUTHORIZATION = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]{8,}")
#: ``token=xyz``, ``auth_token: xyz``, ``"password": "xyz"`` and the like.
_SECRET_PAIR = re.compile(
    r"(?i)\b([\w-]*(?:token|secret|password|passwd|api[_-]?key|credential|signature)[\w-]*)"
    r"(\"?\s*[:=]\s*\"?)([^\s\"',;&]{4,})"
)


def _digits(match: re.Match[str]) -> str:
    text = match.group(0)
    if _DATE.match(text):
        return text
    return "*" * 5 + text[-2:]


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "+" + digits[:2] + "*" * max(len(digits) - 6, 3) + digits[-4:]


def scrub(text: str) -> str:
    """``text`` with everything that looks personal or secret masked; see the module docstring."""
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)} ***", text)
    text = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _JWT.sub("***", text)
    text = _PUSH_TOKEN.sub(lambda m: m.group(0)[:4] + "…" + m.group(0)[-4:], text)
    text = _PHONE.sub(_phone, text)
    return _DIGITS.sub(_digits, text)


class RedactingFilter(logging.Filter):
    """Masks the message and the traceback of every record a handler writes (both log formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
