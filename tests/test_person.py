"""The person, not the loan: rights on people and numbers, replies resolved to the person, one message.

Driven as debtors and lenders do it — signed Twilio webhooks and the API —
over a dry-run deployment (the outbox channel records each message), on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.core.api import create_app
from dunning.core.domain.model import Event, EventKind
from dunning.core.reporting.timeline import timeline
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.settings import Settings
from dunning.core.store.schema import intents, outbox_messages
from dunning.testing.api import bearer, post_signed_form
from dunning.testing.factories import make_case

POLICY = """
name: person
preset: none
quiet_hours: {start: "21:00", end: "08:00"}
caps: [{channel: any, max: 3, per: 1d, scope: debtor}]
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 1d}
      - {channel: push, template: overdue_notice, wait: 1d}
      - {channel: voice, template: overdue_call, wait: 1d}
    then: repeat_last
"""
TOKEN = "person-token"
AUTH = "twilio-auth"
PUBLIC = "https://dunning.example.com"
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
FAMILY = "+8613800138000"
OWN = "+8613900139002"
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Deployment:
    """A dry-run deployment on a simulated clock: tick, deliver, and call its API and webhooks."""

    def __init__(self, tmp_path, database_url: str, policy: str = POLICY) -> None:
        (tmp_path / "p.yaml").write_text(policy)
        settings = Settings(
            database_url=database_url,
            policy=str(tmp_path / "p.yaml"),
            api_tokens=[TOKEN],
            public_url=PUBLIC,
            twilio_auth_token=AUTH,
        )
        self.clock = [NOW]
        self.rt = build_runtime(settings, clock=lambda: self.clock[0], dry_run=True)
        self.runner = Embedded(self.rt, threads=1)
        self.runner.start()
        self.client = TestClient(create_app(self.rt), base_url=PUBLIC)
        self.sids = 0

    def close(self) -> None:
        self.runner.stop()
        self.client.close()
        self.rt.close()

    def cases(self, *cases) -> None:
        with self.rt.store.write() as conn:
            self.rt.store.upsert_cases(conn, list(cases), self.clock[0])

    def at(self, moment: datetime) -> None:
        self.clock[0] = moment
        self.runner.step()

    def text_in(self, body: str, sender: str = FAMILY):
        """A debtor texts us, a minute after whatever happened last (replies come after reminders)."""
        self.clock[0] += timedelta(minutes=1)
        self.sids += 1
        params = {"MessageSid": f"SM{self.sids:032d}", "From": sender, "To": "+10000000000", "Body": body}
        return post_signed_form(self.client, PUBLIC, "/webhooks/twilio/sms/inbound", params, AUTH)

    def post(self, path: str, body: dict):
        return self.client.post(path, json=body, headers=bearer(TOKEN))

    def intents_of(self, case_id: str) -> list:
        with self.rt.store.read() as conn:
            query = (
                select(intents)
                .where(intents.c.case_id == case_id)
                .order_by(intents.c.planned_at, intents.c.seq)
            )
            return list(conn.execute(query))

    def messages(self) -> list:
        with self.rt.store.read() as conn:
            return list(conn.execute(select(outbox_messages).order_by(outbox_messages.c.id)))

    def standing(self, debtor_id: str) -> dict:
        response = self.client.get(f"/v1/debtors/{debtor_id}", headers=bearer(TOKEN))
        assert response.status_code == 200, response.text
        return response.json()

    def holds(self, case_id: str) -> list[str]:
        return [e.rule or "" for e in timeline(self.rt.store, case_id) or [] if e.action == "hold"]


@pytest.fixture
def world(tmp_path, database_url) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, database_url)
    yield deployment
    deployment.close()


def loan(case_id: str, debtor_id: str, **fields):
    fields.setdefault("due_date", date(2026, 11, 30))
    return make_case(case_id=case_id, debtor_id=debtor_id, **fields)


# ------------------------------------------------------------------ rights on the person and the number


def test_given_a_family_phone_when_stop_arrives_then_texts_stop_for_everyone_on_it(world):
    # Two debtors share a family phone; the mother also has a push token of her own.
    world.cases(loan("M-1", "MOTHER", phone=FAMILY), loan("S-1", "SON", phone=FAMILY, push_token=None))
    world.at(NOW)
    assert {i.channel for i in world.intents_of("M-1")} == {"sms"}
    assert world.text_in("STOP").status_code == 200
    world.at(NOW + timedelta(days=1, hours=1))
    world.at(NOW + timedelta(days=2, hours=1))
    # Then no further text goes to that number, for either of them; the mother's push goes on.
    texts_after = [m for m in world.messages() if m.channel == "sms" and m.at > NOW + timedelta(minutes=5)]
    assert [m.parts["body"][:6] for m in texts_after if "退订" not in m.parts] == []
    assert "push" in {i.channel for i in world.intents_of("M-1")}
    # The scheduler itself plans no text to that number for either of them: nothing waits to be
    # suppressed at the last moment (both loans are decided in one page of the tick).
    later = [
        i for c in ("M-1", "S-1") for i in world.intents_of(c) if i.planned_at > NOW + timedelta(minutes=5)
    ]
    assert later and all(i.channel != "sms" for i in later)
    for debtor in ("MOTHER", "SON"):
        point = next(p for p in world.standing(debtor)["contact_points"] if p["kind"] == "phone")
        assert point["channels"]["sms"] == "opted_out"
        assert point["shared_with"] == (["SON"] if debtor == "MOTHER" else ["MOTHER"])
        assert FAMILY not in json.dumps(world.standing(debtor))  # numbers are shown masked
    # Both were texted at that moment: the STOP answers one of them, and the other's timeline
    # shows it as recorded on the number they share.
    answered = [c for c in ("M-1", "S-1") if "reply" in [e.action for e in timeline(world.rt.store, c) or []]]
    (other,) = {"M-1", "S-1"} - set(answered)
    bound = [e for e in timeline(world.rt.store, other) or [] if e.action == "opt_out"]
    assert [e.rule for e in bound] == ["shared_number"]


def test_given_all_loans_paid_when_stop_arrives_then_a_later_loan_is_never_texted(world):
    world.cases(loan("P-1", "PAID", phone=OWN, push_token=None))
    world.at(NOW)
    world.post("/v1/events", {"event_id": "pay", "case_id": "P-1", "kind": "payment"})
    assert world.text_in("退订", sender=OWN).status_code == 200
    assert world.standing("PAID")["opted_out"] == ["sms"]
    # Months later the same person takes a new loan, and falls behind on it.
    world.cases(loan("P-2", "PAID", phone=OWN, push_token=None, due_date=date(2027, 3, 1)))
    world.at(datetime(2027, 3, 3, 2, 0, tzinfo=UTC))
    assert [i.channel for i in world.intents_of("P-2")] == ["voice"]  # texts stay stopped


def test_given_stop_calling_me_by_text_then_calls_stop_and_texts_go_on(world):
    world.cases(loan("C-1", "D-1", phone=OWN))
    world.at(NOW)
    assert world.text_in("别再给我打电话了", sender=OWN).status_code == 200
    assert world.standing("D-1")["opted_out"] == ["voice"]
    for day in range(1, 6):
        world.at(NOW + timedelta(days=day, hours=1))
    channels = [i.channel for i in world.intents_of("C-1")]
    # The ladder goes on by text and push; the call rung is passed over every time.
    assert "voice" not in channels and channels.count("sms") >= 1 and "push" in channels


def test_given_stop_all_contact_then_every_channel_stops_for_the_person(world):
    world.cases(loan("C-1", "D-1", phone=OWN), loan("C-2", "D-1", phone=OWN, due_date=date(2026, 11, 20)))
    world.at(NOW)
    assert world.text_in("please stop all contact", sender=OWN).status_code == 200
    assert world.standing("D-1")["ceased"] is True
    before = len(world.messages())
    for day in range(1, 4):
        world.at(NOW + timedelta(days=day, hours=1))
    assert len(world.messages()) == before


# ------------------------------------------------------------------ replies resolve to the person


def test_given_a_reply_then_it_answers_the_loan_last_messaged_and_pauses_all_the_persons_loans(world):
    world.cases(
        loan("OLD", "D-1", phone=OWN, push_token=None, due_date=date(2026, 11, 1)),
        loan("NEW", "D-1", phone=OWN, push_token=None),
    )
    world.at(NOW)
    assert world.text_in("明天还", sender=OWN).status_code == 200
    world.at(NOW + timedelta(minutes=5))
    for case_id in ("OLD", "NEW"):
        assert world.holds(case_id)[-1] == "promise"  # both loans wait for the promise


def test_given_scope_case_then_a_promise_pauses_only_the_loan_it_answers(tmp_path, database_url):
    world = Deployment(tmp_path, database_url, POLICY + "responses: {scope: case}\n")
    try:
        world.cases(
            loan("A", "D-1", phone=OWN, push_token=None, amount_due=Decimal("9000")),
            loan("B", "D-1", phone=OWN, push_token=None, amount_due=Decimal("100")),
        )
        world.at(NOW)
        owner = next(i for i in world.intents_of("A") if i.message_id == i.intent_id)
        assert owner.case_id == "A"  # the larger loan owns the combined text
        world.text_in("明天还", sender=OWN)
        world.at(NOW + timedelta(minutes=5))
        assert world.holds("A")[-1:] == ["promise"] and "promise" not in world.holds("B")
    finally:
        world.close()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("我请了律师，有事找我的律师", "attorney"),
        ("I have a lawyer, talk to my attorney", "attorney"),
        ("我已经申请个人破产了", "bankruptcy"),
        ("I filed for bankruptcy last week", "bankruptcy"),
        ("我已经投诉到金融监管局了", "complaint"),
        ("I reported you to the CFPB", "complaint"),
        ("实在还不上，失业了", "hardship"),
        ("I lost my job and can't pay", "hardship"),
        ("机主已去世", "deceased"),
        ("He passed away last month", "deceased"),
        ("不是我借的", "dispute"),
        ("this is not my debt", "dispute"),
    ],
)
def test_given_a_reply_that_needs_a_person_then_the_case_is_held_with_its_reason(world, text, reason):
    world.cases(loan("C-1", "D-1", phone=OWN, push_token=None))
    world.at(NOW)
    assert world.text_in(text, sender=OWN).status_code == 200
    world.at(NOW + timedelta(minutes=5))
    assert world.holds("C-1")[-1] == reason
    got = world.client.get("/v1/cases/C-1", headers=bearer(TOKEN)).json()
    assert got["status"] == "held"
    for day in (1, 3, 7):
        world.at(NOW + timedelta(days=day))
    assert len(world.intents_of("C-1")) == 1  # no one is contacted until a person resumes it


@pytest.mark.parametrize("text", ["已还款", "I already paid"])
def test_given_a_claimed_payment_then_it_is_held_until_the_payment_arrives(world, text):
    world.cases(loan("C-1", "D-1", phone=OWN, push_token=None), loan("C-2", "D-2", phone=FAMILY))
    world.at(NOW)
    world.text_in(text, sender=OWN)
    world.text_in(text, sender=FAMILY)
    world.at(NOW + timedelta(minutes=5))
    assert world.holds("C-1")[-1] == "payment_claimed" == world.holds("C-2")[-1]
    # C-1's payment arrives within the window: paid, nothing more. C-2's never does: the ladder resumes.
    world.post("/v1/events", {"event_id": "p1", "case_id": "C-1", "kind": "payment"})
    world.at(NOW + timedelta(days=3, hours=1))
    world.at(NOW + timedelta(days=3, hours=2))
    assert len(world.intents_of("C-1")) == 1
    assert len(world.intents_of("C-2")) == 2


# ------------------------------------------------------------------ promises


def test_given_promises_past_the_limit_then_the_fourth_goes_to_a_person(world):
    world.cases(loan("C-1", "D-1", phone=OWN, push_token=None))
    world.at(NOW)
    for n in range(4):
        moment = NOW + timedelta(days=5 * n, hours=1)
        world.clock[0] = moment
        day = (moment + timedelta(days=2)).date().isoformat()
        body = {"event_id": f"pr-{n}", "case_id": "C-1", "kind": "promise", "date": day}
        assert world.post("/v1/events", body).status_code == 200
        world.at(moment + timedelta(minutes=1))
    assert world.holds("C-1")[-1] == "promise_limit"


# ------------------------------------------------------------------ one reminder per person


def test_given_three_loans_due_together_then_one_combined_text_goes_out(world):
    world.cases(
        *[
            loan(
                f"L-{i}", "D-1", phone=OWN, push_token=None, account=f"62220200001{i}", amount_due=Decimal(a)
            )
            for i, a in enumerate(["100.00", "2500.00", "800.00"])
        ]
    )
    world.at(NOW)
    texts = [m for m in world.messages() if m.channel == "sms"]
    assert len(texts) == 1
    body = texts[0].parts["body"]
    assert "3笔借款" in body and "3,400.00" in body
    loans = [i for c in ("L-0", "L-1", "L-2") for i in world.intents_of(c)]
    assert {i.state for i in loans} == {"sent"} and len({i.message_id for i in loans}) == 1
    owner = next(i for i in loans if i.message_id == i.intent_id)
    assert owner.case_id == "L-1"  # the largest, most overdue loan leads


def test_given_a_cap_tighter_than_the_loans_then_it_is_spent_on_the_biggest(tmp_path, database_url):
    policy = POLICY.replace("max: 3, per: 1d", "max: 1, per: 1d") + "combine: false\n"
    world = Deployment(tmp_path, database_url, policy)
    try:
        world.cases(
            loan("A-small", "D-1", phone=OWN, push_token=None, amount_due=Decimal("50")),
            loan("Z-big", "D-1", phone=OWN, push_token=None, amount_due=Decimal("9000")),
        )
        world.at(NOW)
        assert [i.case_id for i in world.intents_of("Z-big")] == ["Z-big"]
        assert world.intents_of("A-small") == []
    finally:
        world.close()


def test_given_a_loan_paid_before_the_combined_text_goes_then_the_text_leaves_it_out(world):
    world.cases(
        loan(
            "L-0", "D-1", phone=OWN, push_token=None, amount_due=Decimal("9000"), account="6222020000000001"
        ),
        loan("L-1", "D-1", phone=OWN, push_token=None, amount_due=Decimal("100"), account="6222020000000002"),
    )
    # Planned together (nothing handed to the broker yet), delivered after L-1 is paid:
    # the one text names L-0 only.
    from dunning.core.runtime.scheduler import tick

    broker, world.rt.dispatcher = world.rt.dispatcher, None
    tick(world.rt, NOW)
    world.rt.store.record_event(Event(EventKind.PAYMENT, NOW, case_id="L-1"), source="test", now=NOW)
    world.rt.dispatcher = broker
    world.runner.step()
    (text,) = [m for m in world.messages() if m.channel == "sms"]
    body = text.parts["body"]
    assert "0001" in body and "0002" not in body
    assert [i.state for i in world.intents_of("L-1")] == ["cancelled"]


# ------------------------------------------------------------------ before the due date, real deadlines

PRE_DUE = """
name: courtesy
preset: china
deadline: {from: due_date, after: 7d}
segments:
  - {name: upcoming, when: "days_overdue < 0", ladder: courtesy}
  - {name: overdue, ladder: l}
ladders:
  courtesy:
    start_after: -3d
    steps:
      - {channel: sms, template: courtesy_notice, wait: 2d}
      - {channel: sms, template: courtesy_notice, wait: 1d}
  l:
    start_after: 1d
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""


def test_given_a_courtesy_ladder_then_reminders_go_before_the_due_date_with_a_fixed_deadline(
    tmp_path, database_url
):
    world = Deployment(tmp_path, database_url, PRE_DUE)
    try:
        world.cases(loan("C-1", "D-1", phone=OWN, push_token=None, due_date=date(2026, 12, 10)))
        for day in (7, 9, 12, 14):  # D-3, D-1, D+2, D+4 at 10:00 in Shanghai
            world.at(datetime(2026, 12, day, 2, 0, tzinfo=UTC))
        bodies = [m.parts["body"] for m in world.messages()]
        assert len(bodies) == 3
        assert "还款日为2026年12月10日" in bodies[0] and "还款日为明天" in bodies[1]
        assert "逾期" in bodies[2] and "2026年12月17日前" in bodies[2]  # due date + 7 days, fixed
    finally:
        world.close()


def test_given_a_courtesy_ladder_then_policy_explain_shows_the_reminders_before_the_due_date(make_policy):
    from dunning.core.policy.explain import explain

    policy = make_policy(PRE_DUE)
    case = loan("C-1", "D-1", phone=OWN, push_token=None, due_date=date(2026, 12, 10))
    lines = explain(case, policy, datetime(2026, 12, 1, tzinfo=UTC), 14)
    sends = [
        (a.at.astimezone(SHANGHAI).date(), a.template)
        for a in (line.action for line in lines)
        if a.kind == "send"
    ]
    assert sends[:3] == [
        (date(2026, 12, 7), "courtesy_notice"),  # D-3
        (date(2026, 12, 9), "courtesy_notice"),  # D-1
        (date(2026, 12, 11), "overdue_notice"),  # the day after the due date
    ]


def test_given_a_family_phone_stopped_then_the_scheduler_plans_no_text_there_for_anyone(
    tmp_path, database_url
):
    # A ladder that texts every day: whoever the STOP is attributed to, neither debtor on the
    # family phone may be planned a text there again (not even one suppressed at the last moment).
    policy = POLICY.replace(
        "- {channel: sms, template: overdue_notice, wait: 1d}",
        "- {channel: sms, template: overdue_notice, wait: 1d, repeat: 5}",
    )
    world = Deployment(tmp_path, database_url, policy)
    try:
        world.cases(
            loan("M-1", "MOTHER", phone=FAMILY, push_token=None),
            loan("S-1", "SON", phone=FAMILY, push_token=None),
        )
        world.at(NOW)
        assert world.text_in("STOP").status_code == 200
        stopped = world.clock[0]
        for day in (1, 2, 3):
            world.at(NOW + timedelta(days=day, hours=1))
        later = [i for c in ("M-1", "S-1") for i in world.intents_of(c) if i.planned_at > stopped]
        assert later and {i.channel for i in later} == {"voice"}
    finally:
        world.close()
