"""Starting a worker or a scheduler: whatever stops it says why in one line.

A process manager restarting a worker that cannot start, and an operator
reading why, both need a non-zero exit and one line — the store or broker
that cannot be reached, the setting that is wrong — not a chained traceback
(which is logged at DEBUG).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from dunning.core.errors import DunningError, ProcessError
from dunning.core.runtime.outage import failure_kind, one_line

__all__ = ["starting"]

log = logging.getLogger(__name__)

#: What a failure of each kind means for a process that is starting.
REASONS = {"store": "the store cannot be used", "broker": "the broker cannot be reached"}


@contextlib.contextmanager
def starting(what: str) -> Iterator[None]:
    """Turn any error raised while ``what`` starts into a one-line :class:`ProcessError`."""
    try:
        yield
    except DunningError as exc:
        raise ProcessError(f"{what} could not start: {_flat(str(exc))}") from exc
    except Exception as exc:
        log.debug("%s could not start", what, exc_info=True)
        reason = REASONS.get(failure_kind(exc), "unexpected error")
        raise ProcessError(f"{what} could not start: {reason}: {one_line(exc)}") from exc


def _flat(message: str) -> str:
    """A message of several lines (a policy's problems) as one."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())
