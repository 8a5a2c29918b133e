"""The portfolio (charts), the policy (and a case explained on a timeline), and webhook deliveries."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dunning.core.api.console.charts import bars, curve, daily_stacks, explain_line
from dunning.core.api.console.render import page
from dunning.core.api.console.views_queue import signed_in
from dunning.core.intake.service import Intake
from dunning.core.policy.explain import explain

__all__ = ["router"]

router = APIRouter()
#: Days the portfolio page looks back, and a case's explanation looks ahead.
PORTFOLIO_DAYS, EXPLAIN_DAYS = 30, 14


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


@router.get("/portfolio")
def portfolio_page(request: Request) -> Response:
    session = signed_in(request)
    intake = _intake(request)
    store, now = intake.rt.store, intake.rt.now()
    with store.read() as conn:
        view = store.portfolio(conn, now, PORTFOLIO_DAYS)
        backlog = store.backlog(conn, now)
    days = [now.date() - timedelta(days=PORTFOLIO_DAYS - 1 - i) for i in range(PORTFOLIO_DAYS)]
    charts = {
        "reminders": daily_stacks("Reminders sent per day, by channel", view.reminders, days),
        "cure": curve("Share of reminded cases paid, by days since the first reminder", view.cure_curve),
        "opt_outs": bars("Opt-outs by channel", sorted(view.opt_outs.items()), "#ff7f0e"),
        "errors": bars(
            "Provider errors by code",
            [(f"{channel} {code}", n) for (channel, code), n in sorted(view.errors.items())],
            "#d62728",
        ),
        "backlog": bars(
            "Queue backlog by reason (overdue in brackets)",
            [(f"{reason} ({late} overdue)", count) for reason, count, late in backlog],
            "#9467bd",
        ),
    }
    return page(
        request,
        "portfolio.html",
        session,
        title="Portfolio",
        charts=charts,
        view=view,
        backlog=backlog,
        days=PORTFOLIO_DAYS,
    )


@router.get("/policy")
def policy_page(request: Request, case: str = "") -> Response:
    session = signed_in(request)
    intake = _intake(request)
    rt = intake.rt
    explained, chart, error = [], None, None
    if case:
        with rt.store.read() as conn:
            loaded = rt.store.load_cases(conn, [case]).get(case)
            history = rt.store.histories(conn, [loaded[0]])[case] if loaded else None
        if loaded is None or history is None:
            error = f"No case {case!r}."
        else:
            start = rt.now()
            explained = explain(loaded[0], rt.policy, start, EXPLAIN_DAYS, history.events)
            marks = [
                (e.action.at, e.action.kind, f"{e.action.channel or ''} {e.action.rule or ''}")
                for e in explained
            ]
            chart = explain_line(
                f"What the policy would do for {case} over {EXPLAIN_DAYS} days", marks, start, EXPLAIN_DAYS
            )
    return page(
        request,
        "policy.html",
        session,
        title="Policy",
        policy=rt.policy,
        case_id=case,
        explained=explained,
        chart=chart,
        error=error,
        days=EXPLAIN_DAYS,
    )


@router.get("/webhooks")
def webhooks_page(request: Request, failed: str = "") -> Response:
    session = signed_in(request)
    store = _intake(request).rt.store
    with store.read() as conn:
        rows = store.recent_deliveries(conn, failed_only=bool(failed), limit=200)
        counts, failures = store.delivery_counts(conn)
    return page(
        request,
        "webhooks.html",
        session,
        title="Webhooks",
        rows=rows,
        counts=counts,
        failures=failures,
        subscriptions=store.subscriptions,
        failed_only=bool(failed),
    )
