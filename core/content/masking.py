"""Masking personal data for logs and screens: phone numbers, tokens, accounts."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Runs of digits long enough to be a phone or an account number (spaces and dashes allowed inside).
_DIGITS = re.compile(r"\+?\d(?:[ \-]?\d){6,}")
#: A date is not personal data: 2026-12-01 stays as it is.
_DATE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")

__all__ = ["mask_account", "mask_address", "mask_phone", "redact"]


def mask_phone(phone: str | None) -> str:
    """``+8613800138000`` → ``+86*******8000``: country code and last four digits."""
    if not phone:
        return "-"
    if len(phone) <= 6:
        return "*" * len(phone)
    head = 3 if phone.startswith("+") else 0
    return phone[:head] + "*" * (len(phone) - head - 4) + phone[-4:]


def mask_account(account: str | None) -> str:
    """``6222020200112233`` → ``************2233``: the last four characters only."""
    if not account:
        return "-"
    if len(account) <= 4:
        return "*" * len(account)
    return "*" * (len(account) - 4) + account[-4:]


def mask_address(address: str | None) -> str:
    """A phone number, push token or e-mail address, masked for a log line."""
    if not address:
        return "-"
    if address.startswith("+") and address[1:].isdigit():
        return mask_phone(address)
    if "@" in address:
        user, _, domain = address.partition("@")
        return (user[:1] + "***@" + domain) if user else "***@" + domain
    return address[:4] + "…" + address[-4:] if len(address) > 12 else "****"


def redact(text: str, secrets: Iterable[str | None] = (), *, limit: int = 300) -> str:
    """``text`` fit for a log line or a timeline: the given values and long digit runs masked.

    For an error message that may quote a case's data back (a name in a
    ``KeyError``, a number in a ``ValueError``): each of ``secrets`` (the
    case's name, phone, account, tokens) becomes ``***``, any other run of
    seven or more digits keeps only its last two, and the result is cut to ``limit``.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 2}, key=len, reverse=True):
        text = text.replace(secret, "***")
    dates = _DATE.findall(text)
    text = _DIGITS.sub(lambda m: "*" * 5 + m.group(0)[-2:], _DATE.sub("\ue000", text))
    for date in dates:
        text = text.replace("\ue000", date, 1)
    return text if len(text) <= limit else text[: limit - 1] + "…"
