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


def _plugin_variables() -> set[str]:
    """Every variable of every installed plugin's settings section (DUNNING_TWILIO_FROM, ...)."""
    from dunning.core.plugins import make_registry

    registry = make_registry()
    return {
        section.variable(field) for section in registry.settings.values() for field in section.model_fields
    }


def test_every_command_and_setting_exists(compose):
    names = {f"DUNNING_{name.upper()}" for name in Settings.model_fields} | _plugin_variables()
    known = names | {name + "_FILE" for name in names}
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if command and command[0] == "dunning":
            assert command[1] in cli.commands, f"{name}: no command {command[1]!r}"
        environment = service.get("environment") or {}
        unknown = {key for key in environment if key.startswith("DUNNING_")} - known
        assert not unknown, f"{name}: unknown settings {unknown}"


def dunning_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if (service.get("command") or [""])[0] == "dunning"
    }


def test_given_the_stack_then_every_long_running_service_has_a_health_check_that_dunning_understands(compose):
    # Given every service of the stack
    for name, service in compose["services"].items():
        # Then each long-running one has a health check; the one-shot migration says it has none
        if service.get("restart") == "no":
            assert service["healthcheck"] == {"disable": True}, name
            continue
        assert service["healthcheck"]["test"], name
    for name, service in dunning_services(compose).items():
        test = service["healthcheck"].get("test")
        if test is None:
            continue
        # And a dunning service's check is `dunning health`, asking an endpoint of the process itself
        assert test[:3] == ["CMD", "dunning", "health"], name
        assert test[3] in {p.opts[0] for p in cli.commands["health"].params if p.opts}, name
        port = test[4].split(":")[2].split("/")[0]
        command = service["command"]
        assert port in command or (command[1] == "serve" and port == "8000"), (name, port, command)
        if command[1] in ("worker", "scheduler"):
            option = {p.opts[0] for p in cli.commands[command[1]].params if p.opts}
            assert "--metrics-port" in option and command[command.index("--metrics-port") + 1] == port


def test_given_the_stack_then_secrets_are_mounted_files_never_values(compose):
    secret_settings = {
        f"DUNNING_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    declared = compose["secrets"]
    for name, service in dunning_services(compose).items():
        environment = service["environment"]
        # Then no secret setting is passed by value
        assert not secret_settings & set(environment), name
        # And each secret setting comes from a file of a secret the service mounts
        for secret in secret_settings:
            path = environment[secret + "_FILE"]
            mounted = path.removeprefix("/run/secrets/")
            assert path.startswith("/run/secrets/") and mounted in service["secrets"], (name, secret)
            assert "file" in declared[mounted], mounted
        # And the FCM credentials file is mounted where DUNNING_FCM_CREDENTIALS can name it
        assert "fcm_credentials" in service["secrets"], name


def test_given_the_stack_then_nothing_runs_before_the_schema_is_migrated(compose):
    assert compose["services"]["migrate"]["command"] == ["dunning", "db", "upgrade"]
    for name, service in dunning_services(compose).items():
        if name == "migrate":
            continue
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
