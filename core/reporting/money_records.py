"""The money, promise, comparison, roll-rate and holdout figures as plain records for JSON and CSV.

Money leaves as Decimal text to the ten-thousandth (``"1500.0000"``), in the
currency it was owed in, which every record names; rates are fractions
rounded to six places. CSV needs flat rows: :func:`flatten` spreads a nested
record into columns (``recovery_CNY_curve_7``, ``promise_kept_ci95_low``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from dunning.core.reporting.holdout import HoldoutArm
from dunning.core.reporting.model import GroupRow, Recovery, ReportOptions, money
from dunning.core.reporting.rolls import RollRates, RollRow, bucket_labels
from dunning.core.reporting.stats import Difference, MeanDifference

__all__ = [
    "comparison_record",
    "flatten",
    "holdout_record",
    "money_text",
    "promise_record",
    "recovery_record",
    "roll_record",
    "rolls_document",
]


def money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(money(value))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _interval(value: tuple[float, float] | None) -> list[float | None] | None:
    return None if value is None else [_round(value[0]), _round(value[1])]


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def recovery_record(recovery: Mapping[str, Recovery], options: ReportOptions) -> dict[str, Any]:
    """A group's money per currency: recovered, the curve, per case, per message and per unit of cost."""
    return {
        currency: {
            "cases": r.cases,
            "recovered": money_text(r.recovered),
            "per_case": money_text(r.per_case),
            "curve": {str(day): money_text(r.curve.get(day, Decimal(0))) for day in options.curve_days},
            "observed": {str(day): r.observed.get(day, 0) for day in options.curve_days},
            "messages": r.messages,
            "per_contact": money_text(r.per_contact),
            "cost": money_text(r.cost),
            "cost_currency": options.currency,
            "per_cost": money_text(r.per_cost),
        }
        for currency, r in sorted(recovery.items())
    }


def promise_record(row: GroupRow) -> dict[str, Any]:
    return {
        "promises": row.promises,
        "promises_kept": row.promises_kept,
        "promise_kept_rate": _round(row.promise_kept_rate),
        "promise_kept_ci95": _interval(row.promise_interval),
        "promises_pending": row.promises_pending,
    }


def _mean_record(d: MeanDifference) -> dict[str, Any]:
    return {
        "mean": money_text(d.mean),
        "baseline_mean": money_text(d.baseline_mean),
        "difference": money_text(d.difference),
        "ci95": [money_text(d.low), money_text(d.high)],
        "method": d.method,
        "significant": d.significant,
    }


def comparison_record(cure: Difference, recovery: Mapping[str, MeanDifference]) -> dict[str, Any]:
    """The cure (or paid) rate's difference from the baseline, and each currency's recovery per case."""
    return {
        "baseline": cure.baseline,
        "difference": _round(cure.difference),
        "ci95": [_round(cure.low), _round(cure.high)],
        "significant": cure.significant,
        "recovery_per_case": {currency: _mean_record(d) for currency, d in sorted(recovery.items())},
    }


def holdout_record(arm: HoldoutArm) -> dict[str, Any]:
    versus = arm.versus
    return {
        "arm": arm.name,
        "cases": arm.cases,
        "paid": arm.paid,
        "paid_rate": _round(arm.paid_rate),
        "paid_ci95": _interval(arm.paid_interval),
        "recovery": {
            currency: {
                "cases": r.cases,
                "recovered": money_text(r.recovered),
                "per_case": money_text(r.per_case),
            }
            for currency, r in sorted(arm.recovery.items())
        },
        "vs_holdout": None if versus is None else comparison_record(versus.cure, versus.recovery),
    }


def roll_record(row: RollRow, columns: Sequence[str], key: Sequence[Any]) -> dict[str, Any]:
    return {
        **dict(zip(columns, key, strict=True)),
        "bucket": row.label,
        "cases": row.cases,
        "paid": row.paid,
        "stayed": row.stayed,
        "rolled": row.rolled,
        "roll_rate": _round(row.roll_rate),
        "roll_ci95": _interval(row.roll_interval),
        "paid_rate": _round(row.paid_rate),
    }


def rolls_document(rolls: RollRates, all_label: str) -> dict[str, Any]:
    """The roll rates of a period: per group (when grouped) and in total, per starting bucket."""
    return {
        "start": _moment(rolls.start),
        "end": _moment(rolls.end),
        "period_days": (rolls.end - rolls.start).days,
        "buckets": bucket_labels(rolls.bounds),
        "by": list(rolls.columns),
        "rows": [roll_record(row, rolls.columns, row.key) for row in rolls.rows] if rolls.columns else [],
        "total": [roll_record(row, rolls.columns, [all_label] * len(rolls.columns)) for row in rolls.total],
    }


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested record as flat CSV columns: dicts join their keys with ``_``, intervals give low and high."""
    flat: dict[str, Any] = {}
    for name, value in record.items():
        column = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{column}_"))
        elif isinstance(value, list) and len(value) == 2 and name.endswith("ci95"):
            flat[f"{column}_low"], flat[f"{column}_high"] = value
        else:
            flat[column] = "" if value is None else value
    return flat
