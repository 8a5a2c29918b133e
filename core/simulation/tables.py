"""The figures of ``dunning simulate`` side by side: one column per policy and per strategy.

What a strategist compares before a rollout: reach and cures, money
recovered per currency with its curve by day (per case, so that arms of
different sizes compare), each strategy against the champion with its 95%
interval, roll rates with their Wilson intervals, and — for a policy with a
holdout — what the reminders recovered over what its debtors paid on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from rich.table import Table
from rich.text import Text

from dunning.core.reporting.holdout import Holdout, HoldoutArm
from dunning.core.reporting.model import GroupRow, Recovery
from dunning.core.reporting.rolls import RollRow, bucket_labels
from dunning.core.reporting.stats import Difference, MeanDifference
from dunning.core.simulation.arms import Arm
from dunning.core.simulation.run import PolicyResult

__all__ = ["Grid", "as_rich", "holdout_grids", "rolls_side_by_side", "side_by_side"]

#: What a cell shows when there is no figure.
NONE = "—"
#: Amounts in tables: to the cent.
CENTS = Decimal("0.01")

#: A line of the side-by-side table: its label, and its cell for an arm.
Line = tuple[str, Callable[[Arm], str]]


@dataclass(frozen=True)
class Grid:
    """A table of figures, labelled lines by named columns, for the terminal and the HTML page alike."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)


def as_rich(grid: Grid) -> Table:
    """The grid as a rich table: labels on the left, figures right-aligned."""
    table = Table(title=grid.title)
    table.add_column("figure")
    for name in grid.columns:
        table.add_column(name, justify="right")
    for label, cells in grid.rows:
        table.add_row(Text(label), *[Text(cell) for cell in cells])
    return table


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def _amount(value: Decimal | None) -> str:
    return NONE if value is None else str(value.quantize(CENTS, ROUND_HALF_UP))


def _signed(value: Decimal) -> str:
    rounded = value.quantize(CENTS, ROUND_HALF_UP)
    return f"+{rounded}" if rounded >= 0 else str(rounded)


def _rate_diff(d: Difference) -> str:
    mark = " *" if d.significant else ""
    return f"{d.difference * 100:+.1f} pp [{d.low * 100:+.1f}, {d.high * 100:+.1f}]{mark}"


def _mean_diff(d: MeanDifference | None) -> str:
    if d is None:
        return NONE
    mark = " *" if d.significant else ""
    return f"{_signed(d.difference)} [{_signed(d.low)}, {_signed(d.high)}]{mark}"


def _of_row(figure: Callable[[GroupRow], str]) -> Callable[[Arm], str]:
    return lambda arm: NONE if arm.row is None else figure(arm.row)


def _of_money(currency: str, figure: Callable[[Recovery], str]) -> Callable[[Arm], str]:
    def cell(arm: Arm) -> str:
        money = arm.row.recovery.get(currency) if arm.row is not None else None
        return NONE if money is None else figure(money)

    return cell


def _portfolio(result: dict[str, PolicyResult]) -> list[Line]:
    def cases(arm: Arm) -> str:
        if arm.strategy is None:
            return str(arm.report.portfolio)
        return str(result[arm.policy].assigned.get(arm.strategy, (0, 0))[0])

    def paid(arm: Arm) -> str:
        if arm.strategy is None:
            n, whole = arm.report.paid, arm.report.portfolio
        else:
            whole, n = result[arm.policy].assigned.get(arm.strategy, (0, 0))
        return f"{n} ({_pct(n / whole if whole else None)})"

    return [("cases", cases), ("paid in full by the end", paid)]


def _reach() -> list[Line]:
    return [
        ("cases reminded", _of_row(lambda r: str(r.cases))),
        ("cured", _of_row(lambda r: str(r.cured))),
        ("cure rate", _of_row(lambda r: _pct(r.cure_rate))),
        ("cure rate vs champion (95% CI)", _of_row(_cure_versus)),
        ("median time to pay", _of_row(_median)),
        ("reminders sent", _of_row(lambda r: str(r.sent))),
        ("failed at the provider", _of_row(lambda r: str(r.intents - r.sent))),
        ("responded", _of_row(lambda r: _pct(r.response_rate))),
        (
            "contacts per cure",
            _of_row(lambda r: NONE if r.contacts_per_cure is None else f"{r.contacts_per_cure:.2f}"),
        ),
        ("opt-out rate", _of_row(lambda r: _pct(r.opt_out_rate))),
        ("complaint rate", _of_row(lambda r: _pct(r.complaint_rate))),
        ("deferrals", _of_row(lambda r: str(r.deferrals))),
        ("suppressions", _of_row(lambda r: str(r.suppressions))),
    ]


def _cure_versus(row: GroupRow) -> str:
    compared = row.comparisons.get("strategy")
    if compared is None:
        return "champion" if "strategy" in row.baseline_for else NONE
    return _rate_diff(compared.cure)


def _median(row: GroupRow) -> str:
    value = row.median_time_to_pay
    return NONE if value is None else f"{value.total_seconds() / 86400:.2f} d"


def _costs(arms: Sequence[Arm]) -> list[Line]:
    currency = arms[0].report.options.currency if arms else ""
    return [
        ("cost", _of_row(lambda r: f"{r.cost.quantize(Decimal('0.0001'))} {currency}")),
        (
            "cost per cure",
            _of_row(lambda r: NONE if r.cost_per_cure is None else f"{r.cost_per_cure} {currency}"),
        ),
    ]


def _money(currency: str, days: Sequence[int]) -> list[Line]:
    def versus(arm: Arm) -> str:
        compared = arm.row.comparisons.get("strategy") if arm.row is not None else None
        if compared is None:
            return "champion" if arm.row is not None and "strategy" in arm.row.baseline_for else NONE
        return _mean_diff(compared.recovery.get(currency))

    def by_day(day: int) -> Callable[[Recovery], str]:
        return lambda r: _amount(r.curve.get(day, Decimal(0)) / r.cases if r.cases else None)

    return [
        (f"recovered {currency}", _of_money(currency, lambda r: _amount(r.recovered))),
        (f"recovered per case {currency}", _of_money(currency, lambda r: _amount(r.per_case))),
        (f"per case vs champion {currency} (95% CI)", versus),
        *[(f"{currency} per case by day {day}", _of_money(currency, by_day(day))) for day in days],
        (f"{currency} per 1 unit of cost", _of_money(currency, lambda r: _amount(r.per_cost))),
    ]


def side_by_side(results: Sequence[PolicyResult], arms: Sequence[Arm]) -> Grid:
    """Every policy and strategy in one grid: reach, cures, cost, and money per currency by day."""
    days = arms[0].report.options.curve_days if arms else ()
    currencies = sorted({c for arm in arms for c in arm.currencies})
    lines = [*_portfolio({r.name: r for r in results}), *_reach(), *_costs(arms)]
    lines += [line for currency in currencies for line in _money(currency, days)]
    rows = [(label, [cell(arm) for arm in arms]) for label, cell in lines]
    return Grid("simulated, side by side", tuple(arm.label for arm in arms), rows)


def rolls_side_by_side(arms: Sequence[Arm]) -> Grid | None:
    """Per overdue bucket at the start of the run: how many rolled on, and how many paid in full."""
    shown = [arm for arm in arms if arm.rolls]
    rolls = shown[0].report.rolls if shown else None
    if rolls is None:
        return None
    title = f"roll rates over the run, to {rolls.end:%Y-%m-%d} (days overdue at its start; 95% CI)"
    grid = Grid(title, tuple(arm.label for arm in shown))
    for bucket, label in enumerate(bucket_labels(rolls.bounds)):
        rows = [next((r for r in arm.rolls if r.bucket == bucket), None) for arm in shown]
        if any(rows):
            grid.rows.append((f"{label} d: rolled on", [_rolled(row) for row in rows]))
            grid.rows.append((f"{label} d: paid in full", [_paid(row) for row in rows]))
    return grid


def _rolled(row: RollRow | None) -> str:
    if row is None or row.last:
        return NONE
    low, high = row.roll_interval or (0.0, 1.0)
    return f"{row.rolled}/{row.cases} {_pct(row.roll_rate)} [{low * 100:.1f}, {high * 100:.1f}]"


def _paid(row: RollRow | None) -> str:
    return NONE if row is None else f"{row.paid}/{row.cases} {_pct(row.paid_rate)}"


def holdout_grids(results: Sequence[PolicyResult]) -> list[Grid]:
    """For each policy with a holdout: contacted cases (together, then per strategy) against it."""
    return [_holdout(r.name, r.report.holdout) for r in results if r.report.holdout is not None]


def _holdout(policy: str, holdout: Holdout) -> Grid:
    arms = [*holdout.arms, holdout.holdout]
    title = f"{policy}: what the reminders recovered, against the {holdout.name!r} holdout (95% CI)"
    grid = Grid(title, tuple(arm.name for arm in arms))
    grid.rows.append(("cases", [str(arm.cases) for arm in arms]))
    grid.rows.append(("paid in full", [_paid_share(arm) for arm in arms]))
    grid.rows.append(("paid in full vs holdout", [_versus_holdout(arm) for arm in arms]))
    for currency in sorted({c for arm in arms for c in arm.recovery}):
        grid.rows.append((f"paid per case {currency}", [_per_case(arm, currency) for arm in arms]))
        grid.rows.append(
            (
                f"per case vs holdout {currency}",
                [NONE if a.versus is None else _mean_diff(a.versus.recovery.get(currency)) for a in arms],
            )
        )
    return grid


def _paid_share(arm: HoldoutArm) -> str:
    low, high = arm.paid_interval or (0.0, 1.0)
    return f"{arm.paid} ({_pct(arm.paid_rate)} [{_pct(low)}, {_pct(high)}])"


def _versus_holdout(arm: HoldoutArm) -> str:
    return "holdout" if arm.versus is None else _rate_diff(arm.versus.cure)


def _per_case(arm: HoldoutArm, currency: str) -> str:
    money = arm.recovery.get(currency)
    return NONE if money is None else _amount(money.per_case)
