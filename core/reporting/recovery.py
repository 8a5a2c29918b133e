"""Money recovered per group and currency: the amount, the curve by day, per message and per unit of cost.

What a group recovered is what its cases paid from their first reminder up
to the report's moment: a payment made before any reminder was not the
reminders' doing. As with cures, a case counts in every group it was
reminded in; its currency decides which of the group's sums it goes to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dunning.core.reporting.costs import reminder_cost
from dunning.core.reporting.ledger import CaseMoney
from dunning.core.reporting.model import GroupRow, Recovery, ReportOptions, key_of
from dunning.core.store import reports as q

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["add_recovery"]


def add_recovery(
    conn: Connection,
    rows: dict[tuple[Any, ...], GroupRow],
    columns: Sequence[str],
    exposed: Sequence[Any],
    ledger: Mapping[str, CaseMoney],
    options: ReportOptions,
    as_of: datetime,
    cols: q.StoreColumns,
) -> None:
    """Give each group (created where missing) its recovery per currency.

    ``exposed`` is (group..., case_id) for every group a case was reminded in.
    """

    def row_for(record: Any) -> GroupRow:
        key = key_of(record, columns)
        return rows.setdefault(key, GroupRow(key))

    for r in exposed:
        case = ledger[r.case_id]
        _add_case(row_for(r).recovery_in(case.currency), case, options.curve_days, as_of)
    for r in q.message_counts(conn, columns, cols):
        row_for(r).recovery_in(r.currency).messages += int(r.messages)
    for r in q.sent_parts(conn, columns, cols):
        money = row_for(r).recovery_in(r.currency)
        money.cost += reminder_cost(options, r.cost_channel, int(r.parts), int(r.n))


def _add_case(money: Recovery, case: CaseMoney, days: Sequence[int], as_of: datetime) -> None:
    money.add(case.recovered(as_of))
    for day in days:
        money.curve[day] = money.curve.get(day, Decimal(0)) + case.recovered_by_day(day, as_of)
        followed = case.first_at is not None and case.first_at + timedelta(days=day) <= as_of
        money.observed[day] = money.observed.get(day, 0) + int(followed)
