"""Bearer-token authentication for ``/v1``: tokens from settings, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["require_token"]

_bearer = HTTPBearer(auto_error=False, description="One of DUNNING_API_TOKENS")


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Reject a request without a configured bearer token (401), before anything is read.

    ``_bearer`` is a dependency (not called by hand) so that the OpenAPI description
    declares the scheme: clients and fuzzers then know that ``/v1`` needs a token.
    """
    tokens = request.app.state.api_tokens
    offered = credentials.credentials.encode() if credentials else b""
    # Compare against every token so the time taken says nothing about which one matched.
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(offered, token)
    if not credentials or not tokens or not matched:
        raise HTTPException(
            status_code=401, detail="missing or unknown bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
