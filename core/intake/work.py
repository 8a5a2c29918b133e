"""A person's work on a held case: claim, assign, note, resolve — each an event through :class:`Intake`.

Every action is recorded as an event carrying the acting person (an API
token's name, a console user), so it shows on the case's timeline and in the
audit trail, and the store applies it to the case's work item in the same
transaction: a claim of a case someone else holds, or a resolution of a case
no longer in the queue, records nothing and raises ``StateError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dunning.core.domain.model import Event, EventKind
from dunning.core.domain.work import Outcome, Resolution, resolution_events
from dunning.core.domain.zones import candidate_zones
from dunning.core.errors import InputError, NotFoundError
from dunning.core.intake.service import Intake
from dunning.core.store.queue import WorkItem

__all__ = ["MAX_NOTE", "WorkActions"]

#: The longest note a person may write (characters).
MAX_NOTE = 4000
#: The longest name of an owner.
MAX_OWNER = 128


@dataclass
class WorkActions:
    """Claim, assign, note and resolve, for the API and the console alike."""

    intake: Intake

    def claim(self, case_id: str, actor: str) -> WorkItem | None:
        """Take the case's item; someone else's item is refused (assign it instead)."""
        self._record(case_id, [Event(EventKind.CLAIM, self._now(), case_id=case_id, text=actor, actor=actor)])
        return self.item(case_id)

    def assign(self, case_id: str, owner: str, actor: str) -> WorkItem | None:
        """Give the case's item to ``owner`` (a supervisor's move; it may take it from someone)."""
        owner = owner.strip()
        if not owner or len(owner) > MAX_OWNER:
            raise InputError(f"must be a name of 1 to {MAX_OWNER} characters", field="owner")
        self._record(
            case_id, [Event(EventKind.ASSIGN, self._now(), case_id=case_id, text=owner, actor=actor)]
        )
        return self.item(case_id)

    def note(self, case_id: str, text: str, actor: str) -> None:
        """A note on the case's timeline, for the next person who opens it."""
        text = text.strip()
        if not text or len(text) > MAX_NOTE:
            raise InputError(f"must be 1 to {MAX_NOTE} characters", field="text")
        self._record(case_id, [Event(EventKind.NOTE, self._now(), case_id=case_id, text=text, actor=actor)])

    def resolve(self, case_id: str, resolution: Resolution, actor: str) -> WorkItem | None:
        """Resolve the case's item with an outcome, and record what the outcome means."""
        self._check(case_id, resolution)
        now = self._now()
        self._record(case_id, resolution_events(case_id, resolution, at=now, actor=actor))
        with self.intake.rt.store.read() as conn:
            items = self.intake.rt.store.items_of(conn, case_id)
        return items[0] if items else None

    def agent_call(self, case_id: str, status: str, seconds: int | None) -> None:
        """The debtor's call to an agent ended: its status and length go on the case's work item."""
        store = self.intake.rt.store
        with store.write() as conn:
            store.record_agent_call(conn, case_id, status, seconds, self._now())

    def item(self, case_id: str) -> WorkItem | None:
        with self.intake.rt.store.read() as conn:
            return self.intake.rt.store.open_item(conn, case_id)

    # ------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        return self.intake.rt.now()

    def _record(self, case_id: str, events: list[Event]) -> None:
        with self.intake.rt.store.read() as conn:
            if self.intake.rt.store.case_row(conn, case_id) is None:
                raise NotFoundError(f"no case {case_id!r}", field="case_id")
        self.intake.record_groups([events], source="person")

    def _check(self, case_id: str, resolution: Resolution) -> None:
        """A promise or an arrangement needs a day from today to the policy's horizon."""
        if resolution.outcome not in (Outcome.PROMISE, Outcome.ARRANGEMENT):
            return
        if resolution.date is None:
            raise InputError(f"is required for the outcome {resolution.outcome}", field="date")
        today = self._today(case_id)
        horizon = self.intake.rt.policy.responses.promise_horizon
        if resolution.date < today:
            raise InputError("must be today or later", field="date")
        if resolution.date > today + timedelta(days=horizon.days):
            raise InputError(
                f"must be within the policy's promise horizon ({horizon.days} days)", field="date"
            )

    def _today(self, case_id: str) -> date:
        rt = self.intake.rt
        with rt.store.read() as conn:
            loaded = rt.store.load_cases(conn, [case_id]).get(case_id)
        if loaded is None:
            raise NotFoundError(f"no case {case_id!r}", field="case_id")
        case = loaded[0]
        zone = candidate_zones(case.timezone, case.phone, rt.policy.default_timezone)[-1]
        return rt.now().astimezone(zone).date()
