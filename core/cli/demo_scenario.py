"""``dunning demo``: a portfolio, a policy and three weeks of debtors' answers, in a minute.

The demo runs the real flow — import, scheduler ticks, the delivery actor on
an in-process Dramatiq worker, the outbox channel standing in for SMS, push
and voice, events recorded by the store — on a simulated clock over a
temporary SQLite file. Scripted debtors answer as real ones do: some pay
after the first SMS, some promise (and some keep it), some reply 退订 or STOP,
some ignore everything until the call.
"""

from __future__ import annotations

import heapq
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.resources import as_file, files
from pathlib import Path

from dunning.core.domain.model import Event, EventKind
from dunning.core.intake.importer import ImportReport, import_file
from dunning.core.intake.service import Intake
from dunning.core.reporting.timeline import timeline
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.runtime.runtime import Runtime
from dunning.core.settings import Settings
from dunning.core.store.reports import demo

__all__ = ["DemoResult", "run_demo"]

#: The simulated period.
START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
DAYS = 21
STEP = timedelta(hours=1)
#: Cases whose whole timeline the demo prints at the end: two loans reminded in one message,
#: an opt-out, a courtesy reminder before the due date, a claimed payment held for verification.
FEATURED = ("CN-1002", "EN-2002", "CN-1015", "CN-1014")


@dataclass(frozen=True)
class Script:
    """How a scripted debtor answers: after which contact, how long after, what."""

    after: str  #: "sms", "push", "voice" or "any": the first contact on it triggers the answer
    delay: timedelta
    reply: str | None = None  #: a free-text reply (classified like a real one)
    pays: str | None = None  #: "full" or an amount
    then_pays_in: timedelta | None = None  #: a later payment (a kept promise)


#: The debtors' behaviour, by case id. Anyone not listed ignores everything.
SCRIPTS: dict[str, Script] = {
    "CN-1001": Script("sms", timedelta(hours=5), pays="full"),
    "CN-1002": Script("sms", timedelta(hours=2), reply="明天还", then_pays_in=timedelta(hours=30)),
    "CN-1003": Script("sms", timedelta(minutes=40), reply="退订"),
    "CN-1004": Script("voice", timedelta(hours=3), pays="full"),
    "CN-1005": Script("sms", timedelta(hours=1), reply="不是我的"),
    "CN-1006": Script("push", timedelta(hours=4), pays="3000.00"),
    "CN-1007": Script("sms", timedelta(hours=6), reply="周五还"),
    "CN-1008": Script("sms", timedelta(hours=3), reply="打错了"),
    "CN-1010": Script("voice", timedelta(hours=1), pays="full"),
    "CN-1012": Script("sms", timedelta(hours=20), pays="full"),
    # says it paid: held for verification until the payment feed shows it, a day later
    "CN-1014": Script("sms", timedelta(hours=2), reply="我已经还款了", then_pays_in=timedelta(hours=26)),
    # reminded before the due date, pays on time
    "CN-1015": Script("sms", timedelta(hours=30), pays="full"),
    "EN-2001": Script(
        "sms", timedelta(hours=3), reply="I will pay tomorrow", then_pays_in=timedelta(hours=28)
    ),
    "EN-2002": Script("sms", timedelta(minutes=15), reply="STOP"),
    "EN-2003": Script("voice", timedelta(hours=2), pays="full"),
    "EN-2004": Script("push", timedelta(hours=1), pays="full"),
    "EN-2006": Script("sms", timedelta(hours=2), reply="not my debt"),
    "EN-2008": Script("sms", timedelta(hours=8), pays="full"),
    # says it paid, never does: the ladder resumes when the claim window ends
    "EN-2007": Script("sms", timedelta(hours=4), reply="I already paid"),
}


@dataclass
class DemoResult:
    imported: ImportReport
    log: list[str] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    per_channel: dict[str, int] = field(default_factory=dict)
    featured: dict[str, list[str]] = field(default_factory=dict)
    database: str = ""


class _Debtors:
    """Scripted answers, scheduled as contacts happen."""

    def __init__(self, rt: Runtime, out: Callable[[str], None]) -> None:
        self.rt = rt
        self.intake = Intake(rt)
        self.out = out
        self.queue: list[tuple[datetime, int, str, str]] = []
        self.triggered: set[str] = set()
        self.seen_messages = 0
        self.counter = 0

    def notice_contacts(self, now: datetime) -> None:
        with self.rt.store.read() as conn:
            rows = demo.outbox_after(conn, self.seen_messages)
        self.seen_messages += len(rows)
        for row in rows:
            script = SCRIPTS.get(row.case_id)
            if script is None or row.case_id in self.triggered or script.after not in (row.channel, "any"):
                continue
            self.triggered.add(row.case_id)
            self._schedule(now + script.delay, row.case_id, "answer")

    def _schedule(self, at: datetime, case_id: str, what: str) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (at, self.counter, case_id, what))

    def answer_due(self, now: datetime) -> None:
        while self.queue and self.queue[0][0] <= now:
            at, _, case_id, what = heapq.heappop(self.queue)
            script = SCRIPTS[case_id]
            if what == "pay_later" or (what == "answer" and script.pays):
                amount = None if what == "pay_later" or script.pays == "full" else Decimal(script.pays or "0")
                self._record(Event(EventKind.PAYMENT, at, case_id=case_id, amount=amount), at)
                label = "paid in full" if amount is None else f"paid {amount}"
                self.out(f"{_stamp(at)}  {case_id:9} ← {label}")
            elif script.reply:
                self._reply(case_id, script.reply, at)
                if script.then_pays_in is not None:
                    self._schedule(at + script.then_pays_in, case_id, "pay_later")

    def _reply(self, case_id: str, text: str, at: datetime) -> None:
        store = self.rt.store
        with store.read() as conn:
            case = store.load_cases(conn, [case_id])[case_id][0]
        result = self.intake.reply(case, text, at=at, channel="sms", source="demo")
        found = result.classification
        meaning = found.kind + (f" {found.date}" if found and found.date else "") if found else "unclassified"
        self.out(f"{_stamp(at)}  {case_id:9} ← replied {text!r} ({meaning})")

    def _record(self, event: Event, at: datetime) -> None:
        self.intake.record(event, source="demo")


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns (a CJK character takes two), on one line."""
    text = " ".join(text.split())
    used = 0
    for i, ch in enumerate(text):
        used += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used > width - 1:
            return text[:i] + "…"
    return text


def _stamp(at: datetime) -> str:
    return f"{at:%m-%d %H:%M}Z"


def run_demo(out: Callable[[str], None], *, workdir: Path | None = None, days: int = DAYS) -> DemoResult:
    """Run the demo, printing its timeline through ``out``; return the figures."""
    temp = None
    if workdir is None:
        temp = tempfile.TemporaryDirectory(prefix="dunning-demo-")
        workdir = Path(temp.name)
    try:
        return _run(out, workdir, days)
    finally:
        if temp is not None:
            temp.cleanup()


def _run(out: Callable[[str], None], workdir: Path, days: int) -> DemoResult:
    examples = files("dunning.examples")
    with as_file(examples / "policy.yaml") as policy_path, as_file(examples / "portfolio.csv") as portfolio:
        clock = [START]
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'demo.db'}", policy=str(policy_path), dry_run=True
        )
        rt = build_runtime(
            settings,
            clock=lambda: clock[0],
            dry_run=True,
            echo=lambda line: out(clip(f"{_stamp(clock[0])}  {line}", 130)),
        )
        imported = import_file(rt.store, portfolio, now=START, rejects=workdir / "rejects.csv")
    result = DemoResult(imported=imported, database=str(workdir / "demo.db"))
    out(f"imported {portfolio.name}: {imported}")
    for error in imported.errors:
        out(f"  rejected {Path(error.split(':', 1)[0]).name}:{error.split(':', 1)[1]}")
    debtors = _Debtors(rt, out)
    runner = Embedded(rt, threads=2)
    runner.start()
    try:
        end = START + timedelta(days=days)
        while clock[0] < end:
            debtors.answer_due(clock[0])
            runner.step()
            debtors.notice_contacts(clock[0])
            clock[0] += STEP
        result.summary, result.per_channel = _summary(rt)
        for case_id in FEATURED:
            result.featured[case_id] = [
                f"{e.local:%m-%d %H:%M %Z}  {e.kind:8} {e.action:9} {e.channel or '':6} {e.rule or ''}".rstrip()
                for e in timeline(rt.store, case_id) or []
            ]
    finally:
        runner.stop()
        rt.close()
    return result


def _summary(rt: Runtime) -> tuple[dict[str, int], dict[str, int]]:
    with rt.store.read() as conn:
        per_channel = demo.sent_per_channel(conn)
        statuses: Counter[str] = Counter(demo.case_statuses(conn))
        rules = demo.audit_rules(conn)
    deferred_quiet = sum(1 for r in rules if r.action == "defer" and (r.rule or "").startswith("quiet_hours"))
    deferred_caps = sum(1 for r in rules if r.action == "defer" and (r.rule or "").startswith("cap:"))
    deferred_holiday = sum(1 for r in rules if r.action == "defer" and (r.rule or "").startswith("holiday"))
    with rt.store.read() as conn:
        joined = demo.sent_count(conn, joined=True)
        courtesy = demo.sent_count(conn, template="courtesy_notice")
    claimed = len({r.case_id for r in rules if r.action == "hold" and r.rule == "payment_claimed"})
    replies = sum(1 for r in rules if r.kind == "event" and r.action == "reply")
    opt_outs = sum(1 for r in rules if r.kind == "event" and r.action == "opt_out")
    summary = {
        "reminders sent": sum(per_channel.values()),
        "reminders before the due date": courtesy or 0,
        "loans reminded in another loan's message": joined or 0,
        "claimed payments held for verification": claimed,
        "deferred by quiet hours": deferred_quiet,
        "deferred by caps": deferred_caps,
        "deferred by holidays": deferred_holiday,
        "replies received": replies,
        "cases stopped by payment": statuses.get("paid", 0),
        "cases held (dispute, promise, agent)": statuses.get("held", 0),
        "opt-outs": opt_outs,
        "cases still escalating": statuses.get("open", 0),
    }
    return summary, per_channel
