"""What comes back from debtors and providers, turned into events and intent states.

One service for the HTTP API, the webhooks, the CLI and the demo: record
lender events (payments, promises, disputes), classify replies, apply
delivery statuses with the channel's own error mapping, and act on keypresses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from dunning.core.channel import OutboundMessage
from dunning.core.content.masking import mask_address
from dunning.core.content.templating import render_context
from dunning.core.domain.model import Case, Event, EventKind, IntentState
from dunning.core.domain.replies import EVERY_CHANNEL, Classification, classify_reply
from dunning.core.domain.responses import event_for_delivery_error, events_for_reply
from dunning.core.domain.zones import candidate_zones
from dunning.core.errors import DeliveryError, InputError, PermanentDeliveryError, TransientDeliveryError
from dunning.core.intake.callbacks import StatusCallback, conversation_event_id
from dunning.core.intake.keys import Namespace, fingerprint, namespaced
from dunning.core.outcome import StatusOutcome
from dunning.core.plugins import each_implementation
from dunning.core.runtime.runtime import Runtime
from dunning.core.runtime.telemetry import count_event
from dunning.core.store.cases import LIVE
from dunning.core.store.events import Recorded

__all__ = ["PER_LOAN", "Intake", "ReplyResult", "Resolution"]

log = logging.getLogger(__name__)

#: How long a transiently undelivered message waits before it goes again.
REDELIVER_AFTER = timedelta(minutes=30)


#: Events that say something of one loan (and reach the person's other loans under ``scope: debtor``).
PER_LOAN = frozenset(
    {
        EventKind.REPLY,
        EventKind.ACK,
        EventKind.PROMISE,
        EventKind.DISPUTE,
        EventKind.HOLD,
        EventKind.PAYMENT_CLAIM,
    }
)


@dataclass(frozen=True)
class Resolution:
    """Whose message it is: the person, the loan it answers, and their loans still being worked."""

    debtor_id: str
    primary: Case
    live: list[Case]


@dataclass
class ReplyResult:
    """What an inbound reply did; ``answer`` is a text to send back at once (HELP), if any."""

    case_id: str | None
    classification: Classification | None
    recorded: list[Recorded] = field(default_factory=list)
    confirmation_sent: bool = False
    answer: str | None = None


class Intake:
    """Applies what arrives to the store, with the runtime's policy and channels."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # ------------------------------------------------------------ lender events

    def record(self, event: Event, *, source: str) -> Recorded:
        """Record one event (its id already namespaced, see :func:`keyed`)."""
        return self.record_groups([[event]], source=source)[0][0]

    def record_groups(
        self, groups: Sequence[Sequence[Event]], *, source: str, debtors: Mapping[str, str] | None = None
    ) -> list[list[Recorded]]:
        """Record groups of events in one transaction, then tell the observers of the new ones.

        ``debtors`` maps the events' cases to their debtors when the caller has just read them.
        """
        recorded = self.rt.store.record_events(groups, source=source, now=self.rt.now(), debtors=debtors)
        for group in recorded:
            for item in group:
                if not item.duplicate:
                    self._notify(item.event)
        return recorded

    def _notify(self, event: Event) -> None:
        """Tell every observer; one that fails is logged and does not stop the others."""
        count_event(self.rt, event.kind)
        for plugin_name, call in each_implementation(self.rt.registry.pm, "dunning_on_event"):
            try:
                call(event=event)
            except Exception:
                log.exception("plugin %s failed to observe a %s event", plugin_name, event.kind)

    # ------------------------------------------------------------ replies

    def resolve(self, address: str) -> Resolution | None:
        """Whose message this is, and which of their loans it answers.

        The loan last messaged on that number, when one was (a shared number's
        reply belongs to the person we last wrote to); else the person the
        number belongs to. A person whose loans are all paid is still found:
        an opt-out from them must be recorded for the next loan.
        """
        store = self.rt.store
        with store.read() as conn:
            last = store.last_messaged(conn, address)
            debtors = [last[1]] if last is not None else store.debtors_at(conn, address)
            if not debtors:
                return None
            ranked = [(d, store.cases_of_debtor(conn, d)) for d in debtors]
            # Several people and no message to tell them apart: the one with a live loan comes first.
            debtor_id, its_cases = max(ranked, key=lambda item: any(s in LIVE for _, s in item[1]))
            if not its_cases:
                return None
            loaded = store.load_cases(conn, [case_id for case_id, _ in its_cases])
        live = [loaded[c][0] for c, status in its_cases if status in LIVE and c in loaded]
        primary_id = last[0] if last is not None and last[0] in loaded else its_cases[0][0]
        primary = loaded[primary_id][0]
        if primary_id not in {c.case_id for c in live} and live:
            primary = live[0]
        return Resolution(debtor_id, primary, live)

    def live_cases_of(self, case: Case) -> list[Case]:
        """The debtor's loans still being worked (the case itself among them when it is)."""
        store = self.rt.store
        with store.read() as conn:
            ids = [c for c, status in store.cases_of_debtor(conn, case.debtor_id) if status in LIVE]
            loaded = store.load_cases(conn, ids)
        return [loaded[c][0] for c in ids if c in loaded]

    def classify(self, case: Case, text: str, at: datetime) -> Classification | None:
        """What the classifier plugins understand of a reply, in the debtor's own calendar."""
        today = at.astimezone(
            candidate_zones(case.timezone, case.phone, self.rt.policy.default_timezone)[0]
        ).date()
        return classify_reply(self.rt.registry.pm, text, case.locale, today)

    def reply_events(
        self,
        case: Case,
        text: str,
        *,
        at: datetime,
        channel: str = "sms",
        event_id: str | None = None,
        fingerprint: str | None = None,
        opt_out_type: str | None = None,
        address: str | None = None,
        others: Sequence[Case] = (),
    ) -> tuple[Classification | None, list[Event]]:
        """A reply and what it implies, as one group of events (not yet recorded).

        ``opt_out_type`` is the provider's own reading of a keyword (Twilio's
        Advanced Opt-Out: STOP, START, HELP): it overrides the classifiers.
        With ``responses.scope: debtor``, what the reply says of the debt (a
        promise, a pause, a hold) reaches ``others``, the person's other live
        loans, too; rights (opt-outs) bind the person and the number once.
        """
        found = _provider_reading(opt_out_type) or self.classify(case, text, at)
        responses = self.rt.policy.responses
        group = events_for_reply(
            found,
            text=text,
            case_id=case.case_id,
            channel=channel,
            at=at,
            address=address or self._address_of(case, channel),
            event_id=event_id,
            category=responses.category,
        )
        if group:
            group[0] = replace(group[0], fingerprint=fingerprint)
        if responses.scope == "debtor":
            per_loan = [e for e in group if e.kind in PER_LOAN]
            for other in others:
                if other.case_id != case.case_id:
                    group += [
                        replace(e, case_id=other.case_id, event_id=None, fingerprint=None) for e in per_loan
                    ]
        return found, group

    def _address_of(self, case: Case, channel: str) -> str | None:
        """The contact point a reply on ``channel`` came from: the one that channel writes to."""
        cls = self.rt.registry.channels.get(channel)
        return case.address(cls.contact_kind) if cls is not None else case.phone

    def inbound(
        self,
        address: str,
        text: str,
        *,
        at: datetime,
        channel: str = "sms",
        event_id: str | None = None,
        fingerprint: str | None = None,
        opt_out_type: str | None = None,
    ) -> ReplyResult | None:
        """A message from a debtor's number: resolved to the person, recorded, confirmed or answered.

        None when the number belongs to no one dunning knows.
        """
        found = self.resolve(address)
        if found is None:
            return None
        return self.reply(
            found.primary,
            text,
            at=at,
            channel=channel,
            event_id=event_id,
            fingerprint=fingerprint,
            opt_out_type=opt_out_type,
            address=address,
            others=found.live,
        )

    def reply(
        self,
        case: Case,
        text: str,
        *,
        at: datetime,
        channel: str = "sms",
        event_id: str | None = None,
        fingerprint: str | None = None,
        opt_out_type: str | None = None,
        source: str = "reply",
        address: str | None = None,
        others: Sequence[Case] | None = None,
    ) -> ReplyResult:
        """Record a reply and what the classifiers understood of it, in one transaction.

        A provider's retry (the same message id) finds all of it recorded, or
        none of it. An opt-out of texts is confirmed once, unless the provider
        confirmed it itself (``opt_out_type``); HELP gets the lender's contact as
        ``answer``, unless the provider answered it. ``others`` are the person's
        other live loans (looked up when not given).
        """
        found, group = self.reply_events(
            case,
            text,
            at=at,
            channel=channel,
            event_id=event_id,
            fingerprint=fingerprint,
            opt_out_type=opt_out_type,
            address=address,
            others=self.live_cases_of(case) if others is None else others,
        )
        result = ReplyResult(case.case_id, found)
        result.recorded = self.record_groups([group], source=source)[0]
        if result.recorded[0].duplicate or found is None:
            return result  # a retried webhook: what the reply stands for was handled the first time
        result.confirmation_sent, result.answer = self.follow_up(
            case, found, at, channel, event_id, provider_answered=bool(opt_out_type)
        )
        return result

    def follow_up(
        self,
        case: Case,
        found: Classification,
        at: datetime,
        channel: str,
        event_id: str | None,
        *,
        provider_answered: bool = False,
    ) -> tuple[bool, str | None]:
        """After a reply was recorded: confirm an opt-out once, or answer HELP.

        Returns whether a confirmation was sent and the answer to send back.
        Nothing when the provider answered the keyword itself (one confirmation only).
        """
        if provider_answered:
            return False, None
        stopped = found.channel or channel
        if (
            found.kind == "opt_out"
            and stopped in (channel, EVERY_CHANNEL)
            and self._confirms_opt_out(channel)
        ):
            return self._confirm_opt_out(case, at, event_id or "", channel), None
        if found.kind == "info":
            return False, self._render_answer(case, at, "help_reply", channel)
        return False, None

    def _confirms_opt_out(self, channel: str) -> bool:
        """Whether the channel says it sends the one confirmation of an opt-out through it."""
        cls = self.rt.registry.channels.get(channel)
        return cls is not None and cls.confirms_opt_out

    def _render_answer(self, case: Case, at: datetime, template: str, channel: str) -> str | None:
        """A short text sent back in the reply itself, rendered for the debtor's locale."""
        if not self.rt.templates.exists(channel, template, case.locale):
            return None
        context = render_context(
            case,
            amount=case.amount_due,
            now=at,
            contact=self.rt.policy.contact,
            default_timezone=self.rt.policy.default_timezone,
        )
        return self.rt.templates.render(channel, template, case.locale, context).body

    def _confirm_opt_out(self, case: Case, at: datetime, key: str, name: str) -> bool:
        """One confirmation through channel ``name`` after an opt-out of it (FCC 24-24 allows exactly one)."""
        if not self.rt.policy.responses.opt_out_confirmation:
            return False
        channel = self.rt.channel(name)
        address = channel.address(case) if channel is not None else None
        if (
            channel is None
            or not address
            or not self.rt.templates.exists(name, "opt_out_confirmation", case.locale)
        ):
            return False
        context = render_context(
            case,
            amount=case.amount_due,
            now=at,
            contact=self.rt.policy.contact,
            default_timezone=self.rt.policy.default_timezone,
        )
        parts = self.rt.registry.channels[name].template_parts
        rendered = self.rt.templates.render(name, "opt_out_confirmation", case.locale, context, parts)
        message = OutboundMessage(
            intent_id=f"optout-{key or case.case_id}"[:64],
            case_id=case.case_id,
            channel=name,
            to=address,
            parts=dict(rendered.parts),
            locale=case.locale,
            data={"case_id": case.case_id, "kind": "opt_out_confirmation"},
        )
        try:
            channel.send(message)
        except DeliveryError as exc:
            log.warning("opt-out confirmation to %s not sent: %s", mask_address(address), exc)
            return False
        return True

    # ------------------------------------------------------------ delivery statuses

    def delivery_status(
        self,
        *,
        intent_id: str | None,
        provider_id: str | None,
        status: str,
        code: str | None = None,
        answered_by: str | None = None,
        sequence: str | None = None,
    ) -> str:
        """Apply a provider's status callback to its intent; return what was done.

        A callback the provider repeats (same id, status and ``sequence``) is
        ``duplicate``: it changes nothing and adds nothing. Every other one is
        a row of the case's timeline, whatever it changes.
        """
        store = self.rt.store
        now = self.rt.now()
        with store.read() as conn:
            row = store.intent(conn, intent_id) if intent_id else None
            if row is None and provider_id:
                row = store.intent_by_provider_id(conn, provider_id)
        if row is None:
            return "unknown_intent"
        callback = StatusCallback(provider_id, status.lower(), code, answered_by, sequence)
        if self._outcome(row.channel, callback.status) is StatusOutcome.FAILED:
            return self._failed(row, callback, now)
        # The case gate, exclusively: a callback that overtakes the provider's answer to the
        # send waits for the delivery to record that answer, instead of being overwritten by it.
        with store.stop_transaction([row.case_id]) as conn:
            current = store.intent(conn, row.intent_id, lock=True)
            if current is None:
                return "unknown_intent"
            if not self._first_time(conn, current, callback, now):
                return "duplicate"
            outcome = self._settle(conn, current, callback, now)
            store.add_attempt(
                conn,
                intent_id=current.intent_id,
                case_id=current.case_id,
                channel=current.channel,
                at=now,
                outcome=f"status:{callback.status}",
                provider_id=provider_id,
                error_code=code,
            )
        return outcome

    def _first_time(self, conn: Any, intent: Any, callback: StatusCallback, now: datetime) -> bool:
        """Note the callback and put it on the timeline, unless it was applied before."""
        key = callback.key(intent.channel)
        store = self.rt.store
        if key is not None and not store.note_callback(
            conn, key, intent_id=intent.intent_id, case_id=intent.case_id, at=now
        ):
            return False
        store.add_audit(conn, [callback.audit_row(intent, now)])
        return True

    def _settle(self, conn: Any, current: Any, callback: StatusCallback, now: datetime) -> str:
        """What a callback that is no failure says of its intent: delivered, or sent after all."""
        store = self.rt.store
        values: dict[str, Any] = {}
        if callback.provider_id and not current.provider_id:
            values["provider_id"] = callback.provider_id
        outcome = "noted"
        meaning = self._outcome(current.channel, callback.status)
        settled = (IntentState.SENT, IntentState.UNKNOWN, IntentState.SENDING)
        if meaning is StatusOutcome.DELIVERED and current.state in (*settled, IntentState.DELIVERED):
            values.update(state=IntentState.DELIVERED, completed_at=current.completed_at or now)
            # Only a person makes a conversation (Reg F): not a machine, a fax, nor a call
            # whose answerer nobody detected. A keypress proves one too (see keypress).
            if callback.by_person and not current.connected:
                values["connected"] = True
                self._conversation(conn, current, now)
            outcome = "delivered"
        elif (
            meaning in (StatusOutcome.ACCEPTED, StatusOutcome.UNANSWERED)
            and current.state == IntentState.UNKNOWN
        ):
            values.update(state=IntentState.SENT, reason="confirmed_by_callback")
            outcome = "sent"
        if values:
            store.update_intent(conn, current.intent_id, now, **values)
        if "state" in values and current.state == IntentState.UNKNOWN:
            store.wake_case(conn, current.case_id, now)  # the ladder waited for this answer
        return outcome

    def _outcome(self, channel: str, status: str) -> StatusOutcome:
        """What the channel says its provider's ``status`` means (``UNKNOWN`` for an unknown channel)."""
        cls = self.rt.registry.channels.get(channel)
        return cls.outcome_of(status) if cls is not None else StatusOutcome.UNKNOWN

    def _conversation(self, conn: Any, intent: Any, now: datetime) -> None:
        """A call a person answered: Reg F's cool-down counts from it (once per call)."""
        event = Event(
            EventKind.CONVERSATION,
            now,
            case_id=intent.case_id,
            channel=intent.channel,
            intent_id=intent.intent_id,
            event_id=conversation_event_id(intent.intent_id),
        )
        self.rt.store.record_provider_event(conn, event, now=now)

    def _failed(self, row: Any, callback: StatusCallback, now: datetime) -> str:
        """A failed delivery: the channel says whether to fall back, invalidate or retry later."""
        status, code = callback.status, callback.code
        channel = self.rt.channel(row.channel)
        error = channel.status_error(code, status) if channel is not None else None
        if error is None:
            error = PermanentDeliveryError(f"provider status {status}", code=code)
        store = self.rt.store
        with store.stop_transaction([row.case_id]) as conn:  # see delivery_status
            current = store.intent(conn, row.intent_id, lock=True)
            if current is None:
                return "ignored"
            if not self._first_time(conn, current, callback, now):
                return "duplicate"
            if current.state not in (IntentState.SENT, IntentState.UNKNOWN, IntentState.SENDING):
                return "ignored"
            store.add_attempt(
                conn,
                intent_id=current.intent_id,
                case_id=current.case_id,
                channel=current.channel,
                at=now,
                outcome=f"status:{status}",
                error_code=code,
                detail=str(error)[:500],
            )
            transient = isinstance(error, TransientDeliveryError)
            if transient and current.attempts < self.rt.settings.max_retries:
                # Not delivered, and surely not twice: it may go again later (a limited number of times).
                store.update_intent(
                    conn,
                    current.intent_id,
                    now,
                    state=IntentState.PLANNED,
                    error_code=code,
                    not_before=now + REDELIVER_AFTER,
                    call_started_at=None,
                    completed_at=None,
                )
                return "redeliver"
            store.update_intent(
                conn,
                current.intent_id,
                now,
                state=IntentState.FAILED,
                error_code=code,
                reason="retries_exhausted" if transient else "undelivered",
                completed_at=now,
            )
            self._provider_event(conn, current, error, now)
            store.wake_case(conn, current.case_id, now)
        return "failed"

    def _provider_event(self, conn: Any, intent: Any, error: DeliveryError, now: datetime) -> None:
        event = event_for_delivery_error(
            error, case_id=intent.case_id, channel=intent.channel, address=intent.address, at=now
        )
        if event is not None:
            self.rt.store.record_provider_event(conn, event, now=now)

    # ------------------------------------------------------------ keypresses and acks

    def keypress(self, intent_id: str, digits: str, *, at: datetime, event_id: str | None = None) -> str:
        """A key pressed during a reminder call: promise, acknowledge, or ask for an agent.

        A key pressed proves a person took the call: a conversation (Reg F), once
        per call. ``event_id`` (the provider's call and keys) makes a retried
        keypress a no-op. Raises ``InputError`` for an intent dunning never made.
        """
        with self.rt.store.read() as conn:
            row = self.rt.store.intent(conn, intent_id)
            if row is None:
                raise InputError(f"unknown intent {intent_id!r}", field="intent_id")
            case = self.rt.store.load_cases(conn, [row.case_id])[row.case_id][0]
        self._person_answered(row.intent_id, row.case_id, at)
        meaning = self.rt.policy.responses.keypress.get(digits.strip()[:1])
        self.record(self._keypress_event(case, intent_id, digits, meaning, at, event_id), source="keypress")
        return meaning or "unknown"

    def _person_answered(self, intent_id: str, case_id: str, at: datetime) -> None:
        """Mark the call connected and record its conversation, unless already done."""
        store = self.rt.store
        with store.stop_transaction([case_id]) as conn:
            current = store.intent(conn, intent_id, lock=True)
            if current is None or current.connected:
                return
            store.update_intent(conn, intent_id, at, connected=True)
            self._conversation(conn, current, at)

    def _keypress_event(
        self, case: Case, intent_id: str, digits: str, meaning: str | None, at: datetime, event_id: str | None
    ) -> Event:
        """The event a key stands for: a promise (with its date), a hand-off, an ack, or a reply."""
        common: dict[str, Any] = {
            "case_id": case.case_id,
            "channel": "voice",
            "intent_id": intent_id,
            "text": f"key {digits}",
            "event_id": event_id,
        }
        if meaning == "handoff":
            return Event(EventKind.HANDOFF, at, **common)
        if meaning == "promise":
            zone = candidate_zones(case.timezone, case.phone, self.rt.policy.default_timezone)[0]
            day = at.astimezone(zone).date() + timedelta(days=self.rt.policy.responses.promise_days)
            return Event(EventKind.PROMISE, at, date=day, **common)
        if meaning is None:
            return Event(EventKind.REPLY, at, **common)
        return Event(EventKind.ACK, at, **common)

    def push_ack(self, intent_id: str, *, at: datetime, event_id: str | None = None) -> Recorded:
        """The lender's app reports that the debtor opened a reminder push."""
        with self.rt.store.read() as conn:
            row = self.rt.store.intent(conn, intent_id)
        if row is None:
            raise InputError(f"unknown intent {intent_id!r}", field="intent_id")
        event = Event(
            EventKind.ACK,
            at,
            case_id=row.case_id,
            channel=row.channel,
            intent_id=intent_id,
            event_id=namespaced(Namespace.PUSH, event_id),
            text="push opened",
            fingerprint=fingerprint({"intent_id": intent_id}),
        )
        return self.record(event, source="push_ack")


#: Twilio Advanced Opt-Out's ``OptOutType`` values, as the classification they stand for.
_PROVIDER_READINGS = {"STOP": "opt_out", "START": "opt_in", "HELP": "info"}


def _provider_reading(opt_out_type: str | None) -> Classification | None:
    kind = _PROVIDER_READINGS.get((opt_out_type or "").strip().upper())
    return Classification(kind, None, "provider") if kind else None
