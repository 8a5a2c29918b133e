"""The push channel's settings: ``DUNNING_FCM_*``, and its price.

The variable names are those dunning always had; the price keeps its older
names too (``DUNNING_COST_PUSH``, ``DUNNING_COST_CURRENCY``) when the
namespaced ones (``DUNNING_FCM_COST``, ...) are unset.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from pydantic import Field

from dunning.core.sections import SettingsSection

__all__ = ["FCM_API", "FcmSettings"]

#: Firebase Cloud Messaging's API; tests point elsewhere.
FCM_API = "https://fcm.googleapis.com"


class FcmSettings(SettingsSection):
    """A Firebase project's service account, where FCM is, and what a push costs."""

    namespace = "fcm"
    legacy_names = MappingProxyType({"cost": "DUNNING_COST_PUSH", "cost_currency": "DUNNING_COST_CURRENCY"})

    #: the path of a service-account JSON file
    credentials: str | None = None
    project_id: str | None = None
    base_url: str = FCM_API
    #: seconds an API request may take
    timeout: float = Field(default=10.0, gt=0, le=120)
    #: what one push costs
    cost: Decimal = Field(default=Decimal("0"), ge=0)
    #: the price's currency (ISO 4217)
    cost_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
