"""The console's actions on a case — claim, assign, note, resolve — as the work service does them.

Each is the same :class:`~dunning.core.intake.work.WorkActions` call the API
makes, with the signed-in user as the actor: an event on the timeline and
in the audit trail. A refusal comes back as the sentence to show.
"""

from __future__ import annotations

from datetime import date

from starlette.datastructures import FormData

from dunning.core.domain.work import Outcome, Resolution
from dunning.core.errors import InputError
from dunning.core.intake.aliases import normalise_channel
from dunning.core.intake.service import Intake
from dunning.core.intake.work import WorkActions

__all__ = ["ACTIONS", "OUTCOMES", "act"]

#: The outcomes a console user may pick, with their labels, in the order the form lists them.
OUTCOMES = (
    (Outcome.RESUMED, "Resume the ladder"),
    (Outcome.PROMISE, "Promise to pay (date)"),
    (Outcome.ARRANGEMENT, "Payment arrangement (first instalment date)"),
    (Outcome.OPTED_OUT, "Opt out (channel, or all)"),
    (Outcome.PAID, "Close: paid"),
    (Outcome.SETTLED, "Close: settled"),
    (Outcome.WRITTEN_OFF, "Close: written off"),
    (Outcome.FRAUD, "Close: fraud"),
    (Outcome.DISPUTE_UPHELD, "Close: dispute upheld"),
)
#: What a form may ask for.
ACTIONS = ("claim", "assign", "note", "resolve")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def act(intake: Intake, case_id: str, action: str, form: FormData, actor: str) -> str | None:
    """Do ``action`` on the case; None when done, else why it was not (a sentence naming the field)."""
    work = WorkActions(intake)
    try:
        if action == "claim":
            work.claim(case_id, actor)
        elif action == "assign":
            work.assign(case_id, _text(form, "owner"), actor)
        elif action == "note":
            work.note(case_id, _text(form, "text"), actor)
        elif action == "resolve":
            work.resolve(case_id, _resolution(intake, form), actor)
        else:
            return f"unknown action {action!r}"
    except InputError as exc:
        return str(exc)
    return None


def _resolution(intake: Intake, form: FormData) -> Resolution:
    raw = _text(form, "outcome")
    try:
        outcome = Outcome(raw)
    except ValueError:
        raise InputError("choose an outcome from the list", field="outcome") from None
    if outcome == Outcome.RELEASED:
        raise InputError("choose an outcome from the list", field="outcome")
    day = None
    if _text(form, "date"):
        try:
            day = date.fromisoformat(_text(form, "date"))
        except ValueError:
            raise InputError("must be a date, YYYY-MM-DD", field="date") from None
    channel = None
    if outcome == Outcome.OPTED_OUT and _text(form, "channel"):
        known = [name for name in intake.rt.registry.channels if name != "outbox"]
        channel = normalise_channel(_text(form, "channel"), known)
    note = _text(form, "note") or None
    if note is not None and len(note) > 4000:
        raise InputError("must be at most 4000 characters", field="note")
    return Resolution(outcome, date=day, channel=channel, note=note)
