"""Benchmark results as data: each script records its figures; ``run_all.py`` collects them.

A script calls :func:`record` with its name and figures; when the
``DUNNING_BENCH_RESULTS`` environment variable names a file (``run_all.py``
sets it), each record is appended to it as one JSON line. Run alone, a script
only prints, as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["record"]

#: The environment variable naming the results file.
RESULTS_ENV = "DUNNING_BENCH_RESULTS"


def record(name: str, **figures: Any) -> None:
    """Append ``figures`` under ``name`` to the results file, if one is named."""
    target = os.environ.get(RESULTS_ENV)
    if not target:
        return
    line = json.dumps({"name": name, **figures}, default=str, sort_keys=True)
    with Path(target).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
