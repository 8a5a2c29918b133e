"""A report as rich tables, CSV or JSON, and several reports side by side.

Money leaves as Decimal text (``"0.1733"``), never a float; rates are
fractions rounded to six places in CSV and JSON, percentages in tables.
JSON holds everything; CSV is one table at a time — the groups (the default),
the roll rates or the holdout comparison.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text

from dunning.core.policy.durations import format_duration
from dunning.core.reporting.money_records import (
    comparison_record,
    flatten,
    holdout_record,
    promise_record,
    recovery_record,
    rolls_document,
)
from dunning.core.reporting.reports import MONEY_PLACES, GroupRow, Report

__all__ = [
    "CSV_TABLES",
    "comparison_table",
    "render_csv",
    "render_json",
    "report_records",
    "report_tables",
]

#: What a group column shows when the group has no value (no segment, not an A/B step).
NONE = "—"
#: The group label of the total row in CSV and JSON.
ALL = "(all)"
#: The tables ``--format csv`` can write, one at a time.
CSV_TABLES = ("groups", "rolls", "holdout")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _days(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 86400, 4)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(MONEY_PLACES))


def _comparison(row: GroupRow, dimension: str) -> dict[str, Any] | None:
    compared = row.comparisons.get(dimension)
    return None if compared is None else comparison_record(compared.cure, compared.recovery)


def _record(report: Report, row: GroupRow, key: Mapping[str, Any]) -> dict[str, Any]:
    interval = row.cure_interval
    return {
        **key,
        "intents": row.intents,
        "sent": row.sent,
        "delivered": row.delivered,
        "responded": row.responded,
        "response_rate": _round(row.response_rate),
        "cases": row.cases,
        "cured": row.cured,
        "cure_rate": _round(row.cure_rate),
        "cure_rate_ci95": None if interval is None else [_round(interval[0]), _round(interval[1])],
        "vs_baseline": _comparison(row, "variant"),
        "vs_champion": _comparison(row, "strategy"),
        "baseline_for": sorted(row.baseline_for),
        "median_days_to_pay": _days(row.median_time_to_pay),
        "contacts_per_cure": _round(row.contacts_per_cure),
        "cost": _money(row.cost),
        "cost_per_cure": _money(row.cost_per_cure),
        "currency": report.options.currency,
        "opted_out": row.opted_out,
        "opt_out_rate": _round(row.opt_out_rate),
        "complaints": row.disputed,
        "complaint_rate": _round(row.complaint_rate),
        "deferred": row.deferrals,
        "suppressed": row.suppressions,
        "deferred_by_rule": dict(sorted(row.deferred.items())),
        "suppressed_by_rule": dict(sorted(row.suppressed.items())),
        **promise_record(row),
        "recovery": recovery_record(row.recovery, report.options),
    }


def report_records(report: Report) -> list[dict[str, Any]]:
    """One flat record per group, then the total (its group columns say ``(all)``)."""
    records = [_record(report, row, dict(zip(report.columns, row.key, strict=True))) for row in report.rows]
    records.append(_record(report, report.total, dict.fromkeys(report.columns, ALL)))
    return records


def render_json(report: Report) -> str:
    o = report.options
    records = report_records(report)
    document = {
        "by": list(o.by),
        "cure_days": o.cure_days,
        "response_days": o.response_days,
        "currency": o.currency,
        "unit_costs": {k: str(v.amount) for k, v in sorted(o.prices.items())},
        "cost_units": {k: v.unit for k, v in sorted(o.prices.items())},
        "as_of": None if report.as_of is None else report.as_of.isoformat(),
        "curve_days": list(o.curve_days),
        "promise_grace": format_duration(o.promise_grace),
        "promise_days": o.promise_days,
        "seed": o.seed,
        "currencies": report.currencies,
        "portfolio": {"cases": report.portfolio, "paid": report.paid},
        "rows": records[:-1],
        "total": records[-1],
        "roll_rates": None if report.rolls is None else rolls_document(report.rolls, ALL),
        "holdout": _holdout_document(report),
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _holdout_document(report: Report) -> dict[str, Any] | None:
    h = report.holdout
    if h is None:
        return None
    return {
        "strategy": h.name,
        "holdout": holdout_record(h.holdout),
        "arms": [holdout_record(arm) for arm in h.arms],
    }


def _csv_records(report: Report, table: str) -> list[dict[str, Any]]:
    if table == "rolls":
        if report.rolls is None:
            return []
        document = rolls_document(report.rolls, ALL)
        return [*document["rows"], *document["total"]]
    if table == "holdout":
        h = report.holdout
        return [] if h is None else [holdout_record(arm) for arm in (*h.arms, h.holdout)]
    if table != "groups":
        raise ValueError(f"unknown table {table!r} (known: {', '.join(CSV_TABLES)})")
    return report_records(report)


def _csv_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One record as CSV cells; rule counts as ``rule=n; ...``, intervals as low and high columns."""
    flat: dict[str, Any] = {}
    for name, value in record.items():
        if name == "cure_rate_ci95":
            flat["cure_ci95_low"], flat["cure_ci95_high"] = value or ("", "")
        elif name == "vs_baseline":
            v = value or {}
            flat["vs_baseline"] = v.get("baseline", "")
            flat["difference"] = v.get("difference", "")
            flat["difference_ci95_low"], flat["difference_ci95_high"] = v.get("ci95", ("", ""))
            flat.update(flatten({"vs_baseline_recovery_per_case": v.get("recovery_per_case", {})}))
        elif name.endswith("_by_rule"):
            flat[name] = "; ".join(f"{rule}={n}" for rule, n in value.items())
        elif name == "baseline_for":
            flat[name] = "; ".join(value)
        else:
            flat.update(flatten({name: value}))
    return flat


def render_csv(report: Report, table: str = "groups") -> str:
    """One of :data:`CSV_TABLES` as CSV; a column some rows lack (another currency) is empty there."""
    rows = [_csv_row(record) for record in _csv_records(report, table)]
    columns: dict[str, None] = {}
    for row in rows[-1:] + rows:  # the total first: it has every currency
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def _fixed(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}"


def _cell(value: Any) -> str:
    return NONE if value is None else str(value)


def _money_cell(value: Decimal | None, currency: str) -> str:
    return NONE if value is None else f"{value.quantize(MONEY_PLACES)} {currency}"


def _days_cell(value: timedelta | None) -> str:
    return NONE if value is None else f"{value.total_seconds() / 86400:.2f} d"


def report_tables(report: Report, title: str = "dunning report") -> list[Table]:
    """Reach, outcomes and guardrails, one table each (a single table would not fit a terminal)."""
    o = report.options
    labelled = [(row, [_cell(v) for v in row.key]) for row in report.rows]
    labelled.append((report.total, ["total", *[""] * (len(report.columns) - 1)] if report.columns else []))

    variants = "variant" in report.columns
    reach = _table(
        f"{title}: reach (responses within {o.response_days} d)",
        report.columns,
        ("intents", "sent", "delivered", "responded", "opt-outs", "complaints"),
    )
    outcome = _table(
        f"{title}: outcomes (cure = paid in full within {o.cure_days} d of the first reminder)",
        report.columns,
        (
            "cases",
            "cured",
            "cure rate",
            *(("95% CI", "vs first variant by name (95% CI)") if variants else ()),
            "median to pay",
            "contacts/cure",
            "cost",
            "cost/cure",
        ),
    )
    rails = _table(f"{title}: deferrals and suppressions by rule", report.columns, ("deferred", "suppressed"))
    rails.add_column("rules")

    for row, key in labelled:
        _add(
            reach,
            *key,
            str(row.intents),
            str(row.sent),
            str(row.delivered),
            f"{row.responded} ({_pct(row.response_rate)})",
            f"{row.opted_out} ({_pct(row.opt_out_rate)})",
            f"{row.disputed} ({_pct(row.complaint_rate)})",
        )
        cells = [str(row.cases), str(row.cured), _pct(row.cure_rate)]
        if variants:
            ci = row.cure_interval
            cells.append(NONE if ci is None else f"[{_pct(ci[0])}, {_pct(ci[1])}]")
            cells.append(_versus(row))
        cells += [
            _days_cell(row.median_time_to_pay),
            _fixed(row.contacts_per_cure),
            _money_cell(row.cost, o.currency),
            _money_cell(row.cost_per_cure, o.currency),
        ]
        _add(outcome, *key, *cells)
        rules = [f"defer {rule}: {n}" for rule, n in sorted(row.deferred.items())]
        rules += [f"suppress {rule}: {n}" for rule, n in sorted(row.suppressed.items())]
        _add(rails, *key, str(row.deferrals), str(row.suppressions), "\n".join(rules) or NONE)
    return [reach, outcome, rails]


def _add(table: Table, *cells: str) -> None:
    """A row of plain text: rule names such as ``quiet_hours:china:`` are neither markup nor emoji."""
    table.add_row(*[Text(cell) for cell in cells])


def _table(title: str, keys: tuple[str, ...], figures: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for name in keys:
        table.add_column(name)
    for name in figures:
        table.add_column(name, justify="right")
    return table


def _versus(row: GroupRow) -> str:
    v = row.versus
    if v is None:
        return "baseline" if "variant" in row.baseline_for else NONE
    mark = " *" if v.significant else ""
    return f"{v.difference * 100:+.1f} pp [{v.low * 100:+.1f}, {v.high * 100:+.1f}]{mark}"


def comparison_table(reports: Mapping[str, Report], title: str = "side by side") -> Table:
    """The totals of several reports (one per policy), one column each."""
    table = Table(title=title)
    table.add_column("figure")
    for name in reports:
        table.add_column(name, justify="right")
    lines: list[tuple[str, Any]] = [
        ("cases in portfolio", lambda r: str(r.portfolio)),
        (
            "paid in full (any time)",
            lambda r: f"{r.paid} ({_pct(r.paid / r.portfolio if r.portfolio else None)})",
        ),
        ("cases reminded", lambda r: str(r.total.cases)),
        ("cured", lambda r: str(r.total.cured)),
        ("cure rate", lambda r: _pct(r.total.cure_rate)),
        ("median time to pay", lambda r: _days_cell(r.total.median_time_to_pay)),
        ("reminders sent", lambda r: str(r.total.sent)),
        ("responded", lambda r: _pct(r.total.response_rate)),
        ("contacts per cure", lambda r: _fixed(r.total.contacts_per_cure)),
        ("cost", lambda r: _money_cell(r.total.cost, r.options.currency)),
        ("cost per cure", lambda r: _money_cell(r.total.cost_per_cure, r.options.currency)),
        ("opt-out rate", lambda r: _pct(r.total.opt_out_rate)),
        ("complaint rate", lambda r: _pct(r.total.complaint_rate)),
        ("deferrals", lambda r: str(r.total.deferrals)),
        ("suppressions", lambda r: str(r.total.suppressions)),
    ]
    for label, fn in lines:
        _add(table, label, *[fn(r) for r in reports.values()])
    return table
