"""What the engine decides: actions (send, defer, suppress, stop, hold) and a decision per case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

__all__ = ["Action", "ActionKind", "CaseStatus", "Decision"]

#: What the engine can decide for a reminder or a case.
ActionKind = Literal["send", "defer", "suppress", "stop", "hold"]
#: Where a case stands after a decision (see :class:`Decision`).
CaseStatus = Literal["open", "held", "stopped", "paid", "closed"]


@dataclass(frozen=True)
class Action:
    """One thing the engine decided: ``send``, ``defer``, ``suppress``, ``stop`` or ``hold``.

    ``rule`` names what caused a defer, suppress, stop or hold; ``until`` is
    when a defer or hold ends (None for a hold that waits for a human).
    """

    kind: ActionKind
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
    promise runs), ``stopped`` (ladder ended, opted out, unreachable),
    ``paid`` or ``closed`` (by the lender: written off, sold, settled
    elsewhere). ``next_check`` is None when nothing will happen by itself.
    """

    case_id: str
    status: CaseStatus
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
