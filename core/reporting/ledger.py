"""Each case's money as the report reads it: what was paid, when, in which currency.

A payment names its amount, or — "paid in full" from a lender that did not
say how much — names none: then it paid what was still owed, which is the
balance the store last knew less the payments recorded after that balance
was set (a payment in full recorded after the case was settled paid nothing
more). Amounts stay Decimal; they are added up here rather than in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dunning.core.store import reports as q

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["CaseMoney", "load_ledger", "settle"]


@dataclass
class CaseMoney:
    """One case: its currency, when it arrived and was first reminded, and its payments."""

    case_id: str
    currency: str
    created_at: datetime
    #: the case's time zone (None: unknown), for the end of a promised day
    timezone: str | None = None
    #: the payment that settled it in full (None: not paid in full)
    paid_at: datetime | None = None
    #: the first reminder sent (None: never reminded)
    first_at: datetime | None = None
    #: (moment, amount) of every payment, in order
    payments: list[tuple[datetime, Decimal]] = field(default_factory=list)

    def paid_between(self, since: datetime, until: datetime) -> Decimal:
        """What was paid from ``since`` up to and including ``until``."""
        return sum((amount for at, amount in self.payments if since <= at <= until), Decimal(0))

    def recovered(self, as_of: datetime) -> Decimal:
        """What the reminders recovered: paid from the first reminder to ``as_of`` (0 if never reminded)."""
        return Decimal(0) if self.first_at is None else self.paid_between(self.first_at, as_of)

    def recovered_by_day(self, day: int, as_of: datetime) -> Decimal:
        """Paid within ``day`` days of the first reminder (and by ``as_of``)."""
        if self.first_at is None:
            return Decimal(0)
        return self.paid_between(self.first_at, min(self.first_at + timedelta(days=day), as_of))

    def paid_in_full_by(self, moment: datetime) -> bool:
        return self.paid_at is not None and self.paid_at <= moment


def settle(
    balance: Decimal, balance_as_of: datetime | None, payments: Iterable[Any]
) -> list[tuple[datetime, Decimal]]:
    """Each payment's amount: as recorded, or, for a payment in full that names none, what was still owed."""
    settled: list[tuple[datetime, Decimal]] = []
    paid_since = Decimal(0)
    for payment in payments:
        amount = payment.amount if payment.amount is not None else max(Decimal(0), balance - paid_since)
        if balance_as_of is None or payment.at > balance_as_of:
            paid_since += amount
        settled.append((payment.at, amount))
    return settled


def load_ledger(conn: Connection) -> dict[str, CaseMoney]:
    """Every case of the store with its payments and its first reminder."""
    by_case: dict[str, list[Any]] = {}
    for payment in q.payment_events(conn):
        by_case.setdefault(payment.case_id, []).append(payment)
    first = {row.case_id: row.first_at for row in q.first_reminders(conn)}
    ledger: dict[str, CaseMoney] = {}
    for row in q.case_balances(conn):
        ledger[row.case_id] = CaseMoney(
            row.case_id,
            row.currency,
            row.created_at,
            row.timezone,
            row.paid_at,
            first.get(row.case_id),
            settle(row.amount_due, row.amount_as_of, by_case.get(row.case_id, ())),
        )
    return ledger
