"""What the debtors simulated together share: the policy, the response model, the clock and the rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from dunning.core.domain.model import Case
from dunning.core.policy.model import Policy
from dunning.core.simulation.behaviour import ResponseModel
from dunning.core.simulation.learning import SegmentHours
from dunning.core.simulation.provider import Retries
from dunning.core.simulation.rows import Rows

__all__ = ["SegmentCounter", "World"]

#: Counts the SMS segments of a reminder: (case, channel, template, moment) -> segments.
SegmentCounter = Callable[[Case, str, str, datetime], int | None]


def one_segment(case: Case, channel: str, template: str, at: datetime) -> int | None:
    """Every text is one SMS segment (when the templates are not rendered)."""
    return 1


@dataclass
class World:
    """One simulated run over a chunk of debtors, from ``start`` to ``end``."""

    policy: Policy
    model: ResponseModel
    start: datetime
    end: datetime
    seed: int
    segments: SegmentCounter = one_segment
    retries: Retries = field(default_factory=Retries)
    rows: Rows = field(default_factory=Rows)
    learning: SegmentHours = field(init=False)

    def __post_init__(self) -> None:
        self.learning = SegmentHours(self.policy)
