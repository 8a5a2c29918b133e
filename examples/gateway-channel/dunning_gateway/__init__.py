"""An in-house SMS gateway as a dunning channel (an example of a third-party channel plugin)."""

from __future__ import annotations

from dunning_gateway.channel import GatewayChannel, sign

__all__ = ["GatewayChannel", "sign"]
