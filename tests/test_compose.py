"""docker-compose.yml: valid against the Compose specification, and true to dunning's own settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dunning.core.cli import cli
from dunning.core.plugins import make_registry
from dunning.core.runtime.webhooks import QUEUE as WEBHOOK_QUEUE
from dunning.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
#: The Compose specification's JSON schema ships in this wheel (compose/config/compose_spec.json).
SCHEMA_WHEEL = "docker-compose==1.29.2"
CACHE = ROOT / ".cache" / "wheels"


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    wheels = sorted(CACHE.glob("docker_compose-1.29.2-*.whl"))
    if not wheels:
        download = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            SCHEMA_WHEEL,
            "-d",
            str(CACHE),
        ]
        subprocess.run(download, capture_output=True, timeout=300)
        wheels = sorted(CACHE.glob("docker_compose-1.29.2-*.whl"))
    if not wheels:
        message = f"the Compose schema wheel ({SCHEMA_WHEEL}) could not be fetched into {CACHE}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(zipfile.ZipFile(wheels[0]).read("compose/config/compose_spec.json"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_file_follows_the_compose_specification(compose_schema, compose):
    assert errors(compose_schema, compose) == []


def test_the_schema_check_would_catch_a_mistake(compose_schema, compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    assert any("helthcheck" in e for e in errors(compose_schema, broken))


def test_one_worker_service_per_channel_queue_with_health_checks_and_volumes(compose):
    services = compose["services"]
    assert {"redis", "postgres", "api", "scheduler"} <= set(services)
    queues = {
        arg
        for service in services.values()
        for arg in service.get("command", [])
        if isinstance(arg, str) and arg.startswith("dunning.")
    }
    builtin = {cls.spec().queue_name for name, cls in make_registry().channels.items() if name != "outbox"}
    assert queues == builtin | {WEBHOOK_QUEUE}  # and the outbound webhooks' own queue
    for name in ("redis", "postgres", "api"):
        assert "healthcheck" in services[name], name
    assert any("/var/lib/postgresql/data" in v for v in services["postgres"]["volumes"])


def test_every_command_and_setting_exists(compose):
    known = {f"DUNNING_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if command and command[0] == "dunning":
            assert command[1] in cli.commands, f"{name}: no command {command[1]!r}"
        environment = service.get("environment") or {}
        unknown = {key for key in environment if key.startswith("DUNNING_")} - known
        assert not unknown, f"{name}: unknown settings {unknown}"
