"""People in the loop: the outcomes a person resolves a held case with, and the events each implies.

A case held for a person (a dispute, a request for an agent, a ladder that
ends in ``handoff``, ...) waits in the work queue until someone resolves it.
Resolving is recorded as events, like everything else that happens to a
case, so the engine, the timeline and the audit trail see it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from dunning.core.domain.model import Event, EventKind

__all__ = ["CLOSING", "Outcome", "Resolution", "WorkState", "resolution_events"]


class WorkState(StrEnum):
    """Where a work item stands."""

    OPEN = "open"  #: nobody has it yet
    CLAIMED = "claimed"  #: someone owns it
    RESOLVED = "resolved"  #: done, with an outcome


class Outcome(StrEnum):
    """How a person resolved a held case."""

    RESUMED = "resumed"  #: the ladder runs again
    PROMISE = "promise"  #: the debtor promised to pay by a date
    ARRANGEMENT = "arrangement"  #: a payment plan; reminders wait for its first instalment
    OPTED_OUT = "opted_out"  #: the debtor asked not to be contacted on a channel (or at all)
    PAID = "paid"  #: paid outside dunning: closed for good
    SETTLED = "settled"  #: settled for less: closed for good
    WRITTEN_OFF = "written_off"  #: the lender gives up the debt: closed for good
    FRAUD = "fraud"  #: the debt was made by someone else: closed for good
    DISPUTE_UPHELD = "dispute_upheld"  #: the debtor was right: closed for good
    RELEASED = "released"  #: the hold ended without a person's resolution (a payment, a resume)


#: Outcomes that end the case for good: it is never contacted again.
CLOSING = frozenset(
    {Outcome.PAID, Outcome.SETTLED, Outcome.WRITTEN_OFF, Outcome.FRAUD, Outcome.DISPUTE_UPHELD}
)


@dataclass(frozen=True)
class Resolution:
    """What a person decided, as the API and the console take it."""

    outcome: Outcome
    #: the promised day, or the first instalment of an arrangement
    date: date | None = None
    #: the channel an opt-out is about (None: every channel)
    channel: str | None = None
    note: str | None = None


def resolution_events(case_id: str, resolution: Resolution, *, at: datetime, actor: str) -> list[Event]:
    """The events a resolution stands for, in the order they are recorded.

    The first is always the ``resolve`` itself (it resolves the work item);
    the rest tell the engine what to do next: run the ladder again (``resume``,
    with a promise or an opt-out where said), or stop for good (``close``).
    """
    outcome = resolution.outcome

    def event(kind: EventKind, **fields: Any) -> Event:
        return Event(kind, at, case_id=case_id, actor=actor, **fields)

    events = [event(EventKind.RESOLVE, text=str(outcome))]
    if resolution.note:
        events.append(event(EventKind.NOTE, text=resolution.note))
    if outcome in CLOSING:
        return [*events, event(EventKind.CLOSE, text=str(outcome))]
    if outcome == Outcome.OPTED_OUT:
        events.append(event(EventKind.OPT_OUT, channel=resolution.channel or "all"))
    events.append(event(EventKind.RESUME))
    if outcome in (Outcome.PROMISE, Outcome.ARRANGEMENT):
        text = "payment arrangement" if outcome == Outcome.ARRANGEMENT else None
        events.append(event(EventKind.PROMISE, date=resolution.date, text=text))
    return events
