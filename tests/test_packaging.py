"""The wheel installs ``dunning`` as one import namespace, templates and entry points included."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("dunning-*.whl"))


def test_wheel_maps_top_level_folders_under_one_import_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "dunning/core/domain/engine.py" in names
    assert "dunning/channels/sms.py" in names
    assert "dunning/plugins/presets.py" in names
    assert "dunning/templates/sms/overdue_notice.zh-CN.j2" in names
    assert "dunning/testing/factories.py" in names
    # The console serves its pages and htmx (with its licence) from the wheel: no CDN, no build step
    for served in ("templates/queue.html", "static/htmx.min.js", "static/htmx.LICENSE", "static/console.css"):
        assert f"dunning/core/api/console/{served}" in names
    assert not any(n.startswith(("core/", "channels/", "plugins/", "tests/")) for n in names)
    assert "dunning/__init__.py" not in names  # a namespace package
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[dunning]" in text and "sms = dunning.channels.sms" in text
    assert "dunning = dunning.core.cli:main" in text


def test_a_regular_install_finds_templates_and_plugins(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import dunning.core, importlib.resources as r;"
        "from dunning.core.plugins import make_registry;"
        "from dunning.core.content.templating import TemplateLibrary;"
        "assert 'dunning/core' in dunning.core.__file__.replace(chr(92), '/');"
        "assert r.files('dunning.templates').joinpath('sms/overdue_notice.en.j2').is_file();"
        "assert TemplateLibrary().exists('voice', 'overdue_call', 'zh-CN');"
        "print(sorted(make_registry().channels))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); " + probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "'sms'" in result.stdout and "'voice'" in result.stdout


def test_public_api_is_listed_and_importable():
    import dunning.core as core

    for name in core.__all__:
        assert hasattr(core, name), name
    exported = {n for n in dir(core) if not n.startswith("_") and n[0].isupper()}
    assert exported <= set(core.__all__), exported - set(core.__all__)
