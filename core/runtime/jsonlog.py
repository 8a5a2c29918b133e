"""Log lines as JSON objects, one a line, for a log pipeline to index (``DUNNING_LOG_FORMAT=json``).

Each object has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``,
``message``, ``process`` (its name: a worker's children are told apart by it)
and ``pid``, then the context the line was logged in — ``request_id``,
``tick``, ``case_id``, ``intent_id``, ``channel`` — when it is set, and
``exception`` with the traceback when there is one. Messages are already
masked by :class:`~dunning.core.runtime.redaction.RedactingFilter`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from dunning.core.runtime import context

__all__ = ["JsonFormatter"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module docstring."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.processName,
            "pid": record.process,
        }
        line.update(context.current())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def _iso(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
