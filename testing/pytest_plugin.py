"""The ``pytest11`` entry point: fixtures for testing dunning channels and deployments."""

from __future__ import annotations
