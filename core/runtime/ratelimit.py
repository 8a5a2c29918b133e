"""Provider rate limits, shared by every worker through Dramatiq's rate limiters.

``DUNNING_RATE_LIMITS="sms=10/s,voice=1/s,push=500/s"`` caps calls to each
provider account (per channel and sender). With a Redis broker the counts
live in Redis, so the limit holds across all workers on all machines; in
process they live in memory. A send over the limit is not an error: the
intent waits for the next window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import StubBackend

from dunning.core.errors import ConfigError

__all__ = ["Limit", "Limiters", "parse_limits"]

_FORM = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Limit:
    """At most ``count`` provider calls on ``channel`` per ``window`` seconds."""

    channel: str
    count: int
    window: int


def parse_limits(items: Iterable[str]) -> dict[str, Limit]:
    """``["sms=10/s", "voice=30/m"]`` → limits by channel; ConfigError names a bad item."""
    limits: dict[str, Limit] = {}
    for item in items:
        match = _FORM.match(item)
        if match is None or int(match.group(2)) < 1:
            raise ConfigError(f"DUNNING_RATE_LIMITS: {item!r} is not CHANNEL=COUNT/UNIT (e.g. sms=10/s)")
        channel, count, many, unit = match.groups()
        limits[channel] = Limit(channel, int(count), int(many or 1) * _UNIT[unit])
    return limits


class Limiters:
    """One sliding-window limiter per limited channel, keyed by the provider account."""

    def __init__(
        self, limits: Mapping[str, Limit], keys: Mapping[str, str], redis_url: str | None = None
    ) -> None:
        if redis_url:
            from dramatiq.rate_limits.backends import RedisBackend

            backend = RedisBackend(url=redis_url)
        else:
            backend = StubBackend()  # type: ignore[no-untyped-call]
        self.limits = dict(limits)
        self._limiters = {
            name: WindowRateLimiter(  # type: ignore[no-untyped-call]
                backend, f"dunning:rate:{keys.get(name, name)}", limit=lim.count, window=lim.window
            )
            for name, lim in limits.items()
        }

    def try_acquire(self, channel: str) -> float | None:
        """None when the call may go now; otherwise seconds to wait before trying again."""
        limiter = self._limiters.get(channel)
        if limiter is None:
            return None
        with limiter.acquire(raise_on_failure=False) as acquired:
            if acquired:
                return None
        limit = self.limits[channel]
        return max(0.05, limit.window / limit.count)
