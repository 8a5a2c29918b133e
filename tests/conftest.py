"""Shared fixtures: the plugin registry, policies from YAML text, sample cases."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from dunning.core.plugins import Registry, make_registry
from dunning.core.policy import Policy, compile_policy


@pytest.fixture(scope="session")
def registry() -> Registry:
    return make_registry()


@pytest.fixture(scope="session")
def make_policy(registry: Registry) -> Callable[[str], Policy]:
    """Compile a policy from YAML text, failing the test on any error."""

    def build(text: str) -> Policy:
        policy, problems = compile_policy(
            textwrap.dedent(text),
            file="test.yaml",
            channels=registry.channel_specs(),
            presets=registry.presets,
        )
        errors = [str(p) for p in problems if p.severity == "error"]
        assert policy is not None, errors
        return policy

    return build
