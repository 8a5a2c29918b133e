"""A person's standing: what each of their numbers and tokens may be used for, and why not.

Rights live on the person and on the contact point and outlive every loan.
:func:`standing` reads them from the events (in order) as the engine does,
so what an agent or the lender's system is shown is what the engine obeys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dunning.core.domain.model import Event, EventKind
from dunning.core.domain.situation import opted_out

__all__ = ["PointStanding", "Standing", "standing"]

#: Events a standing reports, as the right they record.
RIGHTS = frozenset(
    {
        EventKind.OPT_OUT,
        EventKind.OPT_IN,
        EventKind.CONSENT,
        EventKind.WRONG_NUMBER,
        EventKind.INVALID_CONTACT,
    }
)


@dataclass(frozen=True)
class PointStanding:
    """One contact point: per channel ``ok``, ``opted_out``, ``invalid`` or ``wrong_number``."""

    kind: str
    address: str
    channels: Mapping[str, str]
    shared_with: tuple[str, ...] = ()
    rights: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Standing:
    """Where a person stands: opted out of what, ceased or not, and each contact point."""

    debtor_id: str
    opted_out: tuple[str, ...]
    ceased: bool
    points: tuple[PointStanding, ...]
    rights: tuple[Event, ...] = field(default=())

    def to_json(self, mask: Any) -> dict[str, Any]:
        """As the API and the CLI show it; ``mask`` hides each address."""
        return {
            "debtor_id": self.debtor_id,
            "opted_out": list(self.opted_out),
            "ceased": self.ceased,
            "contact_points": [
                {
                    "kind": point.kind,
                    "address": mask(point.address),
                    "channels": dict(point.channels),
                    "shared_with": list(point.shared_with),
                    "rights": [_right(e, mask) for e in point.rights],
                }
                for point in self.points
            ],
            "rights": [_right(e, mask) for e in self.rights],
        }


def standing(
    debtor_id: str,
    points: Sequence[tuple[str, str]],
    events: Sequence[Event],
    channels: Mapping[str, str],
    shared: Mapping[str, Sequence[str]] | None = None,
) -> Standing:
    """A person's standing from their events and the rights recorded on their contact points.

    ``points`` are (kind, address); ``channels`` maps each channel to the
    contact kind it uses; ``shared`` lists, per address, the other people it
    belongs to.
    """
    ordered = sorted(events, key=lambda e: e.at)
    person = opted_out(ordered, debtor_id)
    names = sorted(channels)
    own = tuple(name for name in names if person.blocks(name)) if not person.all_contact else tuple(names)
    rows = []
    for kind, address in points:
        uses = [name for name in names if channels[name] == kind]
        state = {name: _state(ordered, debtor_id, address, name, kind) for name in uses}
        recorded = tuple(e for e in ordered if e.address == address and e.kind in RIGHTS)
        rows.append(PointStanding(kind, address, state, tuple((shared or {}).get(address, ())), recorded))
    person_rights = tuple(
        e for e in ordered if e.address is None and e.kind in RIGHTS and e.debtor_id in (None, debtor_id)
    )
    return Standing(debtor_id, own, person.all_contact, tuple(rows), person_rights)


def _state(events: Sequence[Event], debtor_id: str, address: str, channel: str, kind: str) -> str:
    if opted_out(events, debtor_id, address).blocks(channel):
        return "opted_out"
    for event in events:
        if event.address != address:
            continue
        if event.kind == EventKind.INVALID_CONTACT and event.channel == channel:
            return "invalid"
        if event.kind == EventKind.WRONG_NUMBER and event.debtor_id in (None, debtor_id) and kind == "phone":
            return "wrong_number"
    return "ok"


def _right(event: Event, mask: Any) -> dict[str, Any]:
    return {
        "kind": str(event.kind),
        "channel": event.channel,
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "case_id": event.case_id,
        "source": event.source,
        "address": mask(event.address) if event.address else None,
    }
