"""The plots of ``dunning simulate``: PNGs of how each policy and strategy did.

The cure curve over the simulated days, reminders per debtor (a histogram)
and cost per cure compare the policies; the recovery curve per currency
(recovered per reminded case by day since the first reminder) and the roll
rates per overdue bucket (with Wilson intervals) compare every policy and
strategy. Drawn with matplotlib's Agg backend, which needs no display;
matplotlib is an optional extra (``pip install dunning[plots]``), imported
only when plots are drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dunning.core.errors import ConfigError
from dunning.core.reporting.plots import ROLL_PLOT, curve_plot_name
from dunning.core.reporting.rolls import bucket_labels
from dunning.core.simulation.arms import Arm
from dunning.core.simulation.run import PolicyResult

__all__ = ["PLOTS", "caption", "write_plots"]

#: The PNG files written whatever the run, with what each shows.
PLOTS: Mapping[str, str] = {
    "cure_curve.png": "Share of the portfolio paid in full, by day of the run",
    "contacts_per_debtor.png": "Reminders sent per debtor",
    "cost_per_cure.png": "Cost of reminders per cured case",
    ROLL_PLOT: "Roll rates over the run by overdue bucket, per policy and strategy (95% CI)",
}
#: What a recovery curve shows; one is drawn per currency.
CURVE = "Recovered per reminded case by day since the first reminder ({currency})"


def caption(name: str) -> str:
    """What the plot in file ``name`` shows."""
    if name.startswith("recovery_curve_") and name.endswith(".png"):
        return CURVE.format(currency=name.removeprefix("recovery_curve_").removesuffix(".png"))
    return PLOTS.get(name, name)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("plots need matplotlib: pip install 'dunning[plots]' (or --no-plots)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(results: Sequence[PolicyResult], arms: Sequence[Arm], out: Path, days: int) -> list[Path]:
    """Draw every plot into ``out``; return their paths (recovery curves and roll rates last)."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    written = [
        _cure_curve(plt, results, days, out / "cure_curve.png"),
        _contacts(plt, results, out / "contacts_per_debtor.png"),
        _cost_per_cure(plt, results, out / "cost_per_cure.png"),
    ]
    currencies = sorted({c for arm in arms for c in arm.currencies})
    written += [_recovery_curve(plt, arms, c, out / curve_plot_name(c)) for c in currencies]
    if any(arm.rolls for arm in arms):
        written.append(_roll_rates(plt, arms, out / ROLL_PLOT))
    return written


def _cure_curve(plt: Any, results: Sequence[PolicyResult], days: int, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for result in results:
        portfolio = result.report.portfolio or 1
        xs = list(range(days + 1))
        ys = [100 * sum(1 for d in result.paid_days if d <= x) / portfolio for x in xs]
        ax.step(xs, ys, where="post", label=result.name)
    ax.set(xlabel="day of the run", ylabel="% of cases paid in full", title=caption(path.name))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def _contacts(plt: Any, results: Sequence[PolicyResult], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    top = max((max(r.contacts, default=0) for r in results), default=0)
    bins = [b - 0.5 for b in range(top + 2)]
    ax.hist([r.contacts for r in results], bins=bins, label=[r.name for r in results])
    ax.set(xlabel="reminders sent to the debtor", ylabel="debtors", title=caption(path.name))
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return _save(plt, fig, path)


def _cost_per_cure(plt: Any, results: Sequence[PolicyResult], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    names = [r.name for r in results]
    costs = [float(r.report.total.cost_per_cure or 0) for r in results]
    bars = ax.bar(names, costs, color=["#4C72B0", "#DD8452", "#55A868", "#C44E52"][: len(names)])
    currency = results[0].report.options.currency if results else ""
    for bar, result in zip(bars, results, strict=True):
        value = result.report.total.cost_per_cure
        label = "no cure" if value is None else f"{value} {currency}"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set(ylabel=f"cost per cure ({currency})", title=caption(path.name))
    ax.grid(alpha=0.3, axis="y")
    return _save(plt, fig, path)


def _recovery_curve(plt: Any, arms: Sequence[Arm], currency: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for arm in arms:
        money = arm.row.recovery.get(currency) if arm.row is not None else None
        if money is None or not money.cases:
            continue
        days = [0, *arm.report.options.curve_days]
        ys = [0.0] + [float(money.curve.get(day, 0)) / money.cases for day in days[1:]]
        ax.plot(days, ys, marker="o", linestyle="--" if arm.strategy else "-", label=arm.label)
    ax.set(
        xlabel="days since the case's first reminder",
        ylabel=f"recovered per case ({currency})",
        title=caption(path.name),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(plt, fig, path)


def _roll_rates(plt: Any, arms: Sequence[Arm], path: Path) -> Path:
    shown = [arm for arm in arms if arm.rolls]
    rolls = shown[0].report.rolls
    assert rolls is not None
    labels = bucket_labels(rolls.bounds)[:-1]  # the last bucket has nowhere to roll
    width = 0.8 / max(1, len(shown))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for n, arm in enumerate(shown):
        xs, heights, below, above = [], [], [], []
        for row in arm.rolls:
            if row.last or row.roll_rate is None or row.roll_interval is None:
                continue
            value, (low, high) = 100 * row.roll_rate, row.roll_interval
            xs.append(row.bucket + n * width - 0.4 + width / 2)
            heights.append(value)
            below.append(value - 100 * low)
            above.append(100 * high - value)
        ax.bar(xs, heights, width, yerr=(below, above), capsize=3, label=arm.label)
    ax.set_xticks(range(len(labels)), [f"{label} d" for label in labels])
    ax.set(ylabel="% rolled to a later bucket", ylim=(0, 100), title=caption(path.name))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
