"""A whole ``dunning simulate`` run: one or two policies, the same portfolio, the same debtors.

The portfolio is cut into chunks of debtors; chunks of every policy are
simulated in worker processes (the engine is CPU-bound, so processes, not
threads) and written, in chunk order, into one SQLite store per policy as
they arrive; the report's SQL then reads each store, as of the end of the
run (roll rates over the whole run), and — for a policy that splits debtors
between strategies — once more by strategy, the holdout against the rest.
Results do not depend on the number of workers: each debtor draws from their
own seeded generators, and the chunks are the same however many workers share them.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dunning.core.content.sms import sms_shape
from dunning.core.content.templating import TemplateLibrary, render_context
from dunning.core.domain.model import Case
from dunning.core.plugins import hook_chooser, make_registry
from dunning.core.policy.compile import load_policy
from dunning.core.policy.model import Policy
from dunning.core.reporting.model import DEFAULT_CURVE_DAYS
from dunning.core.reporting.reports import Report, ReportOptions, build_report
from dunning.core.simulation.behaviour import ResponseModel, default_model, load_model
from dunning.core.simulation.portfolio import PortfolioSource
from dunning.core.simulation.provider import Retries
from dunning.core.simulation.rows import Rows
from dunning.core.simulation.simulate import SegmentCounter, simulate
from dunning.core.simulation.store import SimulationStore
from dunning.core.store.reports import case_strategies, contacts_per_debtor, paid_times, store_columns

__all__ = ["PolicyResult", "SimulationConfig", "load_inputs", "run_options", "run_simulation"]

#: Debtors per unit of work handed to a worker process.
CHUNK = 250


@dataclass(frozen=True)
class SimulationConfig:
    """Everything a worker process needs to rebuild the run's inputs (so it is picklable)."""

    policies: tuple[str, ...]
    source: PortfolioSource
    start: datetime
    days: int
    seed: int
    responses: str | None = None
    plugins: tuple[str, ...] | None = None
    #: the delivery worker's retry settings, for transient provider failures
    retries: Retries = field(default_factory=Retries)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass
class PolicyResult:
    """What one policy did over the portfolio, and the data behind the plots."""

    name: str
    path: str
    report: Report
    store: Path
    #: days from the start of the run to each payment in full, ascending
    paid_days: list[float] = field(default_factory=list)
    #: reminders sent to each debtor (zero included), ascending
    contacts: list[int] = field(default_factory=list)
    #: the same store by strategy, when the policy splits debtors between strategies
    strategies: Report | None = None
    #: the names of the policy's strategies, the champion first (none: it splits none)
    strategy_names: tuple[str, ...] = ()
    #: per strategy, the cases of the debtors assigned to it and how many of them were paid in full
    assigned: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class _Inputs:
    policies: list[Policy]
    model: ResponseModel
    chunks: list[list[Case]]
    segments: list[SegmentCounter]


@functools.lru_cache(maxsize=2)
def load_inputs(config: SimulationConfig) -> _Inputs:
    """Policies, response model and portfolio chunks, built once per process.

    Raises the usual typed errors (PolicyError, ResponseModelError, InputError) on bad input.
    """
    registry = make_registry(config.plugins)
    templates = registry.templates()
    chooser = hook_chooser(registry.pm)
    policies = [
        load_policy(
            p, channels=registry.channel_specs(), presets=registry.presets, templates=templates.exists
        ).with_chooser(chooser)
        for p in config.policies
    ]
    names = set(registry.channel_specs()) - {"outbox"}
    model = load_model(config.responses, channels=names) if config.responses else default_model()
    by_debtor: dict[str, list[Case]] = {}
    for case in config.source.load():
        by_debtor.setdefault(case.debtor_id, []).append(case)
    ordered = [by_debtor[d] for d in sorted(by_debtor)]
    chunks = [
        [case for group in ordered[i : i + CHUNK] for case in group] for i in range(0, len(ordered), CHUNK)
    ]
    return _Inputs(policies, model, chunks, [_segment_counter(templates, p) for p in policies])


def _segment_counter(templates: TemplateLibrary, policy: Policy) -> SegmentCounter:
    """SMS segments of a reminder, rendered once per case and template (the amount rarely changes)."""
    seen: dict[tuple[str, str, str], int] = {}

    def count(case: Case, channel: str, template: str, at: datetime) -> int | None:
        key = (case.case_id, channel, template)
        if key not in seen:
            context = render_context(
                case,
                amount=case.amount_due,
                now=at,
                deadline=policy.deadline,
                contact=policy.contact,
                default_timezone=policy.default_timezone,
            )
            seen[key] = sms_shape(templates.render(channel, template, case.locale, context).body).segments
        return seen[key]

    return count


def _simulate_chunk(config: SimulationConfig, policy: int, chunk: int) -> Rows:
    inputs = load_inputs(config)
    return simulate(
        inputs.policies[policy],
        inputs.model,
        inputs.chunks[chunk],
        start=config.start,
        days=config.days,
        seed=config.seed,
        segments=inputs.segments[policy],
        retries=config.retries,
    )


def run_options(options: ReportOptions, config: SimulationConfig) -> ReportOptions:
    """The report's options for a simulated store: read at the end of the run, roll rates over all of it.

    The recovery curve is read on the default days that fit in the run, and on its last day.
    """
    curve = tuple(sorted({day for day in DEFAULT_CURVE_DAYS if day <= config.days} | {config.days}))
    return replace(options, as_of=config.end, period_days=config.days, curve_days=curve)


def run_simulation(
    config: SimulationConfig,
    options: ReportOptions,
    workdir: Path,
    *,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[PolicyResult]:
    """Simulate every policy; ``progress(policy_index, cases_done)`` is called as chunks finish."""
    inputs = load_inputs(config)
    sizes = [len(chunk) for chunk in inputs.chunks]
    names = _names(config.policies, inputs.policies)
    writers = [SimulationStore(workdir / f"{name}.db") for name in names]
    tasks = [(p, c) for c in range(len(sizes)) for p in range(len(config.policies))]

    def done(p: int, c: int, rows: Rows) -> None:
        writers[p].add(c, rows)
        if progress is not None:
            progress(p, sizes[c])

    if jobs <= 1:
        for p, c in tasks:
            done(p, c, _simulate_chunk(config, p, c))
    else:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures: list[tuple[Future[Rows], int, int]] = [
                (pool.submit(_simulate_chunk, config, p, c), p, c) for p, c in tasks
            ]
            futures.reverse()
            while futures:  # in submission order, letting go of each chunk once it is written
                future, p, c = futures.pop()
                done(p, c, future.result())
                del future
    options = run_options(options, config)
    return [
        _result(name, path, policy, writer, options, config)
        for name, path, policy, writer in zip(names, config.policies, inputs.policies, writers, strict=True)
    ]


def _result(
    name: str,
    path: str,
    policy: Policy,
    writer: SimulationStore,
    options: ReportOptions,
    config: SimulationConfig,
) -> PolicyResult:
    """Read one policy's store: its report, by strategy too when it has strategies, and the plots' data."""
    strategies = tuple(s.name for s in policy.strategies)
    with writer.store.read() as conn:
        report = build_report(conn, options)
        by_strategy = build_report(conn, replace(options, by=("strategy",))) if strategies else None
        paid_rows = paid_times(conn)
        assigned = _assigned(case_strategies(conn, store_columns(conn)), {r.case_id for r in paid_rows})
        paid = [(row.paid_at - config.start).total_seconds() / 86400 for row in paid_rows]
        contacts = contacts_per_debtor(conn)
    writer.store.dispose()
    return PolicyResult(name, path, report, writer.path, paid, contacts, by_strategy, strategies, assigned)


def _assigned(rows: Sequence[Any], paid: set[str]) -> dict[str, tuple[int, int]]:
    """Per strategy: its debtors' cases, and those of them paid in full."""
    cases: Counter[str] = Counter()
    settled: Counter[str] = Counter()
    for row in rows:
        cases[row.strategy] += 1
        settled[row.strategy] += row.case_id in paid
    return {name: (cases[name], settled[name]) for name in sorted(cases)}


def _names(paths: Sequence[str], policies: Sequence[Policy]) -> list[str]:
    """Each policy's name, or its file's name when two policies share one."""
    names = [p.name for p in policies]
    if len(set(names)) < len(names):
        names = [Path(p).stem for p in paths]
    if len(set(names)) < len(names):
        names = [f"{n}-{i + 1}" for i, n in enumerate(names)]
    return [n.replace("/", "_") for n in names]
