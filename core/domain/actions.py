"""What the engine decides: actions (send, defer, suppress, stop, hold) and a decision per case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

__all__ = ["Action", "Decision"]


@dataclass(frozen=True)
class Action:
    """One thing the engine decided: ``send``, ``defer``, ``suppress``, ``stop`` or ``hold``.

    ``rule`` names what caused a defer, suppress, stop or hold; ``until`` is
    when a defer or hold ends (None for a hold that waits for a human).
    """

    kind: str
    at: datetime
    channel: str | None = None
    step: int | None = None
    cycle: int | None = None
    seq: int | None = None
    ladder: str | None = None
    segment: str | None = None
    template: str | None = None
    variant: str | None = None
    rule: str | None = None
    until: datetime | None = None
    intent_id: str | None = None
    #: the message a send goes in: its own intent, or another loan's it joins (one text for both)
    message_id: str | None = None
    #: the debtor's strategy, where the policy splits debtors between strategies
    strategy: str | None = None


@dataclass(frozen=True)
class Decision:
    """What to do for one case now, and when to look at it again.

    ``status`` is ``open`` (the ladder runs), ``held`` (a human must act or a
    promise runs), ``stopped`` (ladder ended, opted out, unreachable) or
    ``paid``. ``next_check`` is None when nothing will happen by itself.
    """

    case_id: str
    status: str
    actions: tuple[Action, ...]
    next_check: datetime | None
    segment: str | None = None
    ladder: str | None = None
    outstanding: Decimal | None = None
    #: the debtor's strategy, where the policy splits debtors between strategies (to record)
    strategy: str | None = None

    @property
    def sends(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind == "send")
