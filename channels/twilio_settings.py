"""The Twilio channels' settings: ``DUNNING_TWILIO_*``, shared by SMS and voice, and their prices.

The variable names are those dunning always had, so deployments keep
working; the prices keep their older names too (``DUNNING_COST_SMS``,
``DUNNING_COST_VOICE``, ``DUNNING_COST_CURRENCY``) when the namespaced ones
(``DUNNING_TWILIO_SMS_COST``, ...) are unset.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from pydantic import Field, SecretStr

from dunning.core.sections import SettingsSection

__all__ = ["TWILIO_API", "TwilioSettings"]

#: Twilio's REST API; tests and regional gateways point elsewhere.
TWILIO_API = "https://api.twilio.com"


class TwilioSettings(SettingsSection):
    """One Twilio account: credentials, a sender, where the API is, call options, prices."""

    namespace = "twilio"
    legacy_names = MappingProxyType(
        {
            "sms_cost": "DUNNING_COST_SMS",
            "voice_cost": "DUNNING_COST_VOICE",
            "cost_currency": "DUNNING_COST_CURRENCY",
        }
    )

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    #: the sender number (SMS and calls)
    from_: str | None = Field(default=None, alias="from")
    #: a messaging service sends SMS from its own pool of numbers
    messaging_service_sid: str | None = None
    base_url: str = TWILIO_API
    #: seconds an API request may take
    timeout: float = Field(default=10.0, gt=0, le=120)
    #: ``Enable`` or ``DetectMessageEnd`` (any case); unset: no answering-machine detection
    machine_detection: str | None = None
    #: seconds a call rings before Twilio gives up (Twilio takes 5 to 600)
    ring_timeout: int = Field(default=30, ge=5, le=600)
    #: ``LOCALE=VOICE[:LANGUAGE],...`` over the voice channel's built-in voices
    voices: str | None = None
    #: what one SMS segment costs
    sms_cost: Decimal = Field(default=Decimal("0.0079"), ge=0)
    #: what one call attempt costs
    voice_cost: Decimal = Field(default=Decimal("0.014"), ge=0)
    #: the currency of both prices (ISO 4217)
    cost_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
