"""Bearer-token authentication for ``/v1``: tokens from settings, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["require_token"]

_bearer = HTTPBearer(auto_error=False, description="One of DUNNING_API_TOKENS")


async def require_token(request: Request) -> None:
    """Reject a request without a configured bearer token (401), before anything is read."""
    credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
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
