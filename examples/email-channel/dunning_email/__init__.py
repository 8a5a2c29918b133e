"""E-mail over SMTP as a dunning channel: a third-party plugin built only on dunning's public hooks."""

from __future__ import annotations

from dunning_email.channel import EmailChannel
from dunning_email.settings import EmailSettings

__all__ = ["EmailChannel", "EmailSettings"]
