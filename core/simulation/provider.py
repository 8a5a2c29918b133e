"""A simulated provider: each attempt is accepted, refused for good, or refused for now.

The real delivery worker types a provider's errors (:mod:`dunning.core.runtime.delivery`):
a permanent one fails the intent at once and the engine falls through to the
next step; a transient one (5xx, 429) is retried with exponential backoff —
``min_backoff`` doubled per attempt up to ``max_backoff`` — until
``max_retries`` attempts have been made, when the intent fails as
``retries_exhausted``. The simulation draws the same outcomes from the
channel's ``permanent_failure`` and ``transient_failure`` shares and records
them as the worker would: the intent's state, reason and attempts, and one
``attempts`` row per try.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dunning.core.simulation.behaviour import Behaviour

__all__ = ["ProviderOutcome", "Retries", "attempt"]


@dataclass(frozen=True)
class Retries:
    """The delivery worker's retry settings (``DUNNING_MAX_RETRIES`` and the backoffs)."""

    max_retries: int = 5
    min_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=5)

    def backoff(self, earlier: int) -> timedelta:
        """How long the worker waits after a transient failure, ``earlier`` attempts having failed before."""
        return min(self.min_backoff * (1 << earlier), self.max_backoff)


@dataclass(frozen=True)
class ProviderOutcome:
    """What the provider made of one intent: sent (at ``at``) or failed, and every try."""

    sent: bool
    at: datetime
    #: ``permanent`` or ``retries_exhausted`` for a failure; None when sent
    reason: str | None = None
    #: (moment, outcome) of each try: ``retry``, then ``sent`` or ``failed``
    tries: tuple[tuple[datetime, str], ...] = field(default_factory=tuple)

    @property
    def attempts(self) -> int:
        return len(self.tries)


def attempt(rng: random.Random, behaviour: Behaviour, retries: Retries, at: datetime) -> ProviderOutcome:
    """Try to send at ``at`` as the worker would, retrying transient failures with backoff."""
    if not (behaviour.permanent_failure or behaviour.transient_failure):
        return ProviderOutcome(True, at, None, ((at, "sent"),))
    tries: list[tuple[datetime, str]] = []
    moment = at
    while True:
        if rng.random() < behaviour.permanent_failure:
            tries.append((moment, "failed"))
            return ProviderOutcome(False, moment, "permanent", tuple(tries))
        if rng.random() >= behaviour.transient_failure:
            tries.append((moment, "sent"))
            return ProviderOutcome(True, moment, None, tuple(tries))
        if len(tries) + 1 >= retries.max_retries:
            tries.append((moment, "failed"))
            return ProviderOutcome(False, moment, "retries_exhausted", tuple(tries))
        tries.append((moment, "retry"))
        moment += retries.backoff(len(tries) - 1)
