"""The report's queries: SQLAlchemy Core, the same on SQLite and PostgreSQL.

One module per idea — reach and cures (:mod:`.contacts`), money (:mod:`.money`),
promises, strategies and roll rates — and the two things the others share:
where a strategy lives in this store (:mod:`.columns`) and date arithmetic,
which the dialects spell differently (:mod:`.dialect`). Everything is
re-exported here, so that callers write ``reports.contacts(...)``.
"""

from __future__ import annotations

from dunning.core.store.reports.columns import STRATEGY, StoreColumns, store_columns
from dunning.core.store.reports.contacts import (
    GROUP_COLUMNS,
    SENT_STATES,
    audit_counts,
    case_counts,
    contact_counts,
    contacts,
    contacts_per_debtor,
    cost_counts,
    cure_times,
    cured_cases,
    exposure,
    intent_counts,
    paid_cases,
    paid_times,
    portfolio_counts,
)
from dunning.core.store.reports.dialect import plus_days
from dunning.core.store.reports.money import (
    case_balances,
    exposed_cases,
    first_reminders,
    latest_moment,
    message_counts,
    payment_events,
    sent_parts,
)
from dunning.core.store.reports.promises import promise_events
from dunning.core.store.reports.rolls import PAID, roll_counts
from dunning.core.store.reports.strategies import case_strategies

__all__ = [
    "GROUP_COLUMNS",
    "PAID",
    "SENT_STATES",
    "STRATEGY",
    "StoreColumns",
    "audit_counts",
    "case_balances",
    "case_counts",
    "case_strategies",
    "contact_counts",
    "contacts",
    "contacts_per_debtor",
    "cost_counts",
    "cure_times",
    "cured_cases",
    "exposed_cases",
    "exposure",
    "first_reminders",
    "intent_counts",
    "latest_moment",
    "message_counts",
    "paid_cases",
    "paid_times",
    "payment_events",
    "plus_days",
    "portfolio_counts",
    "promise_events",
    "roll_counts",
    "sent_parts",
    "store_columns",
]
