"""The best time to contact: the local hour at which a debtor (or their segment) answers or pays.

The store counts, per debtor, the local hours of their answers and payments
(:func:`response_hours`, on every loan of theirs) and, per segment, the same
across its debtors; a window with ``send_at: learned`` aims at the hour of the
window with the most of them — the debtor's own, else their segment's, else
it spreads debtors across the window as any window does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from dunning.core.domain.model import Event, EventKind
from dunning.core.domain.windows import SendWindow

__all__ = ["RESPONDED", "learned_hour", "response_hours"]

#: What counts as the debtor answering: paying, promising, replying, acknowledging, claiming a payment.
RESPONDED = frozenset(
    {EventKind.PAYMENT, EventKind.PROMISE, EventKind.REPLY, EventKind.ACK, EventKind.PAYMENT_CLAIM}
)


def response_hours(events: Iterable[Event], zone: ZoneInfo) -> dict[int, int]:
    """How many answers and payments fell in each local hour (0-23) in ``zone``."""
    return dict(Counter(e.at.astimezone(zone).hour for e in events if e.kind in RESPONDED))


def learned_hour(
    window: SendWindow, own: Mapping[int, int], segment: Mapping[int, int]
) -> tuple[int, str] | None:
    """The window's hour with the most answers: the debtor's (``debtor``), else their segment's.

    Ties go to the earlier hour; None when neither has answered within the window's hours.
    """
    hours = window.hours()
    for counts, source in ((own, "debtor"), (segment, "segment")):
        best = max(hours, key=lambda h: (counts.get(h, 0), -h))
        if counts.get(best, 0) > 0:
            return best, source
    return None
