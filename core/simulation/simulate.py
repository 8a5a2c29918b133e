"""Simulating a policy over a portfolio: the real engine, in memory, on a simulated clock.

Each debtor is simulated as one person (caps, opt-outs and strategies are
per person) by :class:`~dunning.core.simulation.debtor.Debtor`; the debtors
of a chunk share one clock, step by step in time order, so that what the
scheduler learns across the portfolio — the hours each segment answers at —
is learned across them as it happens. The rows written are the rows the
scheduler, the delivery worker and the store write, so the report's SQL
reads a simulated store like a real one.

A run is reproducible: each debtor draws from generators seeded by the run's
seed and the debtor's id, ties on the clock go to the debtor first by id,
and the chunks are the same whatever the number of worker processes.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from dunning.core.domain.model import Case
from dunning.core.policy.model import Policy
from dunning.core.simulation.behaviour import ResponseModel
from dunning.core.simulation.debtor import Debtor
from dunning.core.simulation.provider import Retries
from dunning.core.simulation.rows import Rows
from dunning.core.simulation.world import SegmentCounter, World, one_segment

__all__ = ["Rows", "SegmentCounter", "simulate"]


def simulate(
    policy: Policy,
    model: ResponseModel,
    cases: Iterable[Case],
    *,
    start: datetime,
    days: int,
    seed: int,
    segments: SegmentCounter | None = None,
    retries: Retries | None = None,
    progress: Callable[[int], None] | None = None,
) -> Rows:
    """Simulate ``days`` of ``policy`` over ``cases``; return the rows a real run would have written."""
    by_debtor: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_debtor[case.debtor_id].append(case)
    world = World(
        policy,
        model,
        start,
        start + timedelta(days=days),
        seed,
        segments or one_segment,
        retries or Retries(),
    )
    debtors = [Debtor(world, by_debtor[debtor_id]) for debtor_id in sorted(by_debtor)]
    clock = [(at, n) for n, debtor in enumerate(debtors) if (at := debtor.next_at) is not None]
    heapq.heapify(clock)
    while clock:
        _, n = heapq.heappop(clock)
        debtor = debtors[n]
        debtor.step()
        at = debtor.next_at
        if at is not None:
            heapq.heappush(clock, (at, n))
    for debtor in debtors:
        debtor.finish()
        if progress is not None:
            progress(len(debtor.states))
    return world.rows
