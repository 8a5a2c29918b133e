"""The engine's promises, proven over random policies, cases, histories and start times.

For any policy a strategist can write, any debtor and any sequence of events:
- no contact inside quiet hours in any zone the debtor may be in;
- no cap exceeded in any window (including the debtor's other loans);
- no debtor contacted more than the policy's daily ceiling in any rolling day;
- nothing after a payment in full, inside a dispute hold, on an opted-out
  channel, to an invalidated number, or inside a conversation cool-down;
- the same inputs give the same actions, and intent ids never repeat;
- every deferral, suppression, stop and hold names its rule.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunning.core.domain.model import Contact, Event, EventKind
from dunning.core.domain.zones import candidate_zones
from dunning.core.policy.explain import explain
from dunning.testing.factories import make_case
from dunning.testing.strategies import (
    CHANNELS,
    DAYS,
    DEFAULT_CEILING,
    START,
    compiled,
    phones,
    policies,
    zones,
)


@st.composite
def events(draw):
    out = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(
            st.sampled_from(
                [
                    "payment",
                    "promise",
                    "reply",
                    "ack",
                    "dispute",
                    "resume",
                    "opt_out",
                    "wrong_number",
                    "conversation",
                    "close",
                ]
            )
        )
        at = START + timedelta(minutes=draw(st.integers(0, DAYS * 24 * 60)))
        kw: dict = {}
        if kind == "payment":
            kw["amount"] = draw(st.sampled_from([None, Decimal("100"), Decimal("3200")]))
        if kind == "promise":
            kw["date"] = (at + timedelta(days=draw(st.integers(0, 5)))).date()
        if kind == "close":
            kw["text"] = draw(st.sampled_from(["written_off", "settled", "fraud"]))
        if kind in ("opt_out", "wrong_number"):
            kw["channel"] = draw(
                st.sampled_from([*CHANNELS, "all"] if kind == "opt_out" else ["sms", "voice"])
            )
        out.append(Event(kind=EventKind(kind), at=at, case_id="C-1", **kw))
    return out


@st.composite
def other_loans(draw):
    """Contacts the same debtor already had about another loan."""
    return [
        Contact(
            intent_id=f"other-{i}",
            case_id="C-2",
            channel=draw(st.sampled_from(CHANNELS)),
            ladder="l",
            step=0,
            cycle=0,
            seq=i,
            at=START - timedelta(hours=draw(st.integers(0, 72))),
        )
        for i in range(draw(st.integers(0, 3)))
    ]


def run(spec, case, evs, others):
    policy, _ = compiled(spec)
    if policy is None:
        return None, []
    lines = list(_run_with(policy, case, evs, others))
    return policy, lines


def _run_with(policy, case, evs, others):
    """explain(), but with the debtor's other loans in the history."""
    from dunning.core.domain.engine import decide
    from dunning.core.domain.model import History
    from dunning.core.policy.explain import _contact

    history = History(events=tuple(sorted(evs, key=lambda e: e.at)), contacts=tuple(others))
    arrivals = sorted({e.at for e in evs if e.at > START})
    now = START
    for _ in range(2000):
        if now > START + timedelta(days=DAYS):
            return
        decision = decide(case, history, policy, now)
        for action in decision.actions:
            yield action
            if action.kind == "send":
                history = history.with_contact(_contact(case, action))
        nexts = [t for t in (decision.next_check, next((a for a in arrivals if a > now), None)) if t]
        if not nexts:
            return
        assert min(nexts) > now, "the engine must always move time forward"
        now = min(nexts)


cases = st.builds(
    lambda phone, tz, push: make_case(phone=phone, timezone=tz, push_token=push),
    phones,
    zones,
    st.sampled_from([None, "tok-1"]),
)

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(spec=policies(), case=cases, evs=events(), others=other_loans())
def test_every_promise_holds(spec, case, evs, others):
    policy, actions = run(spec, case, evs, others)
    if policy is None:
        return
    sends = [a for a in actions if a.kind == "send"]
    zones_ = candidate_zones(case.timezone, case.phone, policy.default_timezone)

    # Every deferral, suppression, stop and hold says which rule caused it.
    for a in actions:
        if a.kind != "send":
            assert a.rule, a

    for s in sends:
        # Quiet hours, in every zone the debtor may be in.
        for zone in zones_:
            local = s.at.astimezone(zone).time()
            for window in policy.rails.quiet:
                assert not (window.applies(s.channel) and window.contains(local)), (s, zone, window)
        # Nothing after a payment in full, a dispute, a full opt-out; nothing on an opted-out channel.
        prior = [e for e in evs if e.at <= s.at]
        paid = sum((e.amount for e in prior if e.kind == EventKind.PAYMENT and e.amount), Decimal(0))
        assert not any(e.kind == EventKind.PAYMENT and e.amount is None for e in prior)
        assert paid < case.amount_due
        assert not any(e.kind == EventKind.OPT_OUT and e.channel in (s.channel, "all") for e in prior)
        # Nothing after a person closed the case for good (written off, settled, ...).
        assert not any(e.kind == EventKind.CLOSE for e in prior)
        holds = [
            e
            for e in sorted(prior, key=lambda e: e.at)
            if e.kind in (EventKind.DISPUTE, EventKind.HANDOFF, EventKind.RESUME)
        ]
        assert not holds or holds[-1].kind == EventKind.RESUME
        if s.channel in ("sms", "voice"):
            assert not any(e.kind == EventKind.WRONG_NUMBER for e in prior)
        # No call within a cool-down after a conversation.
        for cd in policy.rails.cooldowns:
            if cd.applies(s.channel):
                days = cd.period.days  # whole days: the conversation's day is day 1
                for e in prior:
                    if e.kind == EventKind.CONVERSATION:
                        for zone in zones_:
                            first_free = e.at.astimezone(zone).date() + timedelta(days=days)
                            assert s.at.astimezone(zone).date() >= first_free, (s, e, cd.rule)

    # No cap exceeded in any window, counting the debtor's other loans too.
    contacts = [(c.at, c.channel, c.case_id) for c in others] + [(s.at, s.channel, "C-1") for s in sends]
    for cap in policy.rails.caps:
        if cap.count == "connected":
            continue  # no call in a dry run is answered; attempt caps are the binding ones
        for s in sends:
            if not cap.applies(s.channel):
                continue
            inside = [
                c
                for c in contacts
                if s.at - cap.per < c[0] <= s.at
                and cap.applies(c[1])
                and (cap.scope == "debtor" or c[2] == "C-1")
            ]
            assert len(inside) <= cap.max, (cap.rule, s.at)

    # No debtor is contacted more than the ceiling in any rolling day, across all their loans.
    ceiling = (spec.get("limits") or {}).get("daily_contacts", DEFAULT_CEILING)
    for s in sends:
        assert sum(1 for c in contacts if s.at - timedelta(days=1) < c[0] <= s.at) <= ceiling, s.at

    # Intent ids never repeat.
    ids = [s.intent_id for s in sends]
    assert len(ids) == len(set(ids))


@settings(max_examples=60, deadline=None)
@given(spec=policies(), case=cases, evs=events(), start_offset=st.integers(0, 30 * 24))
def test_same_inputs_give_the_same_actions(spec, case, evs, start_offset):
    policy, _ = compiled(spec)
    if policy is None:
        return
    start = START + timedelta(hours=start_offset)
    first = explain(case, policy, start, 10, evs)
    second = explain(case, policy, start, 10, list(reversed(evs)))
    assert [line.action for line in first] == [line.action for line in second]


@settings(max_examples=150, deadline=None)
@given(spec=policies())
def test_random_policies_compile_or_name_their_problem(spec):
    policy, problems = compiled(spec)
    errors = [p for p in problems if p.severity == "error"]
    assert (policy is None) == bool(errors)
    for problem in errors:
        assert problem.line >= 1 and problem.field, problem
