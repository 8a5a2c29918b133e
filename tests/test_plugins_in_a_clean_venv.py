"""The e-mail and gateway channels work from a clean virtual environment with nothing but ``pip install``.

A fresh ``python -m venv`` (no system site-packages) gets dunning, built from
this source tree, and the two example plugins, from their own directories;
nothing else is installed by hand. Then, in that environment: both channels
are listed with their settings, ``policy check`` passes with their steps,
and each plugin's own tests pass — the contract suite and, for e-mail, the
end-to-end run against a real SMTP server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EMAIL = ROOT / "examples" / "email-channel"
GATEWAY = ROOT / "examples" / "gateway-channel"
#: What of the source tree a build never needs (and must not write into).
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".cache", "site", ".hypothesis", "*.db*"
)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with dunning and both plugins pip-installed, each from a copy."""
    work = tmp_path_factory.mktemp("clean")
    sources = {name: work / name for name in ("dunning", "email", "gateway")}
    for (_name, target), source in zip(sources.items(), (ROOT, EMAIL, GATEWAY), strict=True):
        shutil.copytree(source, target, ignore=NOT_SOURCE)
    env_dir = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    packages = [str(sources["dunning"]), f"{sources['email']}[test]", str(sources["gateway"])]
    result = subprocess.run([*install, *packages], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return env_dir


def run(venv: Path, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DUNNING_", "PYTHON"))}
    environment.update(PATH=f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}", **env)
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=environment, timeout=600)


def test_given_the_clean_venv_then_dunning_comes_from_it_not_from_this_tree(venv, tmp_path):
    probe = "import dunning.core, dunning_email, dunning_gateway; print(dunning.core.__file__)"
    result = run(venv, [str(venv / "bin" / "python"), "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(venv), result.stdout


def test_both_channels_are_listed_with_their_settings(venv, tmp_path):
    env = {
        "DUNNING_EMAIL_HOST": "127.0.0.1",
        "DUNNING_EMAIL_FROM": "r@anxin.example",
        "DUNNING_GATEWAY_SECRET": "s",
    }
    result = run(venv, ["dunning", "channels", "list", "--json"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert {"email", "gateway", "sms", "push", "voice"} <= set(rows)
    assert rows["email"]["configured"] is True and rows["gateway"]["configured"] is False
    assert rows["email"]["details"]["settings"]["DUNNING_EMAIL_HOST"] == "127.0.0.1"
    assert rows["gateway"]["details"]["settings"]["DUNNING_GATEWAY_SECRET"] == "**********"


@pytest.mark.parametrize("example", [EMAIL, GATEWAY], ids=["email", "gateway"])
def test_policy_check_passes_with_the_plugins_steps(venv, tmp_path, example):
    result = run(venv, ["dunning", "policy", "check", str(example / "policy.yaml")], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": ok (" in result.stdout


@pytest.mark.parametrize("example", [EMAIL, GATEWAY], ids=["email", "gateway"])
def test_each_plugins_own_suite_passes_contract_included(venv, tmp_path, example):
    pytest_args = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"]
    result = run(venv, [*pytest_args, str(example / "tests")], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contract::test_send_many_keeps_order_and_length_and_types_each_failure" in result.stdout


def test_a_plugin_made_by_the_installed_dunning_passes_its_own_tests_there(venv, tmp_path):
    # Given the scaffold of the installed wheel (package data, not this tree)
    made = run(venv, ["dunning", "plugin", "new", "pager", "--dir", str(tmp_path)], tmp_path)
    assert made.returncode == 0, made.stderr
    plugin = tmp_path / "dunning-pager"
    # When it is pip-installed there, Then its tests pass unchanged
    python = str(venv / "bin" / "python")
    installed = run(
        venv, [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(plugin)], tmp_path
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    result = run(
        venv, [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugin / "tests")], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
