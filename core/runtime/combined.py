"""One message for several loans of one person: the loans that joined a reminder go with it.

The scheduler plans one intent per loan; when several of a person's loans
are due on one channel at once, the first (by the policy's priority) owns
the message and the others join it (``message_id``). Only the owner is
handed to the broker. Its delivery holds the case gate of every loan in the
message, re-checks each one (a loan paid meanwhile drops out of the message),
renders the owner's template with every remaining loan, and after the
provider answered gives each joined loan the owner's outcome. Were the owner
itself not to be sent, the joined loans go on their own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dunning.core.domain.engine import outstanding, recheck
from dunning.core.domain.model import Case, History, IntentState
from dunning.core.runtime.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Joined", "gates", "joined_to", "loans_of", "mirror", "release", "take_joined"]

log = logging.getLogger(__name__)

_TAKEABLE = (IntentState.PLANNED, IntentState.ENQUEUED)
#: The owner's final states that its joined loans take over as they are.
_SETTLED = (IntentState.SENT, IntentState.DELIVERED, IntentState.UNKNOWN, IntentState.FAILED)


@dataclass(frozen=True)
class Joined:
    """A loan going in another loan's message, re-checked and leased."""

    intent: Any
    case: Case
    history: History


def joined_to(rt: Runtime, conn: Connection, owner_id: str) -> list[tuple[str, str]]:
    """(intent_id, case_id) of the loans waiting to go in ``owner_id``'s message."""
    return rt.store.joined_to(conn, owner_id)


@contextlib.contextmanager
def gates(rt: Runtime, conn: Connection, case_ids: Sequence[str]) -> Iterator[None]:
    """The shared case gate of every loan in a message, in one order (as stops take them)."""
    with contextlib.ExitStack() as stack:
        for case_id in sorted(set(case_ids)):
            stack.enter_context(rt.store.gate.shared(conn, case_id))
        yield


def take_joined(
    rt: Runtime, conn: Connection, joined: Sequence[tuple[str, str]], channel: str, now: datetime
) -> tuple[list[Joined], list[tuple[Any, Any]]]:
    """Lock and re-check each joined loan: those still due, and (intent, verdict) of those not.

    Called inside the owner's transaction, under every loan's gate.
    """
    store = rt.store
    ready: list[Joined] = []
    refused: list[tuple[Any, Any]] = []
    for intent_id, case_id in joined:
        intent = store.intent(conn, intent_id, lock=True)
        if intent is None or intent.state not in _TAKEABLE:
            continue
        loaded = store.load_cases(conn, [case_id]).get(case_id)
        if loaded is None:
            continue
        case = loaded[0]
        history = store.histories(conn, [case], rt.settling)[case_id]
        verdict = recheck(
            case,
            history,
            rt.policy,
            channel=channel,
            intent_id=intent_id,
            now=now,
            ladder=intent.ladder,
            step=intent.step,
        )
        if verdict is None:
            ready.append(Joined(intent, case, history))
        else:
            refused.append((intent, verdict))
    return ready, refused


def loans_of(rt: Runtime, joined: Sequence[Joined], now: datetime) -> list[tuple[Case, Any]]:
    """Each joined loan with what it still owes, for the message's ``loans``."""
    return [(j.case, outstanding(j.case, [e for e in j.history.events if e.at <= now])[0]) for j in joined]


def lease(
    rt: Runtime, conn: Connection, joined: Sequence[Joined], values: dict[str, Any], now: datetime
) -> None:
    """Lease the joined loans with the owner: they are being sent, in its message."""
    for item in joined:
        rt.store.update_intent(conn, item.intent.intent_id, now, **values, attempts=item.intent.attempts + 1)


def release(rt: Runtime, conn: Connection, joined: Sequence[tuple[str, str]], now: datetime) -> None:
    """The owner will not go now: each joined loan goes on its own instead."""
    rt.store.release_joined(conn, [intent_id for intent_id, _case_id in joined], now)


def mirror(rt: Runtime, owner_id: str, joined: Sequence[Joined]) -> None:
    """Give each joined loan the outcome its message had, once the provider answered.

    Sent (or in doubt, or failed) as the owner was; a retry takes them back to
    wait with the owner. A crash before this leaves them leased: the sweeper
    then asks the provider about each, as for any send in doubt.
    """
    if not joined:
        return
    store = rt.store
    now = rt.now()
    ids = [j.intent.intent_id for j in joined]
    with store.write() as conn:
        owner = store.intent(conn, owner_id)
        if owner is None:
            return
        if owner.state in _SETTLED:
            values = {
                "state": owner.state,
                "provider_id": owner.provider_id,
                "contact_at": owner.contact_at,
                "completed_at": owner.completed_at,
                "reason": owner.reason,
                "error_code": owner.error_code,
                "segments": 0,  # the owner carries the message's cost
                "lease_until": None,
            }
        elif owner.state == IntentState.ENQUEUED:
            values = {"state": IntentState.ENQUEUED, "lease_until": None, "call_started_at": None}
        else:
            return
        store.settle_joined(conn, ids, values, now)
        for item in joined:
            store.add_attempt(
                conn,
                intent_id=item.intent.intent_id,
                case_id=item.case.case_id,
                channel=item.intent.channel,
                at=now,
                outcome=f"with:{owner.state}",
                provider_id=owner.provider_id,
                detail=f"in the message of intent {owner_id}",
            )
            store.wake_case(conn, item.case.case_id, now)


def lease_values(rt: Runtime, address: str, now: datetime, can_reconcile: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "state": IntentState.SENDING,
        "lease_until": now + timedelta(seconds=rt.settings.lease_seconds),
        "lease_owner": rt.owner,
        "address": address,
    }
    if can_reconcile:
        values["call_started_at"] = now
    return values
