"""Where this store keeps a reminder's and a person's strategy, if it keeps them at all.

Champion/challenger strategies add a ``strategy`` column to ``intents`` (the
strategy a reminder was sent under) and to ``debtors`` (the strategy a person
is assigned to, a holdout included). The report reads them when the store
has them and reads NULL when it does not, so that it works on every store,
older ones included, and groups by strategy as soon as a migration adds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, Table, cast, inspect, literal_column, null

from dunning.core.store.schema import debtors, intents

__all__ = ["STRATEGY", "StoreColumns", "store_columns"]

#: The column both tables name a strategy in.
STRATEGY = "strategy"


@dataclass(frozen=True)
class StoreColumns:
    """The strategy columns as this store has them (NULL where it has none)."""

    intent_strategy: ColumnElement[Any]
    debtor_strategy: ColumnElement[Any]
    #: whether people are assigned to strategies (a holdout can only be told apart then)
    debtors_assigned: bool = False

    def intent(self, name: str) -> ColumnElement[Any]:
        """An intents column by group name, the strategy included."""
        return self.intent_strategy if name == STRATEGY else intents.c[name]


def store_columns(conn: Connection) -> StoreColumns:
    """Look at the store's tables once, when a report starts."""
    found = inspect(conn)
    intent_has = STRATEGY in {c["name"] for c in found.get_columns(intents.name)}
    debtor_has = STRATEGY in {c["name"] for c in found.get_columns(debtors.name)}
    return StoreColumns(_column(intents, intent_has), _column(debtors, debtor_has), debtor_has)


def _column(table: Table, present: bool) -> ColumnElement[Any]:
    if not present:
        return cast(null(), String())
    if STRATEGY in table.c:
        return table.c[STRATEGY]
    return literal_column(f"{table.name}.{STRATEGY}", String())  # a column this schema does not declare
