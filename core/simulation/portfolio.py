"""Portfolios for ``dunning simulate``: a seeded synthetic one, or a real import file.

The synthetic portfolio looks like a Chinese consumer lender's book: mostly
zh-CN debtors on +86 mobiles, some English-speaking ones in China, the US and
the UK; amounts log-normal around a few thousand; due dates in the week
before the run; a time zone on some cases only (the rest inferred from the
phone); push tokens for app users; a repayment history for returning debtors;
a few debtors with two loans; and the lender's own attributes that
examples/policy-challenger.yaml declares (``score``, ``band``, ``last_login``,
``app_user``), which a policy that does not declare them ignores. The same
seed always gives the same book.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from dunning.core.domain.model import Case
from dunning.core.errors import InputError
from dunning.core.intake.importer import CaseFile

__all__ = ["PortfolioSource", "load_portfolio", "simulation_start", "synthetic_portfolio"]

#: (locale, country code, time zones a case may name, currency, share of debtors)
_PROFILES = (
    ("zh-CN", "+86", ("Asia/Shanghai",), "CNY", 0.78),
    ("en", "+86", ("Asia/Shanghai",), "CNY", 0.07),
    ("en", "+1", ("America/New_York", "America/Chicago", "America/Los_Angeles"), "USD", 0.10),
    ("en", "+44", ("Europe/London",), "GBP", 0.05),
)
#: US area codes in each of the zones above, so that an inferred zone is the right one.
_US_AREAS = {"America/New_York": "212", "America/Chicago": "312", "America/Los_Angeles": "415"}
_SURNAMES_ZH = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN_ZH = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明")
_NAMES_EN = ("Jordan Lee", "Maria Garcia", "Sam Patel", "Olivia Brown", "Liam Smith", "Ava Chen", "Noah Kim")


@dataclass(frozen=True)
class PortfolioSource:
    """Where a simulation's cases come from: a file, or ``cases`` synthetic ones from ``seed``.

    Picklable, so that worker processes can rebuild the same portfolio.
    """

    cases: int = 1000
    seed: int = 0
    start: datetime | None = None
    path: str | None = None

    def load(self) -> list[Case]:
        if self.path is not None:
            return load_portfolio(self.path)[0]
        assert self.start is not None, "a synthetic portfolio needs the start of the run"
        return synthetic_portfolio(self.cases, seed=self.seed, start=self.start)


def synthetic_portfolio(n: int, *, seed: int, start: datetime) -> list[Case]:
    """``n`` cases (about 3% of debtors have two), the same for the same seed."""
    rng = random.Random(f"portfolio:{seed}")
    out: list[Case] = []
    debtor = 0
    while len(out) < n:
        debtor += 1
        loans = 2 if rng.random() < 0.03 and n - len(out) >= 2 else 1
        person = _person(rng, debtor)
        person["attributes"] = _attributes(seed, person["debtor_id"], bool(person["push_token"]), start)
        for loan in range(loans):
            out.append(_case(rng, person, len(out) + 1, loan, start))
    return out


def _pick_profile(roll: float) -> tuple[str, str, tuple[str, ...], str, float]:
    for profile in _PROFILES:
        if roll < profile[-1]:
            return profile
        roll -= profile[-1]
    return _PROFILES[0]


def _person(rng: random.Random, number: int) -> dict[str, Any]:
    locale, code, zones, currency, _share = _pick_profile(rng.random())
    zone = rng.choice(zones)
    if code == "+86":
        phone = f"+86{rng.choice(('138', '139', '137', '158', '186'))}{rng.randrange(10**8):08d}"
    elif code == "+1":
        phone = f"+1{_US_AREAS[zone]}555{rng.randrange(100, 200):04d}"
    else:
        phone = f"+447911{rng.randrange(10**6):06d}"
    name = (
        rng.choice(_SURNAMES_ZH) + "".join(rng.choice(_GIVEN_ZH) for _ in range(rng.choice((1, 2))))
        if locale == "zh-CN"
        else rng.choice(_NAMES_EN)
    )
    returning = rng.random() < 0.4
    profile: dict[str, Any] = {}
    if returning:
        profile = {
            "previous_cures": rng.randint(1, 4),
            "kept_promises": rng.randint(0, 2),
            "broken_promises": rng.choice((0, 0, 0, 1, 2)),
            "days_to_pay_last": rng.randint(0, 20),
        }
    timezone = zone if rng.random() < 0.5 else None
    push_token = f"push-{number:06d}" if rng.random() < 0.7 else None
    return {
        "debtor_id": f"D-{number:06d}",
        "locale": locale,
        "phone": phone,
        "timezone": timezone,
        "currency": currency,
        "name": name,
        "push_token": push_token,
        "profile": profile,
    }


def _attributes(seed: int, debtor_id: str, app_user: bool, start: datetime) -> dict[str, Any]:
    """The lender's own columns, as an import stores them, from a generator of their own.

    Drawn apart from the rest of the book, so that the rest is as it was without them.
    """
    rng = random.Random(f"attributes:{seed}:{debtor_id}")
    score = min(850, max(300, round(rng.gauss(660, 90))))
    band = rng.choices("ABCD", weights=(2, 4, 3, 1))[0]
    attributes: dict[str, Any] = {"score": str(score), "band": band, "app_user": app_user}
    if app_user:
        away = rng.randint(0, 20) if rng.random() < 0.75 else rng.randint(31, 120)
        attributes["last_login"] = (start.date() - timedelta(days=away)).isoformat()
    return attributes


def _case(rng: random.Random, person: dict[str, Any], number: int, loan: int, start: datetime) -> Case:
    scale = {"CNY": 3000.0, "USD": 600.0, "GBP": 500.0}[person["currency"]]
    amount = Decimal(str(round(rng.lognormvariate(0, 0.9) * scale, 2))).quantize(Decimal("0.01"))
    due = start.date() - timedelta(days=rng.randint(0, 6))
    return Case(
        case_id=f"S-{number:06d}",
        debtor_id=person["debtor_id"],
        name=person["name"],
        account=f"62220202{rng.randrange(10**8):08d}",
        amount_due=max(amount, Decimal("50.00")),
        currency=person["currency"],
        due_date=due if loan == 0 else due - timedelta(days=rng.randint(7, 30)),
        locale=person["locale"],
        phone=person["phone"],
        push_token=person["push_token"],
        timezone=person["timezone"],
        payment_url=f"https://pay.example.com/r/S{number:06d}",
        tags=("synthetic",),
        profile=dict(person["profile"]),
        attributes=dict(person["attributes"]),
    )


def load_portfolio(path: str | Path) -> tuple[list[Case], list[str]]:
    """The good cases of a CSV or JSON Lines import file, and ``FILE:LINE: reason`` for each bad row."""
    path = Path(path)
    cases: list[Case] = []
    errors: list[str] = []
    with CaseFile(path) as records:
        for record, case, error in records:
            if case is not None:
                cases.append(case)
            else:
                errors.append(f"{path}:{record.line}: {error}")
    if not cases:
        raise InputError(f"{path}: no usable case", field="portfolio")
    return cases, errors


def simulation_start(cases: list[Case]) -> datetime:
    """Midnight (UTC) after the latest due date of an imported portfolio: every case is overdue."""
    last = max(c.due_date for c in cases) + timedelta(days=1)
    return datetime(last.year, last.month, last.day, tzinfo=UTC)
