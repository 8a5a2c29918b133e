"""Factories for tests of dunning and of its plugins."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from dunning.core.domain.model import Case

__all__ = ["make_case", "write_portfolio"]


def make_case(**fields: Any) -> Case:
    """A Chinese consumer-loan case due on 1 December 2026; keywords override fields."""
    base: dict[str, Any] = dict(
        case_id="C-1",
        debtor_id="D-1",
        name="王芳",
        account="6222020200112233",
        amount_due=Decimal("3200.00"),
        currency="CNY",
        due_date=date(2026, 12, 1),
        locale="zh-CN",
        phone="+8613800138000",
        push_token="tok-1",
        timezone="Asia/Shanghai",
        payment_url="https://pay.example.com/r/1",
    )
    base.update(fields)
    return Case(**base)


#: The columns of a portfolio CSV that ``dunning import`` needs.
PORTFOLIO_COLUMNS = (
    "case_id",
    "debtor_id",
    "name",
    "phone",
    "locale",
    "account",
    "amount_due",
    "currency",
    "due_date",
)


def write_portfolio(path: Path, count: int, prefix: str = "C-") -> None:
    """A CSV of ``count`` English-speaking US debtors, one $99 case each, overdue since 1 January 2026.

    Case ``i`` is ``{prefix}{i}`` of debtor ``D-{i}``.
    """
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PORTFOLIO_COLUMNS)
        for i in range(count):
            writer.writerow(
                [
                    f"{prefix}{i}",
                    f"D-{i}",
                    "Alex",
                    f"+1415{5550000 + i % 10000:07d}",
                    "en",
                    f"4111{i:012d}",
                    "99.00",
                    "USD",
                    "2026-01-01",
                ]
            )
