"""``dunning plugin new NAME`` writes a channel plugin that passes the contract suite as written.

The distribution is generated into a temporary directory, pip-installed like
any plugin, and its own tests run in a fresh interpreter that sees it only
as an installed distribution: unchanged, they must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from dunning.core.cli import cli


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("scaffold")
    result = CliRunner().invoke(cli, ["plugin", "new", "pager", "--dir", str(parent)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return parent / "dunning-pager"


@pytest.fixture(scope="module")
def site(generated: Path, install_plugin: Callable[[Path], Path]) -> Path:
    return install_plugin(generated)


def run(site: Path, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1", **env}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=300
    )


def test_given_a_name_then_a_whole_distribution_is_written_with_nothing_left_to_fill_in(generated):
    files = sorted(p.relative_to(generated).as_posix() for p in generated.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "dunning_pager/__init__.py",
        "dunning_pager/channel.py",
        "dunning_pager/fake_provider.py",
        "dunning_pager/plugin.py",
        "dunning_pager/settings.py",
        "dunning_pager/templates/pager/overdue_notice.en.j2",
        "dunning_pager/templates/pager/overdue_notice.zh-CN.j2",
        "policy.yaml",
        "pyproject.toml",
        "setup.cfg",
        "tests/test_pager.py",
        "tests/test_pager_contract.py",
    ]
    for path in generated.rglob("*"):
        if path.is_file():
            assert "${" not in path.read_text(encoding="utf-8"), path
    assert "pager = dunning_pager.plugin" in (generated / "setup.cfg").read_text(encoding="utf-8")


def test_its_tests_pass_unchanged_once_installed_contract_suite_included(generated, site, tmp_path):
    result = run(
        site, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(generated / "tests")], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED")]
    assert len([line for line in passed if "TestPagerContract::" in line]) >= 9, result.stdout
    assert any("test_policy_check_passes_with_a_pager_step" in line for line in passed)


def test_channels_list_shows_the_new_channel_and_its_settings(site, tmp_path):
    cli_args = ["-c", "from dunning.core.cli import main; main()", "channels", "list", "--json"]
    result = run(
        site, cli_args, tmp_path, DUNNING_PAGER_URL="http://127.0.0.1:9/v1", DUNNING_PAGER_TOKEN="t0k"
    )
    assert result.returncode == 0, result.stderr
    row = next(r for r in map(json.loads, result.stdout.splitlines()) if r["name"] == "pager")
    assert row["configured"] is True and row["details"]["settings"]["DUNNING_PAGER_TOKEN"] == "**********"


@pytest.mark.parametrize(
    ("name", "why"),
    [("Pager", "not a plugin name"), ("pa_ger", "not a plugin name"), ("api", "DUNNING_API_TOKENS")],
)
def test_a_name_that_cannot_be_a_channel_and_namespace_is_refused(tmp_path, name, why):
    result = CliRunner().invoke(cli, ["plugin", "new", name, "--dir", str(tmp_path)])
    assert result.exit_code != 0 and why in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_never_overwritten(tmp_path):
    (tmp_path / "dunning-pager").mkdir()
    result = CliRunner().invoke(cli, ["plugin", "new", "pager", "--dir", str(tmp_path)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert list((tmp_path / "dunning-pager").iterdir()) == []
