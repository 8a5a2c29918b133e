"""Which strategy each case's person is assigned to: the arms of a holdout comparison."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from dunning.core.store.reports.columns import StoreColumns
from dunning.core.store.schema import cases, debtors

__all__ = ["case_strategies"]


def case_strategies(conn: Connection, cols: StoreColumns) -> list[Row[Any]]:
    """(case_id, strategy) of every case whose person is assigned to a strategy; none without the column."""
    if not cols.debtors_assigned:
        return []
    strategy = cols.debtor_strategy
    query = (
        select(cases.c.case_id, strategy.label("strategy"))
        .select_from(cases.join(debtors, debtors.c.debtor_id == cases.c.debtor_id))
        .where(strategy.is_not(None))
    )
    return list(conn.execute(query))
