"""What a reminder costs: the one place the report learns prices.

Each channel's plugin prices its messages (:meth:`Channel.price`, from its
own settings); the report's options carry those prices.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

__all__ = ["reminder_cost"]


class _Priced(Protocol):
    def cost(self, channel: str, segments: int) -> Decimal: ...


def reminder_cost(options: _Priced, channel: str, parts: int, count: int = 1) -> Decimal:
    """``count`` reminders of ``parts`` billed parts each (an SMS's segments; 1 for a push or a call).

    A loan that went in another loan's message has no parts of its own: it costs nothing.
    """
    if parts <= 0:
        return Decimal(0)
    return options.cost(channel, parts) * count
