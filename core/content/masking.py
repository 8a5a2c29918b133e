"""Masking personal data for logs and screens: phone numbers, tokens, accounts."""

from __future__ import annotations

__all__ = ["mask_address", "mask_phone"]


def mask_phone(phone: str | None) -> str:
    """``+8613800138000`` → ``+86*******8000``: country code and last four digits."""
    if not phone:
        return "-"
    if len(phone) <= 6:
        return "*" * len(phone)
    head = 3 if phone.startswith("+") else 0
    return phone[:head] + "*" * (len(phone) - head - 4) + phone[-4:]


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
