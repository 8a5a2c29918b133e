"""Champion and challenger: whole strategies split debtors by weight, with a holdout and a guard.

What a strategist relies on: a debtor stays in one strategy for good; the
split follows the weights; the challenger climbs its own ladder; a holdout is
never contacted (or only before the due date); every reminder and debtor says
which strategy it belongs to, so reports can compare them; and a challenger
that makes debtors opt out or complain more than the champion by the guard's
margin takes no new debtors, while those it has keep it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from dunning.core.domain.assignment import assign_strategy
from dunning.core.domain.engine import decide
from dunning.core.domain.guard import StrategyStats, closed_strategies
from dunning.core.domain.model import Event, EventKind, History, IntentState, Learned
from dunning.core.policy.compile import check_policy
from dunning.core.policy.explain import explain
from dunning.core.policy.model import Strategy
from dunning.core.runtime import build_runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import debtors, intents
from dunning.testing.factories import make_case

POLICY = """\
name: split
preset: none
segments:
  - {name: upcoming, when: "days_overdue < 0", ladder: courtesy}
  - {name: all, ladder: gentle}
ladders:
  courtesy:
    start_after: -2d
    steps: [{channel: sms, template: courtesy_notice, wait: 1d}]
    then: repeat_last
  gentle:
    steps: [{channel: sms, template: overdue_notice, wait: 2d}]
strategies:
  champion: {weight: 80}
  challenger:
    weight: 15
    segments: [{name: all, ladder: firm}]
    ladders:
      firm:
        steps:
          - {channel: sms, template: overdue_firm, wait: 1d}
          - {channel: voice, template: overdue_call, wait: 1d}
  holdout: {weight: 5, contact: none}
guard: {opt_out_margin: 0.02, complaint_margin: 0.01, min_contacts: 5}
"""
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the day after the due date


def debtor_in(policy, name: str, skip: int = 0) -> str:
    """A debtor id that the split assigns to strategy ``name`` (the ``skip``-th one found)."""
    found = (f"D-{i}" for i in range(100_000) if assign_strategy(f"D-{i}", policy.strategies).name == name)
    for _ in range(skip):
        next(found)
    return next(found)


weights = st.lists(st.integers(1, 100), min_size=1, max_size=4)


def strategies_of(draw_weights: list[int]) -> tuple[Strategy, ...]:
    return tuple(Strategy(f"s{i}", float(w)) for i, w in enumerate(draw_weights))


@settings(max_examples=200, deadline=None)
@given(debtor=st.text(min_size=1, max_size=40), split=weights, closed=st.sets(st.sampled_from(["s1", "s2"])))
def test_the_same_debtor_always_gets_the_same_strategy(debtor, split, closed):
    # Given any split and any debtor id
    strategies = strategies_of(split)
    # When they are assigned again and again, with the split written out anew each time
    first = assign_strategy(debtor, strategies, frozenset(closed))
    again = assign_strategy(debtor, strategies_of(list(split)), frozenset(closed))
    # Then it is always the same strategy; a closed challenger's newcomer joins the champion
    assert first is not None and again is not None and first.name == again.name
    assert first.name not in closed or first.name == "s0"


@settings(max_examples=25, deadline=None)
@given(split=weights)
def test_many_debtors_split_as_the_weights_say(split):
    # Given a split by any weights, and four thousand debtors
    strategies = strategies_of(split)
    counts = Counter(assign_strategy(f"debtor-{i}", strategies).name for i in range(4000))  # type: ignore[union-attr]
    # Then each strategy's share is its weight's, within three points
    total = sum(split)
    for i, weight in enumerate(split):
        assert abs(counts[f"s{i}"] / 4000 - weight / total) < 0.03, (split, counts)


def test_given_a_debtor_of_any_strategy_then_all_their_loans_and_every_decision_share_it(make_policy):
    policy = make_policy(POLICY)
    for name in ("champion", "challenger", "holdout"):
        debtor = debtor_in(policy, name)
        for case_id, days in (("C-1", 1), ("C-2", 9)):
            case = make_case(case_id=case_id, debtor_id=debtor, due_date=date(2026, 12, 1))
            decision = decide(case, History(), policy, NOW + timedelta(days=days))
            assert decision.strategy == name
            assert {a.strategy for a in decision.actions} == {name}


def test_the_challenger_climbs_its_own_ladder_and_the_champion_the_policy_s(make_policy):
    policy = make_policy(POLICY)
    champion = make_case(debtor_id=debtor_in(policy, "champion"))
    challenger = make_case(debtor_id=debtor_in(policy, "challenger"))
    # When each is explained over four days
    sends = {
        name: [
            (x.action.ladder, x.action.channel)
            for x in explain(case, policy, NOW, 4)
            if x.action.kind == "send"
        ]
        for name, case in (("champion", champion), ("challenger", challenger))
    }
    # Then the champion texts on the policy's gentle ladder, the challenger texts then calls on its own
    assert sends["champion"] == [("gentle", "sms")]
    assert sends["challenger"][:2] == [("challenger/firm", "sms"), ("challenger/firm", "voice")]


def test_a_holdout_is_never_contacted_and_a_courtesy_holdout_only_before_the_due_date(make_policy):
    policy = make_policy(POLICY)
    holdout = make_case(debtor_id=debtor_in(policy, "holdout"), due_date=date(2026, 12, 4))
    lines = explain(holdout, policy, NOW, 10)
    assert [(x.action.kind, x.action.rule) for x in lines] == [("stop", "holdout")]
    # Given a holdout that gets only courtesy reminders
    courteous = make_policy(POLICY.replace("contact: none", "contact: courtesy"))
    actions = [x for x in explain(holdout, courteous, NOW, 10)]
    sends = [x for x in actions if x.action.kind == "send"]
    # Then it is reminded before the due date, and stopped once the loan is overdue
    assert sends and all(x.local.date() < date(2026, 12, 4) for x in sends)
    assert all(x.action.ladder == "courtesy" for x in sends)
    assert actions[-1].action.kind == "stop" and actions[-1].action.rule == "holdout:courtesy"


def test_a_recorded_strategy_is_kept_and_a_closed_challenger_sends_newcomers_to_the_champion(make_policy):
    policy = make_policy(POLICY)
    newcomer = make_case(debtor_id=debtor_in(policy, "challenger"))
    closed = History(learned=Learned(closed_strategies=frozenset({"challenger"})))
    # A newcomer who would have joined the closed challenger joins the champion
    assert decide(newcomer, closed, policy, NOW).strategy == "champion"
    # A debtor already in the challenger keeps it
    assigned = make_case(debtor_id=newcomer.debtor_id, strategy="challenger")
    assert decide(assigned, closed, policy, NOW).strategy == "challenger"
    # A debtor recorded in a strategy the policy no longer has is assigned afresh
    gone = make_case(debtor_id=newcomer.debtor_id, strategy="retired")
    assert decide(gone, History(), policy, NOW).strategy == "challenger"


@pytest.mark.parametrize(
    ("challenger", "closed"),
    [
        (StrategyStats(200, 6, 0), False),  # 3% opted out against the champion's 1%: at the margin
        (StrategyStats(200, 7, 0), True),  # 3.5%: past it
        (StrategyStats(200, 2, 5), False),  # 2.5% complained against 1.5%: at the complaint margin
        (StrategyStats(200, 2, 6), True),  # 3%: past it
        (StrategyStats(199, 50, 50), False),  # too few contacted to judge
    ],
)
def test_the_guard_closes_a_challenger_whose_rates_exceed_the_champion_s_by_the_margin(
    make_policy, challenger, closed
):
    policy = make_policy(POLICY.replace("min_contacts: 5", "min_contacts: 200"))
    stats = {"champion": StrategyStats(1000, 10, 15), "challenger": challenger}
    assert closed_strategies(policy, stats) == (frozenset({"challenger"}) if closed else frozenset())


def test_the_guard_never_judges_before_the_champion_has_enough_contacts(make_policy):
    policy = make_policy(POLICY)
    stats = {"champion": StrategyStats(4, 0, 0), "challenger": StrategyStats(500, 400, 400)}
    assert closed_strategies(policy, stats) == frozenset()


def test_given_a_store_the_tick_records_strategies_and_the_guard_closes_a_challenger_that_upsets_debtors(
    tmp_path, database_url
):
    (tmp_path / "p.yaml").write_text(POLICY)
    now = [NOW]
    rt = build_runtime(
        Settings(database_url=database_url, policy=str(tmp_path / "p.yaml")),
        clock=lambda: now[0],
        dry_run=True,
    )
    try:
        policy = rt.policy
        # Given ten debtors of the champion and ten of the challenger, one loan each
        first = [debtor_in(policy, "champion", i) for i in range(10)]
        first += [debtor_in(policy, "challenger", i) for i in range(10)]
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, [make_case(case_id=f"C-{d}", debtor_id=d) for d in first], NOW)
        # When the scheduler plans their first reminders
        tick(rt)
        # Then every debtor and every reminder says which strategy it belongs to
        with rt.store.read() as conn:
            recorded = dict(conn.execute(select(debtors.c.debtor_id, debtors.c.strategy)).all())
            planned = dict(conn.execute(select(intents.c.debtor_id, intents.c.strategy)).all())
            ladders = dict(conn.execute(select(intents.c.debtor_id, intents.c.ladder)).all())
        assert {d: recorded[d] for d in first} == {d: planned[d] for d in first}
        assert Counter(recorded[d] for d in first) == {"champion": 10, "challenger": 10}
        assert {ladders[d] for d in first if recorded[d] == "challenger"} == {"challenger/firm"}
        # Given the reminders went out, and three of the challenger's debtors opted out
        with rt.store.write() as conn:
            conn.execute(update(intents).values(state=IntentState.SENT))
        for i, debtor in enumerate(d for d in first if recorded[d] == "challenger"):
            if i < 3:
                stop = Event(EventKind.OPT_OUT, NOW, case_id=f"C-{debtor}", channel="sms", event_id=f"o-{i}")
                rt.store.record_event(stop, source="api", now=NOW)
        # When the scheduler learns again (after its refresh interval) and new debtors arrive
        later = [debtor_in(policy, "challenger", 20 + i) for i in range(3)]
        later += [debtor_in(policy, "holdout", i) for i in range(2)]
        now[0] = NOW + timedelta(hours=1)
        with rt.store.write() as conn:
            rt.store.upsert_cases(conn, [make_case(case_id=f"C-{d}", debtor_id=d) for d in later], now[0])
        tick(rt)
        # Then the challenger is closed: its would-be newcomers join the champion, the holdout still fills
        assert rt.learning.learned.closed_strategies == frozenset({"challenger"})
        with rt.store.read() as conn:
            recorded = dict(conn.execute(select(debtors.c.debtor_id, debtors.c.strategy)).all())
        assert [recorded[d] for d in later] == ["champion"] * 3 + ["holdout"] * 2
        # And its debtors keep it
        assert Counter(recorded[d] for d in first) == {"champion": 10, "challenger": 10}
    finally:
        rt.close()


def errors(registry, text: str) -> list[str]:
    found = check_policy(text, file="s.yaml", channels=registry.channel_specs(), presets=registry.presets)
    return [str(p) for p in found if p.severity == "error"]


def test_policy_check_names_the_line_of_a_broken_split(registry):
    # A holdout first: the champion must contact
    holdout_first = POLICY.replace("strategies:\n", "strategies:\n  control: {weight: 5, contact: none}\n")
    assert any(
        "strategies.control.contact: the first strategy is the champion" in e
        for e in errors(registry, holdout_first)
    )
    # A segment naming a ladder neither the strategy nor the policy has
    missing = POLICY.replace("ladder: firm}", "ladder: fierce}")
    assert (
        "s.yaml:17: strategies.challenger.segments[0].ladder: unknown ladder 'fierce' (known: courtesy, firm, gentle)"
        in errors(registry, missing)
    )
    # A weight of zero, and a name that cannot prefix a ladder
    assert any(
        "strategies.champion.weight:" in e
        for e in errors(registry, POLICY.replace("weight: 80", "weight: 0"))
    )
    assert any(
        "strategies.cham/pion: a strategy's name" in e
        for e in errors(registry, POLICY.replace("  champion: {", "  cham/pion: {"))
    )


def test_given_a_store_each_strategy_s_rates_count_its_contacted_debtors_opt_outs_and_complaints(
    database_url,
):
    from dunning.core.store import open_store

    store = open_store(database_url)
    try:
        # Given four debtors of a challenger (three reached, one never) and two of the champion
        people = {"A": "challenger", "B": "challenger", "C": "challenger", "D": "challenger"}
        people |= {"E": "champion", "F": "champion"}
        with store.write() as conn:
            store.upsert_cases(conn, [make_case(case_id=f"C-{d}", debtor_id=d) for d in people], NOW)
            store.record_strategies(conn, people, NOW)
            store.plan_intents(
                conn,
                [
                    {
                        "intent_id": f"i-{d}",
                        "case_id": f"C-{d}",
                        "debtor_id": d,
                        "channel": "sms",
                        "ladder": "l",
                        "segment": "all",
                        "step": 0,
                        "cycle": 0,
                        "seq": 0,
                        "template": "overdue_notice",
                        "strategy": name,
                        "state": IntentState.SENT if d != "D" else IntentState.CANCELLED,
                        "planned_at": NOW,
                        "not_before": NOW,
                        "contact_at": NOW,
                        "attempts": 1,
                        "connected": False,
                        "updated_at": NOW,
                    }
                    for d, name in people.items()
                ],
            )
        # And A opted out, B disputed, C's reply was held as a complaint, E opted out twice
        happenings = [
            Event(EventKind.OPT_OUT, NOW, case_id="C-A", channel="sms", event_id="e-1"),
            Event(EventKind.DISPUTE, NOW, case_id="C-B", event_id="e-2"),
            Event(EventKind.HOLD, NOW, case_id="C-C", reason="complaint", event_id="e-3"),
            Event(EventKind.OPT_OUT, NOW, case_id="C-E", channel="sms", event_id="e-4"),
            Event(EventKind.OPT_OUT, NOW, case_id="C-E", channel="voice", event_id="e-5"),
        ]
        for event in happenings:
            store.record_event(event, source="api", now=NOW)
        # When the rates are counted
        with store.read() as conn:
            stats = store.strategy_stats(conn)
        # Then each counts people, not events, among those its reminders reached
        assert stats == {
            "challenger": StrategyStats(contacted=3, opted_out=1, complained=2),
            "champion": StrategyStats(contacted=2, opted_out=1, complained=0),
        }
    finally:
        store.dispose()
