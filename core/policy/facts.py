"""The facts a segment or step condition may name, each with its declared type.

A policy adds its own declared attributes (:mod:`~dunning.core.policy.attributes`)
to these. The types let ``dunning policy check`` refuse a condition that could only fail
or mislead at run time (``locale > 3``, ``tags + 1``, ``amount_due in 5``)
before it meets a single case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FACTS", "Fact", "FactType"]


class FactType(StrEnum):
    """What kind of value a fact holds for every case."""

    NUMBER = "number"
    TEXT = "text"
    BOOLEAN = "boolean"
    TEXT_LIST = "list of text"
    DATE = "date"
    #: a number, or none where it is unknown (no earlier debt, say)
    NUMBER_OR_NONE = "number or none"
    #: the types of a lender's attributes, none where a case has no value
    TEXT_OR_NONE = "text or none"
    BOOLEAN_OR_NONE = "boolean or none"
    DATE_OR_NONE = "date or none"


@dataclass(frozen=True)
class Fact:
    """One name a condition may use: its type and what it means."""

    type: FactType
    description: str


#: The names a condition may use, their types, and what each means.
FACTS: Mapping[str, Fact] = {
    "amount_due": Fact(FactType.NUMBER, "outstanding amount after payments (Decimal)"),
    "currency": Fact(FactType.TEXT, "ISO 4217 code"),
    "days_overdue": Fact(FactType.NUMBER, "whole days since the due date, in the debtor's zone"),
    "locale": Fact(FactType.TEXT, "the debtor's locale, e.g. zh-CN or en"),
    "tags": Fact(FactType.TEXT_LIST, "list of the case's tags"),
    "has_phone": Fact(FactType.BOOLEAN, "true when the case has a usable phone number"),
    "has_push": Fact(FactType.BOOLEAN, "true when the case has a push token"),
    "contacts_sent": Fact(FactType.NUMBER, "reminders already sent for this case"),
    "previous_cures": Fact(FactType.NUMBER, "earlier debts of this debtor paid in full"),
    "broken_promises": Fact(FactType.NUMBER, "promises to pay this debtor did not keep"),
    "kept_promises": Fact(FactType.NUMBER, "promises to pay this debtor kept"),
    "today": Fact(FactType.DATE, "the day it is in the debtor's zone (today - a date: days between)"),
    "days_to_pay_last": Fact(
        FactType.NUMBER_OR_NONE, "days overdue at which the last earlier debt was paid (or none)"
    ),
}
