"""The plots of ``dunning report --plots DIR``: a recovery curve per currency, and roll-rate bars.

The curve shows, per group, the cumulative amount recovered per reminded case
by each day after the first reminder (per case, so that groups of different
sizes compare); the bars show each bucket's roll rate per group with its
Wilson interval. matplotlib is an optional extra (``pip install
'dunning[plots]'``), imported only when plots are asked for; the Agg backend
needs no display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dunning.core.errors import ConfigError
from dunning.core.reporting.model import GroupRow
from dunning.core.reporting.reports import Report
from dunning.core.reporting.rolls import RollRates, RollRow, bucket_labels

__all__ = ["ROLL_PLOT", "curve_plot_name", "write_report_plots"]

#: The file the roll-rate bars are written to.
ROLL_PLOT = "roll_rates.png"


def curve_plot_name(currency: str) -> str:
    """The file a currency's recovery curve is written to."""
    return f"recovery_curve_{currency}.png"


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("--plots needs matplotlib: pip install 'dunning[plots]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(key: Sequence[Any]) -> str:
    return " / ".join("—" if v is None else str(v) for v in key) or "total"


def write_report_plots(report: Report, out: Path) -> list[Path]:
    """Draw the plots the report has figures for into ``out``; return their paths."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    written = [
        _curve(plt, report, currency, out / curve_plot_name(currency)) for currency in report.currencies
    ]
    if report.rolls is not None and report.rolls.total:
        written.append(_rolls(plt, report.rolls, out / ROLL_PLOT))
    return written


def _curve(plt: Any, report: Report, currency: str, path: Path) -> Path:
    days = [0, *report.options.curve_days]
    groups: list[GroupRow] = report.rows or [report.total]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for row in groups:
        money = row.recovery.get(currency)
        if money is None or not money.cases:
            continue
        ys = [0.0] + [float(money.curve.get(day, 0)) / money.cases for day in days[1:]]
        ax.plot(days, ys, marker="o", label=_label(row.key))
    ax.set(
        xlabel="days since the case's first reminder",
        ylabel=f"recovered per case ({currency})",
        title=f"Recovery curve ({currency})",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(plt, fig, path)


def _rolls(plt: Any, rolls: RollRates, path: Path) -> Path:
    labels = bucket_labels(rolls.bounds)[:-1]  # the last bucket has nowhere to roll
    series: dict[str, list[RollRow]] = {}
    for row in rolls.rows if rolls.columns else rolls.total:
        series.setdefault(_label(row.key), []).append(row)
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for n, (name, rows) in enumerate(series.items()):
        by_bucket = {row.bucket: row for row in rows if not row.last}
        xs: list[float] = []
        heights: list[float] = []
        errors: tuple[list[float], list[float]] = ([], [])
        for bucket in range(len(labels)):
            found = by_bucket.get(bucket)
            if found is None or found.roll_rate is None or found.roll_interval is None:
                continue
            value, (low, high) = 100 * found.roll_rate, found.roll_interval
            xs.append(bucket + n * width - 0.4 + width / 2)
            heights.append(value)
            errors[0].append(value - 100 * low)
            errors[1].append(100 * high - value)
        ax.bar(xs, heights, width, yerr=errors, capsize=3, label=name)
    ax.set_xticks(range(len(labels)), [f"{label} d" for label in labels])
    ax.set(ylabel="% rolled to a later bucket", ylim=(0, 100), title="Roll rates (95% Wilson intervals)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
