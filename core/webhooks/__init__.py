"""Outbound webhooks: the lender's systems hear of hand-offs, disputes, opt-outs, payments, ..."""

from __future__ import annotations

from dunning.core.webhooks.signing import SIGNATURE_HEADER, sign, verify
from dunning.core.webhooks.topics import Subscription, Topic, parse_subscriptions

__all__ = ["SIGNATURE_HEADER", "Subscription", "Topic", "parse_subscriptions", "sign", "verify"]
