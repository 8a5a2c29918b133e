"""Loading what the engine needs to know of the past: events and contacts per case."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Row

from dunning.core.domain.learning import response_hours
from dunning.core.domain.model import Case, Contact, ContactStatus, Event, EventKind, History, IntentState
from dunning.core.domain.zones import candidate_zones
from dunning.core.store.base import StoreBase
from dunning.core.store.bulk import mark, read_rows
from dunning.core.store.schema import events, intents

__all__ = [
    "HistoryMixin",
    "assemble_histories",
    "contact_from_mapping",
    "contact_from_row",
    "event_from_mapping",
    "event_from_row",
]

#: Events about the person or their contact points, which apply to all of their cases (and a
#: conversation, which a per-debtor cool-down counts whichever loan it was about).
DEBTOR_WIDE = frozenset(
    {
        EventKind.OPT_OUT,
        EventKind.OPT_IN,
        EventKind.CONSENT,
        EventKind.WRONG_NUMBER,
        EventKind.INVALID_CONTACT,
        EventKind.CONVERSATION,
    }
)
#: Rights recorded on a contact point, which bind everyone who shares it.
ON_CONTACT_POINT = frozenset(
    {EventKind.OPT_OUT, EventKind.OPT_IN, EventKind.CONSENT, EventKind.INVALID_CONTACT}
)
CHUNK = 500
_RIGHTS = frozenset(str(k) for k in ON_CONTACT_POINT)

#: The columns of an event and of an intent that a history is made of.
_EVENT = [events.c[k] for k in ("id", "event_id", "case_id", "debtor_id", "kind", "at", "amount", "full")]
_EVENT += [
    events.c[k] for k in ("date", "channel", "text", "address", "intent_id", "reason", "source", "actor")
]
_INTENT = [intents.c[k] for k in ("intent_id", "case_id", "debtor_id", "channel", "ladder", "step", "cycle")]
_INTENT += [intents.c[k] for k in ("seq", "contact_at", "state", "connected", "message_id")]


def _names(columns: Sequence[Column[Any]]) -> str:
    return ", ".join(f'"{column.name}"' for column in columns)


_STATUS = {
    IntentState.PLANNED: ContactStatus.PENDING,
    IntentState.ENQUEUED: ContactStatus.PENDING,
    IntentState.SENDING: ContactStatus.PENDING,
    IntentState.SENT: ContactStatus.SENT,
    IntentState.DELIVERED: ContactStatus.DELIVERED,
    IntentState.UNKNOWN: ContactStatus.UNKNOWN,
    IntentState.FAILED: ContactStatus.FAILED,
    IntentState.CANCELLED: ContactStatus.CANCELLED,
    IntentState.SUPPRESSED: ContactStatus.CANCELLED,
}


def event_from_row(row: Row[Any]) -> Event:
    return event_from_mapping(row._mapping)


def event_from_mapping(m: Mapping[Any, Any]) -> Event:
    """An event from its columns by name (a SQLAlchemy row's mapping, or a driver's dict row)."""
    return Event(
        kind=EventKind(m["kind"]),
        at=m["at"],
        case_id=m["case_id"],
        amount=m["amount"],
        full=m["full"],
        date=m["date"],
        channel=m["channel"],
        text=m["text"],
        address=m["address"],
        intent_id=m["intent_id"],
        event_id=m["event_id"],
        debtor_id=m["debtor_id"],
        reason=m["reason"],
        source=m["source"],
        actor=m.get("actor"),
    )


def contact_from_row(row: Row[Any], settling: Collection[str] = ()) -> Contact:
    """The engine's view of an outbox row.

    An ambiguous send on a channel in ``settling`` (one whose provider can be
    asked whether it left) is in doubt rather than unknown: the ladder waits
    for the answer instead of moving past a text that may never have left.
    """
    return contact_from_mapping(row._mapping, settling)


def contact_from_mapping(m: Mapping[Any, Any], settling: Collection[str] = ()) -> Contact:
    """:func:`contact_from_row` from columns by name."""
    status = _STATUS[IntentState(m["state"])]
    if status == ContactStatus.UNKNOWN and m["channel"] in settling:
        status = ContactStatus.IN_DOUBT
    return Contact(
        intent_id=m["intent_id"],
        case_id=m["case_id"],
        channel=m["channel"],
        ladder=m["ladder"],
        step=m["step"],
        cycle=m["cycle"],
        seq=m["seq"],
        at=m["contact_at"],
        status=status,
        connected=bool(m["connected"]),
        message_id=m["message_id"],
    )


def addresses_of(case: Case) -> list[str]:
    """Every contact point a case names: its phone, push token and other addresses."""
    found = [case.phone, case.push_token, *case.contacts.values()]
    return [address for address in found if address]


class HistoryMixin(StoreBase):
    """Histories for many cases at once: two queries per chunk of debtors."""

    def histories(
        self,
        conn: Connection,
        batch: Sequence[Case],
        settling: Collection[str] = (),
        default_timezone: str | None = None,
    ) -> dict[str, History]:
        """Each case's history; ``settling`` names the channels whose ambiguous sends can be settled.

        Each history counts the hours (in the case's first zone, else
        ``default_timezone``) at which the debtor answered or paid, on any loan.
        """
        by_debtor: dict[str, list[Case]] = defaultdict(list)
        for case in batch:
            by_debtor[case.debtor_id].append(case)
        debtor_ids = list(by_debtor)
        event_rows: list[Mapping[Any, Any]] = []
        intent_rows: list[Mapping[Any, Any]] = []
        rights = sorted(str(k) for k in ON_CONTACT_POINT)
        p = mark(conn)
        for start in range(0, len(debtor_ids), CHUNK):
            chunk = debtor_ids[start : start + CHUNK]
            addresses = sorted({a for d in chunk for case in by_debtor[d] for a in addresses_of(case)})
            # One read for the people's own events and the rights anyone recorded on their numbers.
            wanted = f"debtor_id IN ({', '.join(p for _ in chunk)})"
            params: list[Any] = list(chunk)
            if addresses:
                wanted += (
                    f" OR (address IN ({', '.join(p for _ in addresses)})"
                    f" AND kind IN ({', '.join(p for _ in rights)}))"
                )
                params += [*addresses, *rights]
            statement = f"SELECT {_names(_EVENT)} FROM events WHERE {wanted} ORDER BY at, id"
            event_rows.extend(read_rows(conn, _EVENT, statement, params))
            statement = (
                f"SELECT {_names(_INTENT)} FROM intents WHERE debtor_id IN ({', '.join(p for _ in chunk)})"
            )
            intent_rows.extend(read_rows(conn, _INTENT, statement, chunk))
        return assemble_histories(batch, event_rows, intent_rows, settling, default_timezone)


def assemble_histories(
    batch: Sequence[Case],
    event_rows: Iterable[Mapping[Any, Any]],
    intent_rows: Iterable[Mapping[Any, Any]],
    settling: Collection[str] = (),
    default_timezone: str | None = None,
) -> dict[str, History]:
    """Each case's history from the rows read for it (in any number of reads, in time order).

    ``event_rows`` are the people's own events and the rights recorded on
    their cases' contact points (a row may come twice); ``intent_rows`` the
    people's intents.
    """
    by_debtor: dict[str, list[Case]] = defaultdict(list)
    for case in batch:
        by_debtor[case.debtor_id].append(case)
    debtor_events: dict[str, list[Event]] = defaultdict(list)
    debtor_contacts: dict[str, list[Contact]] = defaultdict(list)
    #: rights recorded on each contact point, by row id (a row may come in two chunks' reads)
    on_point: dict[str, dict[int, tuple[str, Event]]] = defaultdict(dict)
    seen: set[int] = set()
    for m in event_rows:
        if m["id"] in seen:
            continue
        seen.add(m["id"])
        event = event_from_mapping(m)
        if m["debtor_id"] in by_debtor:
            debtor_events[m["debtor_id"]].append(event)
        if m["address"] is not None and m["kind"] in _RIGHTS:
            on_point[m["address"]][m["id"]] = (m["debtor_id"], event)
    for m in intent_rows:
        debtor_contacts[m["debtor_id"]].append(contact_from_mapping(m, settling))
    out = {}
    for debtor_id, its_cases in by_debtor.items():
        contacts = tuple(debtor_contacts[debtor_id])
        for case in its_cases:
            mine = [e for e in debtor_events[debtor_id] if e.case_id == case.case_id or e.kind in DEBTOR_WIDE]
            # Rights others recorded on this case's numbers (a shared family phone's STOP).
            others = [
                e
                for address in addresses_of(case)
                for owner, e in on_point.get(address, {}).values()
                if owner != debtor_id
            ]
            hours: dict[int, int] = {}
            if debtor_events[debtor_id]:  # most people due have said nothing yet
                zone = candidate_zones(case.timezone, case.phone, default_timezone)[0]
                hours = response_hours(debtor_events[debtor_id], zone)
            out[case.case_id] = History(tuple(mine + others), contacts, hours)
    return out
