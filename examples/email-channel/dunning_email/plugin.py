"""The plugin: what the e-mail channel brings to dunning, each through a public hook.

The entry point ``email`` in the ``dunning`` group names this module.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from fastapi import APIRouter

from dunning.core.channel import Channel
from dunning.core.content.sources import TemplateSource
from dunning.core.hookspecs import hookimpl
from dunning.core.sections import SettingsSection
from dunning_email.channel import EmailChannel
from dunning_email.settings import EmailSettings
from dunning_email.unsubscribe import router

__all__ = [
    "dunning_register_channels",
    "dunning_register_routes",
    "dunning_register_settings",
    "dunning_register_templates",
]


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(EmailChannel)


@hookimpl
def dunning_register_settings(register: Callable[[type[SettingsSection]], None]) -> None:
    register(EmailSettings)


@hookimpl
def dunning_register_templates(register: Callable[[TemplateSource], None]) -> None:
    """``templates/email/<name>.<locale>.j2``, installed with the package."""
    register(files("dunning_email") / "templates")


@hookimpl
def dunning_register_routes(register: Callable[[APIRouter], None]) -> None:
    """The one-click unsubscribe route of ``List-Unsubscribe``."""
    register(router)
