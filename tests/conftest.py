"""Shared fixtures: the plugin registry, policies from YAML text, sample cases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dunning.core.plugins import Registry, make_registry
from dunning.core.policy.compile import compile_policy
from dunning.core.policy.model import Policy


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


# ---------------------------------------------------------------- services

POSTGRES_URL = os.environ.get(
    "DUNNING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DUNNING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def service_missing(name: str, error: Exception) -> None:
    """A missing service skips a test locally, and fails it under CI=true."""
    message = f"{name} is not reachable: {error}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    from dunning.core.store.base import normalise_url

    base = normalise_url(POSTGRES_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        engine.dispose()
        service_missing("PostgreSQL", exc)
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The same test on the embedded SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL on a test database, flushed before and after."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except Exception as exc:
        service_missing("Redis", exc)
    yield REDIS_URL
    client.flushdb()
    client.close()


# ---------------------------------------------------------------- plugin distributions


#: Installs a distribution whose dependencies (dunning) are already here.
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q")


@pytest.fixture(scope="session")
def install_plugin(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """Build and pip-install a plugin distribution (without dependencies) into a directory of its own.

    Built from a copy, so that setuptools' ``build/`` and egg-info never land
    in the source; the directory is what ``PYTHONPATH`` must name for a fresh
    interpreter to see the plugin as an installed distribution.
    """

    def install(source: Path) -> Path:
        work = tmp_path_factory.mktemp(source.name)
        copy = work / "src"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        target = work / "site"
        subprocess.run(
            [*PIP_INSTALL, "--target", str(target), str(copy)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return target

    return install
