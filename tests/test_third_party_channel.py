"""A channel shipped as its own distribution is found, listed and held to the contract like ours.

The example at ``examples/gateway-channel`` is built and installed into a
throwaway directory; every check then runs in a fresh interpreter that sees
it only through ``PYTHONPATH``, as a pip-installed plugin would be seen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gateway-channel"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example, pip-installed (without dependencies: dunning is already here) into a directory."""
    work = tmp_path_factory.mktemp("gateway")
    source = work / "src"
    # Build from a copy, so that setuptools' build/ and egg-info never land in the repository.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def run(site: Path, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1", **env}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=300
    )


def test_given_the_gateway_plugin_is_installed_then_its_channel_comes_through_the_entry_point(site, tmp_path):
    probe = (
        "from dunning.core.plugins import make_registry\n"
        "import dunning_gateway, json\n"
        "r = make_registry()\n"
        "c = r.channels['gateway']\n"
        "print(json.dumps([r.source_of('channel', 'gateway'), c.__module__, c.spec().queue_name,"
        " dunning_gateway.__file__]))\n"
    )
    result = run(site, ["-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    source, module, queue, path = json.loads(result.stdout)
    assert (source, module, queue) == ("gateway", "dunning_gateway.channel", "dunning.gateway")
    assert Path(path).is_relative_to(site), "the installed copy, not the source tree, was imported"


def test_dunning_channels_list_shows_it_and_whether_it_is_configured(site, tmp_path):
    cli = ["-c", "from dunning.core.cli import main; main()", "channels", "list", "--json"]
    unconfigured = run(site, cli, tmp_path)
    configured = run(
        site, cli, tmp_path, DUNNING_GATEWAY_URL="http://127.0.0.1:9/v1/sms", DUNNING_GATEWAY_SECRET="s"
    )
    for result in (unconfigured, configured):
        assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in configured.stdout.splitlines()]
    gateway = next(row for row in rows if row["name"] == "gateway")
    settings = gateway.pop("details")["settings"]
    assert gateway == {
        "name": "gateway",
        "plugin": "gateway",
        "queue": "dunning.gateway",
        "kind": "text",
        "contact_kind": "phone",
        "configured": True,
        "problem": "",
    }
    # And its own DUNNING_GATEWAY_* settings, the secret masked
    assert settings["DUNNING_GATEWAY_URL"] == "http://127.0.0.1:9/v1/sms"
    assert settings["DUNNING_GATEWAY_SECRET"] == "**********"
    before = next(json.loads(line) for line in unconfigured.stdout.splitlines() if '"gateway"' in line)
    assert before["configured"] is False
    # And the built-in channels are still there beside it
    assert {"sms", "push", "voice"} <= {row["name"] for row in rows}


def test_dunning_policy_check_passes_with_its_steps_and_its_shipped_templates(site, tmp_path):
    cli = ["-c", "from dunning.core.cli import main; main()", "policy", "check", str(EXAMPLE / "policy.yaml")]
    result = run(site, cli, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gateway/overdue_notice.zh-CN.j2: UCS-2" in result.stdout


def test_its_own_test_suite_passes_the_dunning_contract(site, tmp_path):
    result = run(
        site, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(EXAMPLE / "tests")], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED")]
    contract = [line for line in passed if "TestGatewayContract::" in line]
    assert len(contract) >= 9, result.stdout
    assert "test_send_many_keeps_order_and_length_and_types_each_failure" in result.stdout
