"""Calling a dunning API in tests as the lender's systems and Twilio do: bearer tokens, signed forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

__all__ = ["bearer", "post_signed_form", "signed_headers"]


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of an API client holding ``token``."""
    return {"Authorization": f"Bearer {token}"}


def signed_headers(public_url: str, path: str, params: Mapping[str, str], auth_token: str) -> dict[str, str]:
    """Headers of a form POST to ``path`` signed as Twilio signs it (over the public URL)."""
    signature = RequestValidator(auth_token).compute_signature(public_url + path, dict(params))
    return {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}


def post_signed_form(
    client: Any, public_url: str, path: str, params: Mapping[str, str], auth_token: str
) -> Any:
    """POST ``params`` to ``path`` with a valid Twilio signature; returns the client's response."""
    headers = signed_headers(public_url, path, params, auth_token)
    return client.post(path, content=urlencode(dict(params)), headers=headers)
