"""The e-mail channel, a distribution of its own, works through dunning's public hooks alone.

``examples/email-channel`` is pip-installed into a throwaway directory; every
check runs in a fresh interpreter that sees it only as an installed plugin:
it registers, lists its settings, passes the contract suite and its own
end-to-end tests against a real SMTP server, and imports nothing of dunning
that a third party could not.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "email-channel"
#: What a channel plugin may import of dunning: the surface the plugin docs describe.
PUBLIC = frozenset(
    {
        "dunning.core.channel",
        "dunning.core.content.masking",
        "dunning.core.content.sources",
        "dunning.core.domain.model",
        "dunning.core.errors",
        "dunning.core.hookspecs",
        "dunning.core.intake.keys",
        "dunning.core.intake.service",
        "dunning.core.outcome",
        "dunning.core.price",
        "dunning.core.sections",
        "dunning.core.settings",
        "dunning.testing.contract",
    }
)


@pytest.fixture(scope="module")
def site(install_plugin: Callable[[Path], Path]) -> Path:
    return install_plugin(EXAMPLE)


def run(site: Path, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1", **env}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=300
    )


def test_given_it_is_installed_then_channels_list_shows_email_with_its_settings(site, tmp_path):
    cli = ["-c", "from dunning.core.cli import main; main()", "channels", "list", "--json"]
    result = run(
        site,
        cli,
        tmp_path,
        DUNNING_EMAIL_HOST="127.0.0.1",
        DUNNING_EMAIL_FROM="r@anxin.example",
        DUNNING_EMAIL_PASSWORD="pa55",
    )
    assert result.returncode == 0, result.stderr
    email = next(row for row in map(json.loads, result.stdout.splitlines()) if row["name"] == "email")
    assert (email["plugin"], email["configured"]) == ("email", True)
    assert email["details"]["settings"]["DUNNING_EMAIL_PASSWORD"] == "**********"
    assert "pa55" not in result.stdout


def test_policy_check_passes_with_its_steps_and_shipped_templates(site, tmp_path):
    cli = ["-c", "from dunning.core.cli import main; main()", "policy", "check", str(EXAMPLE / "policy.yaml")]
    result = run(site, cli, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "email/overdue_notice.zh-CN.j2" in result.stdout


def test_its_own_suite_passes_the_contract_and_runs_end_to_end_against_a_real_smtp_server(site, tmp_path):
    result = run(
        site, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(EXAMPLE / "tests")], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED")]
    assert len([line for line in passed if "TestEmailContract::" in line]) >= 9, result.stdout
    assert any("test_import_then_a_scheduler_round" in line for line in passed), result.stdout


def test_it_imports_only_dunnings_public_surface():
    imported = set()
    for path in (EXAMPLE / "dunning_email").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dunning."):
                imported.add(node.module)
    assert imported, "no dunning import found: the scan is broken"
    assert imported <= PUBLIC, f"the plugin reaches past the public surface: {sorted(imported - PUBLIC)}"
