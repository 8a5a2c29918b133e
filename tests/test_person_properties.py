"""The engine's promises for a person with several loans and a number shared with someone else.

Random policies, a debtor with one to three loans (some on a family phone
they share with another debtor), and random opt-outs, opt-ins and promises
recorded on the person or on a number — decided as the scheduler decides a
page: each person's loans in priority order, a send of one loan counting for
the others, a loan joining another's message on the same channel at the
same moment. Then, for every send:

- no contact on a channel the person opted out of, on any of their loans;
- no contact on a contact point someone opted out of that channel on;
- no cap exceeded for the person, counting one combined message once;
- a combined message goes on one channel at one moment, to one person.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.core.domain.engine import decide
from dunning.core.domain.model import Contact, ContactStatus, Event, EventKind, History
from dunning.core.domain.situation import opted_out
from dunning.core.store.history import DEBTOR_WIDE, ON_CONTACT_POINT
from dunning.testing.factories import make_case
from dunning.testing.strategies import CHANNELS, DAYS, START, compiled, policies

FAMILY = "+8613800138000"
OWN = "+8613900139002"


@st.composite
def loans(draw):
    """The person's loans (debtor D) and one loan of the other person (E) on the family phone."""
    count = draw(st.integers(1, 3))
    mine = [
        make_case(
            case_id=f"D-{i}",
            debtor_id="D",
            phone=draw(st.sampled_from([FAMILY, OWN])),
            push_token=draw(st.sampled_from([None, "tok-d"])),
            amount_due=draw(st.sampled_from([100, 900, 3200])),
            due_date=(START - timedelta(days=draw(st.integers(1, 10)))).date(),
        )
        for i in range(count)
    ]
    theirs = make_case(case_id="E-0", debtor_id="E", phone=FAMILY, push_token="tok-e")
    return [*mine, theirs]


@st.composite
def rights(draw):
    """Opt-outs, opt-ins and promises, on the person (no address) or on a number."""
    out = []
    for _ in range(draw(st.integers(0, 5))):
        at = START + timedelta(minutes=draw(st.integers(0, DAYS * 24 * 60)))
        kind = draw(st.sampled_from(["opt_out", "opt_out", "opt_in", "promise", "reply"]))
        debtor = draw(st.sampled_from(["D", "E"]))
        case_id = "E-0" if debtor == "E" else "D-0"
        if kind in ("opt_out", "opt_in"):
            address = draw(st.sampled_from([None, FAMILY, OWN]))
            channel = draw(st.sampled_from([*CHANNELS, "all"]))
            out.append(
                Event(
                    EventKind(kind), at, case_id=case_id, debtor_id=debtor, address=address, channel=channel
                )
            )
        elif kind == "promise":
            out.append(
                Event(
                    EventKind.PROMISE,
                    at,
                    case_id=case_id,
                    debtor_id=debtor,
                    date=(at + timedelta(days=2)).date(),
                )
            )
        else:
            out.append(Event(EventKind.REPLY, at, case_id=case_id, debtor_id=debtor, text="ok"))
    return sorted(out, key=lambda e: e.at)


def history_of(case, events, contacts):
    """What the store would load for ``case``: its own events, the person's and its numbers' rights."""
    addresses = {a for a in (case.phone, case.push_token) if a}
    mine = [
        e
        for e in events
        if e.case_id == case.case_id
        or (e.kind in DEBTOR_WIDE and e.debtor_id == case.debtor_id)
        or (e.kind in ON_CONTACT_POINT and e.address in addresses)
    ]
    return History(tuple(mine), tuple(c for c in contacts if c.case_id.startswith(case.debtor_id)))


def simulate(policy, cases, events):
    """Decide every loan whenever it is due, as a tick decides a page; return the sends."""
    contacts: list[Contact] = []
    sends = []
    due = {case.case_id: START for case in cases}
    arrivals = sorted({e.at for e in events})
    now = START
    for _ in range(1500):
        if now > START + timedelta(days=DAYS):
            break
        ready = [c for c in cases if due[c.case_id] is not None and due[c.case_id] <= now]
        ready.sort(
            key=lambda c: (c.debtor_id, -int(c.amount_due) * (now.date() - c.due_date).days, c.case_id)
        )
        for case in ready:
            decision = decide(
                case, history_of(case, [e for e in events if e.at <= now], contacts), policy, now
            )
            for action in decision.sends:
                sends.append((case, action))
                contacts.append(
                    Contact(
                        action.intent_id or "",
                        case.case_id,
                        action.channel or "",
                        action.ladder or "",
                        action.step or 0,
                        action.cycle or 0,
                        action.seq or 0,
                        now,
                        ContactStatus.SENT,
                        message_id=action.message_id,
                    )
                )
            due[case.case_id] = decision.next_check
        for case in cases:  # an event wakes every loan, as recording it does
            if any(now < e.at <= now + timedelta(seconds=1) for e in events):
                due[case.case_id] = now
        candidates = [t for t in due.values() if t is not None and t > now] + [a for a in arrivals if a > now]
        if not candidates:
            break
        now = min(candidates)
    return sends


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(spec=policies(), cases=loans(), events=rights())
def test_rights_and_caps_hold_for_the_person_across_loans_numbers_and_combined_messages(spec, cases, events):
    policy, _ = compiled(spec)
    if policy is None:
        return
    sends = simulate(policy, cases, events)
    for case, action in sends:
        prior = [e for e in events if e.at <= action.at]
        address = case.phone if action.channel in ("sms", "voice") else case.push_token
        # Nothing on a channel the person opted out of, nor on a number opted out of that channel.
        assert not opted_out(prior, case.debtor_id).blocks(action.channel), (case.case_id, action)
        assert not opted_out(prior, case.debtor_id, address).blocks(action.channel), (case.case_id, action)
    # A combined message goes to one person, on one channel, at one moment.
    by_message: dict[str, set] = {}
    for case, action in sends:
        by_message.setdefault(action.message_id or action.intent_id, set()).add(
            (case.debtor_id, action.channel, action.at)
        )
    assert all(len(shape) == 1 for shape in by_message.values())
    # Caps per person, counting a combined message once.
    for cap in policy.rails.caps:
        if cap.count == "connected" or cap.scope != "debtor":
            continue
        for case, action in sends:
            if not cap.applies(action.channel or ""):
                continue
            inside = {
                (a.message_id or a.intent_id)
                for c, a in sends
                if c.debtor_id == case.debtor_id
                and cap.applies(a.channel or "")
                and action.at - cap.per < a.at <= action.at
            }
            assert len(inside) <= cap.max, (cap.rule, action.at)
