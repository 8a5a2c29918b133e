"""What a reminder costs: the one place the report learns prices.

Today the prices are settings (``DUNNING_COST_SMS`` per segment,
``DUNNING_COST_PUSH``, ``DUNNING_COST_VOICE`` in ``DUNNING_COST_CURRENCY``);
when channel plugins bring their own costs, only :func:`channel_costs` changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from dunning.core.settings import Settings

__all__ = ["COSTED_CHANNELS", "channel_costs", "reminder_cost"]

#: The channels whose unit price the settings know.
COSTED_CHANNELS = ("sms", "push", "voice")


def channel_costs(settings: Settings) -> tuple[Mapping[str, Decimal], str]:
    """(unit cost per channel, the currency they are in)."""
    return {name: settings.channel_cost(name) for name in COSTED_CHANNELS}, settings.cost_currency


def reminder_cost(unit_costs: Mapping[str, Decimal], channel: str, parts: int, count: int = 1) -> Decimal:
    """``count`` reminders of ``parts`` billed parts each (an SMS's segments; 1 for a push or a call)."""
    return unit_costs.get(channel, Decimal(0)) * parts * count
