"""Bearer-token authentication for ``/v1``: tokens from settings, compared in constant time.

``DUNNING_API_TOKENS`` lists tokens separated by commas; each may carry a
name, ``name:token``, which becomes the acting person of what the request
does (a claim, a resolution). A plain token acts as ``api``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["ApiToken", "parse_tokens", "require_token"]

_bearer = HTTPBearer(auto_error=False, description="One of DUNNING_API_TOKENS")
#: The actor of a token given without a name.
UNNAMED = "api"
#: A token's name: a short word (``crm``, ``collections-team``, ``ops@lender``).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class ApiToken:
    name: str
    secret: bytes


def parse_tokens(values: Sequence[str]) -> list[ApiToken]:
    """``name:token`` or a plain ``token`` (named ``api``); a plain token may itself hold colons."""
    out = []
    for value in values:
        name, colon, secret = value.partition(":")
        if colon and secret and _NAME.match(name):
            out.append(ApiToken(name, secret.encode()))
        else:
            out.append(ApiToken(UNNAMED, value.encode()))
    return out


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Reject a request without a configured bearer token (401), before anything is read.

    ``_bearer`` is a dependency (not called by hand) so that the OpenAPI description
    declares the scheme: clients and fuzzers then know that ``/v1`` needs a token.
    The token's name is kept as ``request.state.actor``.
    """
    tokens: list[ApiToken] = request.app.state.api_tokens
    offered = credentials.credentials.encode() if credentials else b""
    # Compare against every token so the time taken says nothing about which one matched.
    matched: str | None = None
    for token in tokens:
        if hmac.compare_digest(offered, token.secret) and matched is None:
            matched = token.name
    if not credentials or matched is None:
        raise HTTPException(
            status_code=401, detail="missing or unknown bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.actor = matched
