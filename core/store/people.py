"""People and their contact points: who shares a number, who was last messaged on it, what binds it.

A debtor is the unit of contact: their loans are cases, their numbers,
tokens and addresses are contact points. The links are kept as each import
names them (a number two debtors share is known as shared), and rights
(opt-outs, wrong numbers, consents) are events recorded on the person and on
the contact point, so they outlive any one loan, payment or re-import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from dunning.core.domain.model import Case, Event, IntentState
from dunning.core.domain.standing import Standing, standing
from dunning.core.store.base import StoreBase
from dunning.core.store.history import ON_CONTACT_POINT, event_from_row
from dunning.core.store.schema import cases, contact_points, events, intents

__all__ = ["ContactPointRow", "PeopleMixin", "contact_points_of"]

#: Contact kinds a case names besides its free-form ``contacts``.
_KINDS = (("phone", "phone"), ("push_token", "push_token"))
#: Intent states that mean a message went to a contact point (or may have).
_REACHED = (IntentState.SENT, IntentState.DELIVERED, IntentState.UNKNOWN)


def contact_points_of(case: Case) -> list[tuple[str, str]]:
    """(kind, address) of every contact point a case names."""
    found = [(kind, getattr(case, attr)) for kind, attr in _KINDS if getattr(case, attr)]
    found += [(kind, address) for kind, address in case.contacts.items() if address]
    return found


@dataclass(frozen=True)
class ContactPointRow:
    debtor_id: str
    kind: str
    address: str
    first_seen_at: datetime
    last_seen_at: datetime


class PeopleMixin(StoreBase):
    """Contact points, the people behind them, and the rights recorded on them."""

    def upsert_contact_points(self, conn: Connection, batch: Sequence[Case], now: datetime) -> None:
        """Link each case's debtor to the contact points the case names (first and last seen)."""
        rows = {
            (case.debtor_id, kind, address): {
                "debtor_id": case.debtor_id,
                "kind": kind,
                "address": address,
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for case in batch
            for kind, address in contact_points_of(case)
        }
        if not rows:
            return
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        statement = dialect.insert(contact_points)
        statement = statement.on_conflict_do_update(
            index_elements=["debtor_id", "kind", "address"],
            set_={"last_seen_at": statement.excluded.last_seen_at},
        )
        conn.execute(statement, list(rows.values()))

    def contact_points_of_debtor(self, conn: Connection, debtor_id: str) -> list[ContactPointRow]:
        query = (
            select(contact_points)
            .where(contact_points.c.debtor_id == debtor_id)
            .order_by(contact_points.c.kind, contact_points.c.first_seen_at)
        )
        return [ContactPointRow(**row._mapping) for row in conn.execute(query)]

    def debtors_at(self, conn: Connection, address: str) -> list[str]:
        """Every debtor a contact point belongs to, as their cases name it (a shared number: several)."""
        linked = set(
            conn.scalars(select(contact_points.c.debtor_id).where(contact_points.c.address == address))
        )
        linked |= set(
            conn.scalars(
                select(cases.c.debtor_id).where(or_(cases.c.phone == address, cases.c.push_token == address))
            )
        )
        return sorted(linked)

    def last_messaged(self, conn: Connection, address: str) -> tuple[str, str] | None:
        """(case_id, debtor_id) of the latest reminder that went to ``address``, if any."""
        row = conn.execute(
            select(intents.c.case_id, intents.c.debtor_id)
            .where(intents.c.address == address, intents.c.state.in_(_REACHED))
            .order_by(intents.c.contact_at.desc(), intents.c.intent_id.desc())
            .limit(1)
        ).first()
        return (row.case_id, row.debtor_id) if row is not None else None

    def cases_of_debtor(self, conn: Connection, debtor_id: str) -> list[tuple[str, str]]:
        """(case_id, status) of every case of a debtor, the most recently due first."""
        query = (
            select(cases.c.case_id, cases.c.status)
            .where(cases.c.debtor_id == debtor_id)
            .order_by(cases.c.due_date.desc(), cases.c.case_id)
        )
        return [(row.case_id, row.status) for row in conn.execute(query)]

    def rights_events(self, conn: Connection, debtor_id: str, addresses: Sequence[str]) -> list[Event]:
        """The person's own events, and the rights anyone recorded on their contact points, in order."""
        query = select(events).where(
            or_(
                events.c.debtor_id == debtor_id,
                (events.c.address.in_(list(addresses)))
                & (events.c.kind.in_([str(k) for k in ON_CONTACT_POINT])),
            )
        )
        return [event_from_row(row) for row in conn.execute(query.order_by(events.c.at, events.c.id))]

    def standing_of(self, conn: Connection, debtor_id: str, channels: Mapping[str, str]) -> Standing | None:
        """A debtor's standing (None for a debtor the store does not know)."""
        points = [(p.kind, p.address) for p in self.contact_points_of_debtor(conn, debtor_id)]
        if not points and not self.cases_of_debtor(conn, debtor_id):
            return None
        addresses = [address for _, address in points]
        shared = {a: [d for d in self.debtors_at(conn, a) if d != debtor_id] for a in addresses}
        found = self.rights_events(conn, debtor_id, addresses)
        return standing(debtor_id, points, found, channels, shared)
