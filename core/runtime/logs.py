"""How every dunning process logs: the command line and the worker processes it spawns."""

from __future__ import annotations

import logging

__all__ = ["LOG_FORMAT", "configure_logging", "verbosity"]

#: One format for every process; the process name tells a worker's children apart.
LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"


def verbosity(verbose: int) -> int:
    """The log level for ``-v`` counted ``verbose`` times: warnings, then info, then debug."""
    return logging.WARNING - 10 * min(verbose, 2)


def configure_logging(level: int) -> None:
    """Log to stderr at ``level``; a spawned process calls it again, since it starts afresh."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
