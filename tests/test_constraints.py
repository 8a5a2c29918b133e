"""constraints.txt pins every requirement setup.cfg names, at a version the requirement accepts.

dunning reaches into private parts of firebase-admin, Dramatiq and twilio
(an SDK's endpoint constant, a broker's keys), so an unpinned upgrade can
break it silently; CI, scripts/test and the Dockerfile install with these pins.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
#: The extras CI installs; each of their requirements needs a pin too.
EXTRAS = ("dev", "plots", "otel")


def requirements(setup_cfg: str) -> list[Requirement]:
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(setup_cfg)
    lines = config["options"]["install_requires"].splitlines()
    for extra in EXTRAS:
        lines += config["options.extras_require"][extra].splitlines()
    return [Requirement(line.strip()) for line in lines if line.strip()]


def pins(constraints: str) -> dict[str, Version]:
    found = {}
    for line in constraints.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        assert version, f"not a pin: {line!r}"
        found[canonicalize_name(name)] = Version(version)
    return found


def disagreements(setup_cfg: str, constraints: str) -> list[str]:
    """Each requirement with no pin, or a pin it does not accept."""
    pinned = pins(constraints)
    problems = []
    for requirement in requirements(setup_cfg):
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name}: no pin")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}: {version} is not {requirement.specifier}")
    return problems


def test_every_requirement_of_setup_cfg_is_pinned_at_a_version_it_accepts():
    setup_cfg = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert disagreements(setup_cfg, constraints) == []
    assert "dunning" not in pins(constraints)


def test_given_a_requirement_without_a_pin_then_the_check_names_it():
    setup_cfg = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    without_twilio = "\n".join(line for line in constraints.splitlines() if not line.startswith("twilio=="))
    assert disagreements(setup_cfg, without_twilio) == ["twilio: no pin"]
    older = constraints.replace("\nfastapi==", "\nfastapi==0.100.0\n#")
    assert disagreements(setup_cfg, older) == ["fastapi: 0.100.0 is not >=0.110"]
