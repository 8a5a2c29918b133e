"""The money side of a report as rich tables: recovery per currency, promises, roll rates, the holdout.

One recovery table per currency (amounts in different currencies never share
a column); intervals in brackets, a ``*`` where one excludes zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from rich.table import Table
from rich.text import Text

from dunning.core.policy.durations import format_duration
from dunning.core.reporting.holdout import HoldoutArm
from dunning.core.reporting.model import GroupRow, money
from dunning.core.reporting.reports import Report
from dunning.core.reporting.rolls import RollRates, bucket_labels
from dunning.core.reporting.stats import Difference, MeanDifference

__all__ = ["holdout_table", "money_tables", "promise_table", "recovery_tables", "roll_table"]

#: What a cell shows when there is no figure.
NONE = "—"
#: Amounts in tables: to the cent.
CENTS = Decimal("0.01")


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def _ci(value: tuple[float, float] | None) -> str:
    return NONE if value is None else f"[{_pct(value[0])}, {_pct(value[1])}]"


def _amount(value: Decimal | None) -> str:
    """Amounts recovered, to the cent (CSV and JSON keep every figure to the ten-thousandth)."""
    return NONE if value is None else str(value.quantize(CENTS, ROUND_HALF_UP))


def _cost(value: Decimal) -> str:
    """Costs to the ten-thousandth: an SMS costs a fraction of a cent."""
    return str(money(value))


def _rate_diff(d: Difference) -> str:
    mark = " *" if d.significant else ""
    return f"{d.difference * 100:+.1f} pp [{d.low * 100:+.1f}, {d.high * 100:+.1f}]{mark}"


def _mean_diff(d: MeanDifference | None) -> str:
    if d is None:
        return NONE
    mark = " *" if d.significant else ""
    low, high = (_signed(v) for v in (d.low, d.high))
    return f"{_signed(d.difference)} [{low}, {high}]{mark}"


def _signed(value: Decimal) -> str:
    rounded = value.quantize(CENTS, ROUND_HALF_UP)
    return f"+{rounded}" if rounded >= 0 else str(rounded)


def _table(title: str, keys: Sequence[str], figures: Sequence[str]) -> Table:
    table = Table(title=title)
    for name in keys:
        table.add_column(name)
    for name in figures:
        table.add_column(name, justify="right")
    return table


def _add(table: Table, *cells: str) -> None:
    table.add_row(*[Text(cell) for cell in cells])


def _labelled(report: Report) -> list[tuple[GroupRow, list[str]]]:
    labelled = [(row, [NONE if v is None else str(v) for v in row.key]) for row in report.rows]
    total = ["total", *[""] * (len(report.columns) - 1)] if report.columns else []
    return [*labelled, (report.total, total)]


def _versus_label(row: GroupRow, dimension: str, currency: str) -> str:
    compared = row.comparisons.get(dimension)
    if compared is None:
        return (
            ("baseline" if dimension == "variant" else "champion") if dimension in row.baseline_for else NONE
        )
    return _mean_diff(compared.recovery.get(currency))


def recovery_tables(report: Report, title: str) -> list[Table]:
    """Per currency: what was recovered, per case, message and unit of cost; then the curve by day."""
    o = report.options
    compared = [d for d in ("variant", "strategy") if d in report.columns]
    tables = []
    for currency in report.currencies:
        money_table = _table(
            f"{title}: recovered in {currency} from the first reminder (cost in {o.currency})",
            report.columns,
            (
                "cases",
                "recovered",
                "per case",
                *(f"per case vs {'first variant' if d == 'variant' else 'champion'}" for d in compared),
                "messages",
                "per message",
                "cost",
                f"per 1 {o.currency}",
            ),
        )
        last = o.curve_days[-1]
        curve_table = _table(
            f"{title}: recovered in {currency} by day since the first reminder (cumulative)",
            report.columns,
            ("cases", *(f"day {day}" for day in o.curve_days), f"followed {last} d"),
        )
        for row, key in _labelled(report):
            r = row.recovery.get(currency)
            if r is None:
                continue
            versus = [_versus_label(row, d, currency) for d in compared]
            _add(
                money_table,
                *key,
                str(r.cases),
                _amount(r.recovered),
                _amount(r.per_case),
                *versus,
                str(r.messages),
                _amount(r.per_contact),
                _cost(r.cost),
                _amount(r.per_cost),
            )
            curve = [_amount(r.curve.get(day, Decimal(0))) for day in o.curve_days]
            _add(curve_table, *key, str(r.cases), *curve, str(r.observed.get(last, 0)))
        tables += [money_table, curve_table]
    return tables


def promise_table(report: Report, title: str) -> Table:
    """Promises kept (Wilson interval), and the strategies' cure rates against the champion."""
    o = report.options
    strategies = "strategy" in report.columns
    against = ", and cure rates against the champion" if strategies else ""
    grace = format_duration(o.promise_grace)
    table = _table(
        f"{title}: promises kept (paid in full by the promised day + {grace}){against}",
        report.columns,
        (
            "promises",
            "kept",
            "kept rate",
            "95% CI",
            "pending",
            *(("cure vs champion",) if strategies else ()),
        ),
    )
    for row, key in _labelled(report):
        cells = [str(row.promises), str(row.promises_kept), _pct(row.promise_kept_rate)]
        cells += [_ci(row.promise_interval), str(row.promises_pending)]
        if strategies:
            compared = row.comparisons.get("strategy")
            champion = "champion" if "strategy" in row.baseline_for else NONE
            cells.append(champion if compared is None else _rate_diff(compared.cure))
        _add(table, *key, *cells)
    return table


def roll_table(rolls: RollRates, title: str) -> Table:
    """Per group and starting bucket: cases, paid, stayed, rolled, the roll rate and its interval."""
    period = (rolls.end - rolls.start).days
    table = _table(
        f"{title}: roll rates over {period} d to {rolls.end:%Y-%m-%d} "
        f"(days overdue {', '.join(bucket_labels(rolls.bounds))})",
        rolls.columns,
        ("bucket", "cases", "paid", "stayed", "rolled", "roll rate", "95% CI"),
    )
    shown = [*rolls.rows] if rolls.columns else []
    totals = [
        (row, ["total", *[""] * (len(rolls.columns) - 1)] if rolls.columns else []) for row in rolls.total
    ]
    for row, key in [(r, [NONE if v is None else str(v) for v in r.key]) for r in shown] + totals:
        _add(
            table,
            *key,
            row.label,
            str(row.cases),
            str(row.paid),
            str(row.stayed),
            str(row.rolled),
            _pct(row.roll_rate),
            _ci(row.roll_interval),
        )
    return table


def holdout_table(report: Report, title: str) -> Table | None:
    """Contacted against holdout cases: paid in full, and recovered per case in each currency."""
    h = report.holdout
    if h is None:
        return None
    currencies = sorted({c for arm in (*h.arms, h.holdout) for c in arm.recovery})
    figures = ["cases", "paid in full", "vs holdout"]
    for currency in currencies:
        figures += [f"per case {currency}", f"vs holdout {currency}"]
    table = _table(
        f"{title}: what the reminders recovered (against the {h.name!r} holdout)", ["arm"], figures
    )
    for arm in (*h.arms, h.holdout):
        _add(table, arm.name, *_holdout_cells(arm, currencies))
    return table


def _holdout_cells(arm: HoldoutArm, currencies: Sequence[str]) -> list[str]:
    versus = arm.versus
    cells = [str(arm.cases), f"{arm.paid} ({_pct(arm.paid_rate)})"]
    cells.append("holdout" if versus is None else _rate_diff(versus.cure))
    for currency in currencies:
        money_in = arm.recovery.get(currency)
        cells.append(NONE if money_in is None else _amount(money_in.per_case))
        cells.append(NONE if versus is None else _mean_diff(versus.recovery.get(currency)))
    return cells


def money_tables(report: Report, title: str = "dunning report") -> list[Table]:
    """Every money table the report has figures for."""
    tables = [*recovery_tables(report, title), promise_table(report, title)]
    if report.rolls is not None:
        tables.append(roll_table(report.rolls, title))
    holdout = holdout_table(report, title)
    if holdout is not None:
        tables.append(holdout)
    return tables
