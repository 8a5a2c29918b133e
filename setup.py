"""Builds dunning from setup.cfg, which holds all of its metadata.

``DUNNING_BUILD=runtime`` builds the runtime wheel the container image
installs: the same distribution without ``dunning.testing`` (fake provider
servers, the channel contract suite, the pytest plugin) and
``dunning.examples`` (sample policies and portfolios, which ``dunning demo``
reads). An ordinary build, and ``pip install dunning``, keep both, so plugin
authors get the pytest plugin and newcomers the demo.
"""

from __future__ import annotations

import configparser
import os

from setuptools import setup

#: The packages a runtime build leaves out.
LEFT_OUT = ("dunning.testing", "dunning.examples")
#: The entry-point groups a runtime build leaves out (they point into the packages left out).
LEFT_OUT_ENTRY_POINTS = ("pytest11",)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def _pairs(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in _lines(text))
    return {key.strip(): value.strip() for key, value in pairs}


def runtime_options(path: str = "setup.cfg") -> dict[str, object]:
    """What a runtime build changes in setup.cfg's options: packages, their folders and data, entry points."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(path, encoding="utf-8")
    options = config["options"]
    entry_points = {
        group: _lines(config["options.entry_points"][group])
        for group in config["options.entry_points"]
        if group not in LEFT_OUT_ENTRY_POINTS
    }
    package_data = {
        name: [p.strip() for p in value.split(",")]
        for name, value in config["options.package_data"].items()
        if name not in LEFT_OUT
    }
    return {
        "packages": [p for p in _lines(options["packages"]) if p not in LEFT_OUT],
        "package_dir": {k: v for k, v in _pairs(options["package_dir"]).items() if k not in LEFT_OUT},
        "package_data": package_data,
        "entry_points": entry_points,
    }


if __name__ == "__main__":
    setup(**(runtime_options() if os.environ.get("DUNNING_BUILD") == "runtime" else {}))
