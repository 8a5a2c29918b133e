"""The scheduler tick and the sweeper.

A tick asks the engine about every case that is due, writes the decisions —
intents under deterministic ids, the case's next check, the audit trail — in
one transaction per batch, and hands the new intents to the broker after
commit. The sweeper hands over what was committed but never handed over (or
lost by the broker) and takes back intents whose worker died.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from dunning.core.domain.engine import Decision, decide, facts_for
from dunning.core.domain.model import Case, Contact, ContactStatus, History, IntentState
from dunning.core.errors import DeliveryError
from dunning.core.policy.conditions import ConditionError
from dunning.core.runtime.dispatch import Handover
from dunning.core.runtime.rows import audit_rows as _audit_rows
from dunning.core.runtime.rows import intent_rows as _intent_rows
from dunning.core.runtime.runtime import Runtime
from dunning.core.runtime.telemetry import observed_tick
from dunning.core.runtime.webhooks import hand_over_webhooks
from dunning.core.store.cases import DueCase
from dunning.core.store.failures import is_outage
from dunning.core.store.quarantine import Fault, describe

__all__ = ["SweepReport", "TickReport", "hold_reason", "run_round", "sweep", "tick"]

log = logging.getLogger(__name__)

Done = TypeVar("Done")


@dataclass
class TickReport:
    """What one tick did."""

    cases: int = 0
    planned: int = 0
    handed_over: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    skipped_changed: int = 0
    broken_promises: int = 0
    #: cases parked this tick because deciding or writing them failed
    quarantined: int = 0

    def __str__(self) -> str:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items()))
        text = f"{self.cases} case(s) decided, {self.planned} reminder(s) planned ({detail or 'no actions'})"
        return text + (f", {self.quarantined} quarantined" if self.quarantined else "")


@dataclass
class SweepReport:
    handed_over: int = 0
    requeued: int = 0
    ambiguous: int = 0
    reconciled_sent: int = 0
    reconciled_unsent: int = 0
    #: webhook deliveries handed to the broker
    webhooks: int = 0


def tick(rt: Runtime, now: datetime | None = None, *, limit: int | None = None) -> TickReport:
    """Decide every due case once; return what was done."""
    now = now or rt.now()
    report = TickReport()
    batch = rt.settings.tick_batch
    partitions = (max(1, rt.settings.scheduler_partitions), rt.settings.scheduler_partition)
    after: tuple[datetime, str] | None = None
    learned = rt.learning.current(rt, now)
    while limit is None or report.cases < limit:
        with rt.store.read() as conn:
            page = rt.store.due_cases(conn, now, batch, partitions, after)
            found = rt.store.histories(
                conn, [due.case for due in page], rt.settling, rt.policy.default_timezone
            )
        if not page:
            break
        histories = {case_id: replace(history, learned=learned) for case_id, history in found.items()}
        after = (page[-1].next_check_at, page[-1].case.case_id)
        _decide_batch(rt, page, histories, now, report)
        if len(page) < batch:
            break
    hand_over_webhooks(rt, now)  # what this tick's decisions told the subscribers
    return report


def _decide_batch(
    rt: Runtime, page: Sequence[DueCase], histories: dict[str, History], now: datetime, report: TickReport
) -> None:
    """Decide a page of cases and write the decisions; one case's failure parks that case only."""
    versions = {due.case.case_id: due.updated_at for due in page}
    decided, faults = _decide_in_order(rt, page, histories, now)
    parked = {due.case.case_id for due in page if due.quarantined_at is not None}
    try:
        planned, fresh = _write_decisions(rt, decided, faults, page, versions, parked, now, report)
    except Exception as exc:
        if is_outage(exc):
            raise
        # One case's row broke the page's transaction: write each case on its own, park the culprit.
        log.warning(
            "a page of %d decisions could not be written (%s); writing case by case",
            len(decided),
            type(exc).__name__,
        )
        planned, fresh = [], []
        for item in decided:
            one_planned, one_fresh = _write_one(rt, item, page, versions, parked, now, report)
            planned += one_planned
            fresh += one_fresh
        if faults:
            with rt.store.write() as conn:
                report.quarantined += len(rt.store.quarantine(conn, faults, now))
    report.cases += len(fresh)
    report.planned += len(planned)
    for _case, decision in fresh:
        report.actions.update(a.kind for a in decision.actions)
    if planned:
        # A loan that joined another's message goes with it: only the message's own intent is handed over.
        going = {
            a.intent_id: (a.channel or "", c.case_id)
            for c, d in fresh
            for a in d.sends
            if a.message_id in (None, a.intent_id)
        }
        report.handed_over += hand_over(rt, [(i, *going[i]) for i in planned if i in going], now)


def _write_decisions(
    rt: Runtime,
    decided: Sequence[tuple[Case, Decision]],
    faults: Sequence[Fault],
    page: Sequence[DueCase],
    versions: dict[str, datetime],
    parked: set[str],
    now: datetime,
    report: TickReport,
) -> tuple[list[str], list[tuple[Case, Decision]]]:
    """Write decisions and quarantines in one transaction; return new intents and written cases."""
    store = rt.store
    promised = {due.case.case_id: due.promise_until for due in page if due.promise_until is not None}
    with store.write() as conn:
        # A case changed since it was read (a payment, a re-import) is decided next tick.
        written = store.set_case_state(conn, [_case_row(case, d, now) for case, d in decided], versions)
        fresh = [(c, d) for c, d in decided if c.case_id in written]
        report.skipped_changed += len(decided) - len(fresh)
        store.recovered(conn, sorted(parked & written), now)
        holds = [(c.case_id, hold_reason(d)) for c, d in fresh]
        store.sync_holds(conn, holds, now, rt.policy.sla_for)
        store.record_strategies(conn, _assigned(fresh), now)
        planned = store.plan_intents(conn, [row for case, d in fresh for row in _intent_rows(case, d, now)])
        store.add_audit(conn, [row for _case, d in fresh for row in _audit_rows(d)])
        promises = [(c.case_id, c.debtor_id, _promise_until(d)) for c, d in fresh if d.status != "paid"]
        report.broken_promises += len(store.track_promises(conn, promises, now, promised))
        report.quarantined += len(store.quarantine(conn, faults, now))
    return planned, fresh


def _write_one(
    rt: Runtime,
    item: tuple[Case, Decision],
    page: Sequence[DueCase],
    versions: dict[str, datetime],
    parked: set[str],
    now: datetime,
    report: TickReport,
) -> tuple[list[str], list[tuple[Case, Decision]]]:
    """Write one case's decision on its own; a case whose row the store refuses is parked."""
    case = item[0]
    try:
        return _write_decisions(rt, [item], [], page, versions, parked, now, report)
    except Exception as exc:
        if is_outage(exc):
            raise
        fault = Fault(case.case_id, "write", describe(exc, case), versions.get(case.case_id))
        with rt.store.write() as conn:
            report.quarantined += len(rt.store.quarantine(conn, [fault], now))
        log.error(
            "case %s quarantined: its decision could not be written (%s)", case.case_id, type(exc).__name__
        )
        return [], []


def _decide_in_order(
    rt: Runtime, page: Sequence[DueCase], histories: dict[str, History], now: datetime
) -> tuple[list[tuple[Case, Decision]], list[Fault]]:
    """Decide each case; a reminder planned for one loan counts for the debtor's other loans.

    The histories were read once for the whole page, so a person with several
    loans due together would otherwise be planned past their caps. A case whose
    decision raises is returned as a fault, to be parked; the others go on.
    """
    planned: dict[str, list[Contact]] = {}
    decided = []
    faults = []
    loans = Counter(due.case.debtor_id for due in page)
    for due in by_priority(rt, page, histories, now):
        case = due.case
        history = histories[case.case_id]
        extra = planned.get(case.debtor_id)
        if extra:
            history = replace(history, contacts=(*history.contacts, *extra))
        try:
            decision = decide(case, history, rt.policy, now)
        except Exception as exc:
            faults.append(Fault(case.case_id, "decide", describe(exc, case), due.updated_at))
            log.error("case %s quarantined: deciding it failed (%s)", case.case_id, type(exc).__name__)
            continue
        if loans[case.debtor_id] > 1:  # only another loan of the same person reads them
            for action in decision.sends:
                planned.setdefault(case.debtor_id, []).append(_pending_contact(case, action, now))
        decided.append((case, decision))
    return decided, faults


def by_priority(
    rt: Runtime, page: Sequence[DueCase], histories: dict[str, History], now: datetime
) -> list[DueCase]:
    """The page with each person's loans in the policy's priority order (larger first).

    Decided in this order, a scarce contact (a cap that allows fewer contacts
    than the person has loans due) serves the loan that matters most — by
    default the amount times the days overdue — and the others join its
    message or wait. People keep the page's order.
    """
    priority = rt.policy.priority
    if priority is None:
        return list(page)
    groups: dict[str, list[DueCase]] = {}
    for due in page:
        groups.setdefault(due.case.debtor_id, []).append(due)
    ordered: list[DueCase] = []
    for loans in groups.values():
        if len(loans) > 1:
            loans.sort(
                key=lambda due: (-_priority(rt, due, histories, now), due.case.due_date, due.case.case_id)
            )
        ordered += loans
    return ordered


def _priority(rt: Runtime, due: DueCase, histories: dict[str, History], now: datetime) -> Decimal:
    """A loan's priority under the policy; a case whose priority cannot be computed comes last."""
    assert rt.policy.priority is not None
    try:
        value = rt.policy.priority.value(facts_for(due.case, histories[due.case.case_id], rt.policy, now))
        return Decimal(str(value)) if value is not None else Decimal("-Infinity")
    except (ConditionError, ArithmeticError, ValueError):
        return Decimal("-Infinity")


def _pending_contact(case: Case, action: Any, now: datetime) -> Contact:
    return Contact(
        intent_id=action.intent_id,
        case_id=case.case_id,
        channel=action.channel,
        ladder=action.ladder,
        step=action.step,
        cycle=action.cycle,
        seq=action.seq,
        at=now,
        status=ContactStatus.PENDING,
        message_id=action.message_id,
    )


def _assigned(decided: Sequence[tuple[Case, Decision]]) -> dict[str, str]:
    """Debtors whose strategy the engine assigned (or changed, the recorded one being gone)."""
    return {
        case.debtor_id: decision.strategy
        for case, decision in decided
        if decision.strategy is not None and decision.strategy != case.strategy
    }


def _promise_until(decision: Decision) -> datetime | None:
    """When the promise the engine holds the case for runs out (None: no promise hold)."""
    return next((a.until for a in decision.actions if a.kind == "hold" and a.rule == "promise"), None)


def hold_reason(decision: Decision) -> str | None:
    """Why the case waits for a person: the rule of a hold with no end (a promise's hold has one)."""
    if decision.status != "held":
        return None
    return next((a.rule for a in decision.actions if a.kind == "hold" and a.until is None), None)


def _case_row(case: Case, decision: Decision, now: datetime) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "hold_reason": hold_reason(decision),
        "status": decision.status,
        "segment": decision.segment,
        "ladder": decision.ladder,
        "next_check_at": decision.next_check,
        "updated_at": now,
    }


def hand_over(rt: Runtime, items: Sequence[Handover], now: datetime) -> int:
    """Give intents to the broker, then mark them enqueued; a broker failure leaves them planned."""
    if rt.dispatcher is None or not items:
        return 0
    try:
        done = rt.dispatcher.enqueue_many(items)
    except Exception as exc:  # they stay planned: the sweeper hands them over again
        rt.outages.failed("hand-over", exc)
        return 0
    rt.outages.ok("hand-over")
    with rt.store.write() as conn:
        rt.store.mark_enqueued(conn, done, now)
    return len(done)


def run_round(rt: Runtime) -> tuple[SweepReport | None, TickReport | None]:
    """One sweep and one tick, as the scheduler loops do them; None for a step that failed.

    A failure is logged through the runtime's outages: once when it starts,
    a summary per interval while it goes on, and a line when it is over.
    """
    with observed_tick(rt) as seen:
        swept = _guarded(rt, "sweep", sweep)
        report = _guarded(rt, "tick", tick)
        seen(report)
    return swept, report


def _guarded(rt: Runtime, where: str, step: Callable[[Runtime], Done]) -> Done | None:
    try:
        done = step(rt)
    except Exception as exc:
        rt.outages.failed(where, exc)
        return None
    rt.outages.ok(where)
    return done


def sweep(rt: Runtime, now: datetime | None = None, *, requeue_after: timedelta | None = None) -> SweepReport:
    """Hand over stuck intents, and take back those whose worker died."""
    now = now or rt.now()
    stale = requeue_after if requeue_after is not None else timedelta(seconds=rt.settings.lease_seconds)
    report = SweepReport()
    with rt.store.write() as conn:
        requeued, ambiguous = rt.store.expire_leases(conn, now)
        for intent_id in ambiguous:
            row = rt.store.intent(conn, intent_id)
            if row is not None:
                rt.store.add_attempt(
                    conn,
                    intent_id=intent_id,
                    case_id=row.case_id,
                    channel=row.channel,
                    at=now,
                    outcome="ambiguous",
                    detail="worker lost during the provider call",
                )
                rt.store.wake_case(conn, row.case_id, now)
    report.requeued, report.ambiguous = len(requeued), len(ambiguous)
    _reconcile(rt, now, report)
    seen: set[str] = set()
    while True:
        with rt.store.read() as conn:
            due = [item for item in rt.store.to_hand_over(conn, now, stale) if item[0] not in seen]
        if not due:
            break
        seen.update(item[0] for item in due)
        handed = hand_over(rt, due, now)
        report.handed_over += handed
        if handed < len(due):
            break
    report.webhooks = hand_over_webhooks(rt, now)
    return report


def _reconcile(rt: Runtime, now: datetime, report: SweepReport) -> None:
    """Settle ambiguous sends that no status callback settled: ask the provider.

    Sent → the intent is ``sent``. Surely not sent → it goes again if it is
    still the case's latest reminder and has attempts left (the ladder waits
    for a reminder in doubt, up to a day past its step's wait); else it is
    marked failed, since the ladder has moved on. The provider cannot tell yet
    → ask again next time. Either answer wakes the case.
    """
    able = sorted(rt.settling)
    before = now - timedelta(seconds=rt.settings.ambiguous_after_seconds)
    with rt.store.read() as conn:
        rows = rt.store.to_reconcile(conn, before, able)
    for row in rows:
        channel = rt.channels[row.channel]
        since = row.call_started_at or row.planned_at
        try:
            receipt = channel.reconcile(row.intent_id, row.address or "", since)
        except DeliveryError as exc:
            log.debug("intent %s: cannot reconcile yet (%s)", row.intent_id, exc)
            rt.outages.failed("reconcile", exc)
            with rt.store.write() as conn:
                rt.store.update_intent(conn, row.intent_id, now)
            continue
        rt.outages.ok("reconcile")
        with rt.store.write() as conn:
            if receipt is not None:
                rt.store.update_intent(
                    conn,
                    row.intent_id,
                    now,
                    state=IntentState.SENT,
                    provider_id=receipt.provider_id,
                    reason="reconciled",
                )
                outcome = "reconciled_sent"
                report.reconciled_sent += 1
            elif rt.store.is_latest_of_case(conn, row) and row.attempts < rt.settings.max_retries:
                rt.store.update_intent(
                    conn,
                    row.intent_id,
                    now,
                    state=IntentState.PLANNED,
                    not_before=now,
                    reason="reconciled_unsent",
                    call_started_at=None,
                    completed_at=None,
                )
                outcome = "reconciled_unsent"
                report.reconciled_unsent += 1
            else:
                rt.store.update_intent(
                    conn, row.intent_id, now, state=IntentState.FAILED, reason="never_sent"
                )
                outcome = "reconciled_unsent"
                report.reconciled_unsent += 1
            rt.store.add_attempt(
                conn,
                intent_id=row.intent_id,
                case_id=row.case_id,
                channel=row.channel,
                at=now,
                outcome=outcome,
                provider_id=receipt.provider_id if receipt else None,
            )
            rt.store.wake_case(conn, row.case_id, now)
