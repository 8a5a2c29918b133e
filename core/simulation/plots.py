"""The plots of ``dunning simulate`` and the HTML page that shows them with the figures.

Three PNGs — the cure curve over the simulated days, reminders per debtor
(a histogram) and cost per cure — drawn with matplotlib's Agg backend, which
needs no display. matplotlib is an optional extra (``pip install
dunning[plots]``): it is imported only when plots are drawn.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dunning.core.errors import ConfigError
from dunning.core.reporting.format import report_records
from dunning.core.simulation.run import PolicyResult

__all__ = ["PLOTS", "write_html", "write_plots"]

#: The PNG files written, with what each shows.
PLOTS: Mapping[str, str] = {
    "cure_curve.png": "Share of the portfolio paid in full, by day of the run",
    "contacts_per_debtor.png": "Reminders sent per debtor",
    "cost_per_cure.png": "Cost of reminders per cured case",
}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("plots need matplotlib: pip install 'dunning[plots]' (or --no-plots)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(results: Sequence[PolicyResult], out: Path, days: int) -> list[Path]:
    """Draw the three plots into ``out``; return their paths."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for result in results:
        portfolio = result.report.portfolio or 1
        xs = list(range(days + 1))
        ys = [100 * sum(1 for d in result.paid_days if d <= x) / portfolio for x in xs]
        ax.step(xs, ys, where="post", label=result.name)
    ax.set(xlabel="day of the run", ylabel="% of cases paid in full", title=PLOTS["cure_curve.png"])
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(plt, fig, out / "cure_curve.png"))

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    top = max((max(r.contacts, default=0) for r in results), default=0)
    bins = [b - 0.5 for b in range(top + 2)]
    ax.hist([r.contacts for r in results], bins=bins, label=[r.name for r in results])
    ax.set(xlabel="reminders sent to the debtor", ylabel="debtors", title=PLOTS["contacts_per_debtor.png"])
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    written.append(_save(plt, fig, out / "contacts_per_debtor.png"))

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    names = [r.name for r in results]
    costs = [float(r.report.total.cost_per_cure or 0) for r in results]
    bars = ax.bar(names, costs, color=["#4C72B0", "#DD8452", "#55A868", "#C44E52"][: len(names)])
    currency = results[0].report.options.currency if results else ""
    for bar, result in zip(bars, results, strict=True):
        value = result.report.total.cost_per_cure
        label = "no cure" if value is None else f"{value} {currency}"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set(ylabel=f"cost per cure ({currency})", title=PLOTS["cost_per_cure.png"])
    ax.grid(alpha=0.3, axis="y")
    written.append(_save(plt, fig, out / "cost_per_cure.png"))
    return written


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def write_html(
    results: Sequence[PolicyResult], out: Path, facts: Mapping[str, str], images: Sequence[Path]
) -> Path:
    """An HTML page with the run's parameters, the figures side by side, and the plots."""
    out.mkdir(parents=True, exist_ok=True)
    e = html.escape
    totals = [report_records(r.report)[-1] for r in results]
    shown = (
        ("cases reminded", "cases"),
        ("cured", "cured"),
        ("cure rate", "cure_rate"),
        ("median days to pay", "median_days_to_pay"),
        ("reminders sent", "sent"),
        ("response rate", "response_rate"),
        ("contacts per cure", "contacts_per_cure"),
        ("cost", "cost"),
        ("cost per cure", "cost_per_cure"),
        ("opt-out rate", "opt_out_rate"),
        ("complaint rate", "complaint_rate"),
        ("deferrals", "deferred"),
        ("suppressions", "suppressed"),
    )
    head = "".join(f"<th>{e(r.name)}</th>" for r in results)
    rows = [
        f"<tr><th>cases in portfolio</th>{''.join(f'<td>{r.report.portfolio}</td>' for r in results)}</tr>"
    ]
    for label, key in shown:
        cells = "".join(f"<td>{e(_show(t[key], key, t['currency']))}</td>" for t in totals)
        rows.append(f"<tr><th>{e(label)}</th>{cells}</tr>")
    params = "".join(f"<li>{e(k)}: {e(v)}</li>" for k, v in facts.items())
    figures = "".join(
        f'<figure><img src="{e(p.name)}" alt="{e(PLOTS.get(p.name, p.name))}">'
        f"<figcaption>{e(PLOTS.get(p.name, p.name))}</figcaption></figure>"
        for p in images
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dunning simulate</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}th{{text-align:left}}
figure{{display:inline-block;margin:1em}}img{{max-width:640px}}</style></head>
<body><h1>dunning simulate: {e(" vs ".join(r.name for r in results))}</h1>
<ul>{params}</ul>
<table><tr><th>figure</th>{head}</tr>{"".join(rows)}</table>
{figures}
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _show(value: Any, key: str, currency: str) -> str:
    if value is None:
        return "—"
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if key.startswith("cost"):
        return f"{value} {currency}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
