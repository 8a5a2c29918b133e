"""How every dunning process logs: the command line and the worker processes it spawns.

Lines go to stderr as text, or as one JSON object a line when
``DUNNING_LOG_FORMAT=json`` (read from the environment, since logging starts
before settings are read, and inherited by every worker process). Either way
a filter masks phone numbers, account numbers and tokens on the way out.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from dunning.core.errors import ConfigError
from dunning.core.runtime.jsonlog import JsonFormatter
from dunning.core.runtime.redaction import RedactingFilter

__all__ = ["LOG_FORMAT", "LOG_FORMATS", "configure_logging", "log_format", "log_handler", "verbosity"]

#: One text format for every process; the process name tells a worker's children apart.
LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
#: The values DUNNING_LOG_FORMAT may take.
LOG_FORMATS = ("text", "json")
#: Marks the handler this module installed, so a second call replaces it rather than adds one.
_OURS = "dunning"


def verbosity(verbose: int) -> int:
    """The log level for ``-v`` counted ``verbose`` times: warnings, then info, then debug."""
    return logging.WARNING - 10 * min(verbose, 2)


def log_format() -> str:
    """``text`` or ``json``, from ``DUNNING_LOG_FORMAT``; ConfigError naming it for anything else."""
    chosen = os.environ.get("DUNNING_LOG_FORMAT", "").strip().lower() or "text"
    if chosen not in LOG_FORMATS:
        raise ConfigError(f"DUNNING_LOG_FORMAT: {chosen!r} is not one of {', '.join(LOG_FORMATS)}")
    return chosen


def configure_logging(level: int) -> None:
    """Log to stderr at ``level``; a spawned process calls it again, since it starts afresh.

    Like ``logging.basicConfig``, it leaves a root logger that already has
    handlers of others (pytest's, an embedding application's) alone.
    """
    root = logging.getLogger()
    if any(h.get_name() != _OURS for h in root.handlers):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = log_handler(sys.stderr, log_format())
    handler.set_name(_OURS)
    root.addHandler(handler)
    root.setLevel(level)


def log_handler(stream: TextIO, fmt: str) -> logging.Handler:
    """A handler writing to ``stream`` in ``fmt`` (``text`` or ``json``), personal data masked."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(LOG_FORMAT))
    return handler
