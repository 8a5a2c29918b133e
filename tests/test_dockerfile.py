"""The Dockerfile, read as Docker reads it: stages, what each copies, who runs, how health is checked.

No Docker daemon is needed (CI builds the image only where one answers), so
these checks are what stands between a change and an image that ships the
test kit, runs as root or has no health check.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dunning.core.cli import cli

ROOT = Path(__file__).resolve().parent.parent
#: What must never be copied into the image: the tests, the test kit, the examples, local state.
NEVER_COPIED = ("tests", "testing", "examples", "bench", ".venv", ".git")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> list[Stage]:
    """Instructions (continuation lines joined, comments dropped) grouped by FROM."""
    stages: list[Stage] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        logical = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, words[0]))
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def copied_sources(stage: Stage) -> list[str]:
    sources = []
    for args in stage.all("COPY"):
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        sources += words[:-1]
    return sources


def test_given_a_dockerfile_copying_the_test_kit_then_the_check_sees_it():
    broken = parse("FROM python:3.11-slim AS build\nCOPY testing testing\nFROM python:3.11-slim AS runtime\n")
    assert "testing" in copied_sources(broken[0])


def test_the_image_is_built_in_two_stages_from_a_slim_base(stages):
    assert [s.name for s in stages] == ["build", "runtime"]
    assert all(s.base.endswith("-slim") for s in stages)


def test_no_stage_copies_tests_the_test_kit_or_the_examples(stages):
    for stage in stages:
        for source in copied_sources(stage):
            assert source.split("/")[0] not in NEVER_COPIED, (stage.name, source)


def test_the_build_stage_makes_the_runtime_wheel_without_the_test_kit(stages):
    runs = " ".join(stages[0].all("RUN"))
    assert "DUNNING_BUILD=runtime" in runs and "pip wheel" in runs
    assert "setup.py" in " ".join(stages[0].all("COPY"))


def test_the_runtime_stage_installs_the_wheel_at_pinned_versions_from_the_build_stage(stages):
    runtime = stages[-1]
    assert all("--from=build" in args for args in runtime.all("COPY"))
    install = " ".join(runtime.all("RUN"))
    assert "pip install --constraint /tmp/constraints.txt" in install
    assert "constraints.txt" in " ".join(runtime.all("COPY"))


def test_the_runtime_stage_runs_as_a_user_without_privileges(stages):
    users = stages[-1].all("USER")
    assert users and users[-1] not in ("root", "0")


def test_the_runtime_stage_checks_its_health_with_a_dunning_command(stages):
    [check] = stages[-1].all("HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[0] == "dunning" and command[1] in cli.commands


def test_the_build_context_leaves_out_what_the_image_must_not_carry():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert set(NEVER_COPIED) <= ignored
