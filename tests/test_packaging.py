"""The wheel installs ``dunning`` as one import namespace, templates and entry points included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
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
    release = next(
        line.split("=", 1)[1].strip()
        for line in (ROOT / "setup.cfg").read_text(encoding="utf-8").splitlines()
        if line.startswith("version =")
    )
    probe = (
        "import dunning.core, importlib.resources as r;"
        f"assert dunning.core.__version__ == {release!r}, dunning.core.__version__;"
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


def build_stage_sources() -> list[str]:
    """What the Dockerfile's build stage copies from the repository (``COPY src... dest``)."""
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").split("FROM ")[1].splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources += line.split()[1:-1]
    return sources


@pytest.fixture(scope="module")
def runtime_wheel(tmp_path_factory) -> Path:
    """The wheel the image's build stage makes, from exactly what that stage copies."""
    context = tmp_path_factory.mktemp("build-stage")
    for source in build_stage_sources():
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / source, context / source)
    out = tmp_path_factory.mktemp("runtime-wheel")
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
            ".",
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=context,
        env={**os.environ, "DUNNING_BUILD": "runtime"},
    )
    return next(out.glob("dunning-*.whl"))


def test_given_a_runtime_build_then_the_wheel_has_neither_the_test_kit_nor_the_examples(runtime_wheel, wheel):
    # Given the wheel the container image installs (DUNNING_BUILD=runtime)
    archive = zipfile.ZipFile(runtime_wheel)
    names = archive.namelist()
    # Then it has no dunning.testing or dunning.examples, and no pytest plugin pointing into them
    assert not any(n.startswith(("dunning/testing/", "dunning/examples/")) for n in names)
    entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "pytest11" not in entry_points and "dunning.testing" not in entry_points
    # And everything else of the ordinary wheel is there
    ordinary = {
        n
        for n in zipfile.ZipFile(wheel).namelist()
        if not n.startswith(("dunning/testing/", "dunning/examples/")) and ".dist-info/" not in n
    }
    assert ordinary == {n for n in names if ".dist-info/" not in n}
    assert "sms = dunning.channels.sms" in entry_points


def test_given_a_runtime_install_then_dunning_runs_and_the_demo_says_what_it_lacks(runtime_wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(runtime_wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # -S: the dependencies of the environment, without its .pth files (the editable install of dunning).
    purelib = sysconfig.get_paths()["purelib"]
    run = (
        f"import sys; sys.path[:0] = [{str(target)!r}, {purelib!r}]; "
        "from dunning.core.cli import main; sys.argv[0] = 'dunning'; main()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUNNING_")}

    def dunning(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-I", "-S", "-c", run, *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )

    # When the runtime install is asked for its channels, and for the demo
    channels, demo = dunning("channels", "list"), dunning("demo")
    # Then the channels are there, and the demo refuses in one line naming what is missing
    assert channels.returncode == 0 and "sms" in channels.stdout, channels.stderr
    assert demo.returncode == 1
    assert demo.stderr.strip() == (
        "Error: the demo needs dunning's examples, which this installation leaves out: "
        "run it where dunning was installed with pip"
    )
