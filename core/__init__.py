"""dunning's core: the domain model, policies, guardrails and the pure engine.

Importing this package does nothing but define names: plugins load in
:func:`make_plugin_manager`, settings in :func:`load_settings`.
"""

from __future__ import annotations

import importlib.metadata as _metadata

from dunning.core.channel import Channel, ChannelSpec, OutboundMessage, Receipt
from dunning.core.domain.engine import Action, Decision, decide
from dunning.core.domain.model import Attempt, Case, Contact, ContactStatus, Event, EventKind, History, Intent
from dunning.core.errors import (
    AmbiguousDeliveryError,
    ConfigError,
    DeliveryError,
    DunningError,
    InputError,
    PermanentDeliveryError,
    PolicyError,
    TransientDeliveryError,
)
from dunning.core.hookspecs import hookimpl
from dunning.core.intake.records import parse_case, parse_event
from dunning.core.plugins import Registry, make_plugin_manager, make_registry
from dunning.core.policy.compile import check_policy, load_policy
from dunning.core.policy.explain import explain
from dunning.core.policy.model import Policy
from dunning.core.policy.presets import Preset
from dunning.core.settings import Settings, load_settings

try:
    #: the installed distribution's version (``dunning --version`` prints the same)
    __version__ = _metadata.version("dunning")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Action",
    "AmbiguousDeliveryError",
    "Attempt",
    "Case",
    "Channel",
    "ChannelSpec",
    "ConfigError",
    "Contact",
    "ContactStatus",
    "Decision",
    "DeliveryError",
    "DunningError",
    "Event",
    "EventKind",
    "History",
    "InputError",
    "Intent",
    "OutboundMessage",
    "PermanentDeliveryError",
    "Policy",
    "PolicyError",
    "Preset",
    "Receipt",
    "Registry",
    "Settings",
    "TransientDeliveryError",
    "__version__",
    "check_policy",
    "decide",
    "explain",
    "hookimpl",
    "load_policy",
    "load_settings",
    "make_plugin_manager",
    "make_registry",
    "parse_case",
    "parse_event",
]
