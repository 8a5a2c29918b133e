"""The e-mail channel's settings: ``DUNNING_EMAIL_*``, a section of dunning's settings.

The channel is configured once ``DUNNING_EMAIL_HOST`` and ``DUNNING_EMAIL_FROM``
are set. The user and password are secrets: dunning masks them wherever it
shows settings. ``DUNNING_EMAIL_UNSUBSCRIBE_SECRET`` signs the one-click
unsubscribe links (RFC 8058); without it the ``List-Unsubscribe`` header
offers a ``mailto:`` address only.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr

from dunning.core.sections import SettingsSection

__all__ = ["EmailSettings"]


class EmailSettings(SettingsSection):
    """The SMTP relay, the sender, unsubscribing, and the price of one e-mail."""

    namespace = "email"

    #: the SMTP relay (the lender's own, or a provider's)
    host: str | None = None
    port: int = Field(default=25, ge=1, le=65535)
    #: the sender, ``reminders@lender.example`` or ``Lender <reminders@lender.example>``
    from_: str | None = Field(default=None, alias="from")
    #: upgrade the connection with STARTTLS before sending (and before logging in)
    starttls: bool = False
    #: a CA bundle to trust for STARTTLS (an in-house relay with a private CA)
    ca_file: str | None = None
    user: SecretStr | None = None
    password: SecretStr | None = None
    #: seconds a connection or an SMTP reply may take
    timeout: float = Field(default=10.0, gt=0, le=120)
    #: where ``Reply-To`` points, if not at the sender
    reply_to: str | None = None
    #: the ``mailto:`` address of ``List-Unsubscribe``; the sender's when unset
    unsubscribe_mailto: str | None = None
    #: signs one-click unsubscribe links; unset: no links, ``mailto:`` only
    unsubscribe_secret: SecretStr | None = None
    #: what one e-mail costs
    cost: Decimal = Field(default=Decimal("0"), ge=0)
    cost_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
