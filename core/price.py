"""What one message of a channel costs, in its own currency and unit, for reports.

A channel's plugin knows its provider's price (its own settings hold it);
``dunning report`` multiplies it by what was sent: texts by their SMS
segments when the price is per segment, everything else by the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = ["Price"]

#: What a price is counted per.
Unit = Literal["message", "segment"]


@dataclass(frozen=True)
class Price:
    """``amount`` in ``currency`` (ISO 4217) per ``unit``."""

    amount: Decimal
    currency: str
    unit: Unit = "message"

    def of(self, segments: int) -> Decimal:
        """The cost of one message of ``segments`` SMS segments (1 for anything else)."""
        return self.amount * (max(1, segments) if self.unit == "segment" else 1)
