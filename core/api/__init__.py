"""The HTTP API: events, cases, timelines and the providers' webhooks."""

from __future__ import annotations

from dunning.core.api.app import create_app

__all__ = ["create_app"]
