"""Factories for tests of dunning and of its plugins."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from dunning.core.model import Case

__all__ = ["make_case"]


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
