"""The e-mail channel in a whole deployment, driven as an operator drives it: the dunning CLI and API.

A portfolio with e-mail addresses is imported, a scheduler round decides and
delivers through a real SMTP server, the debtor unsubscribes with one click,
and an opt-out by reply is confirmed by one last e-mail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from dunning_email.fake_smtp import FakeSmtp
from fastapi.testclient import TestClient
from sqlalchemy import select

from dunning.core.api.app import create_app
from dunning.core.cli import cli
from dunning.core.runtime import build_runtime
from dunning.core.settings import load_settings
from dunning.core.store.schema import events, intents

#: The example policy: e-mail first.
POLICY = Path(__file__).resolve().parent.parent / "policy.yaml"
#: 10:00 in Shanghai, three days after the due date.
NOW = "2026-12-04T02:00:00Z"
PORTFOLIO = (
    "case_id,debtor_id,name,phone,email,locale,timezone,account,amount_due,currency,due_date,payment_url\n"
    "CN-1,D-1,王芳,+8613800138000,wang.fang@example.cn,zh-CN,Asia/Shanghai,6222020200112233,3200.00,CNY,"
    "2026-12-01,https://pay.example.com/r/1\n"
    "US-1,D-2,Alex Morgan,+14155552671,alex@example.com,en,America/New_York,4111000000001234,99.00,USD,"
    "2026-12-01,https://pay.example.com/r/2\n"
)


@pytest.fixture
def deployment(tmp_path: Path, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of a deployment whose only configured channel is e-mail."""
    env = {
        **smtp.env(DUNNING_EMAIL_UNSUBSCRIBE_SECRET="s3cret"),
        "DUNNING_DATABASE_URL": f"sqlite:///{tmp_path / 'dunning.db'}",
        "DUNNING_POLICY": str(POLICY),
        "DUNNING_PUBLIC_URL": "https://dunning.example.com",
        "DUNNING_API_TOKENS": "lender-token",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env


def dunning(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_policy_check_passes_with_email_steps_rendered_from_the_shipped_templates():
    result = dunning("policy", "check", str(POLICY))
    assert result.exit_code == 0, result.output
    assert "email/overdue_notice.zh-CN.j2" in result.output and "email/overdue_firm.en.j2" in result.output
    assert f"{POLICY}: ok" in result.output


def test_channels_list_shows_the_email_channel_its_plugin_and_its_settings_masked(deployment):
    result = dunning("channels", "list", "--json")
    email = next(row for row in map(json.loads, result.output.splitlines()) if row["name"] == "email")
    assert (email["plugin"], email["queue"], email["contact_kind"], email["configured"]) == (
        "email",
        "dunning.email",
        "email",
        True,
    )
    settings = email["details"]["settings"]
    assert settings["DUNNING_EMAIL_HOST"] == "127.0.0.1" and settings["DUNNING_EMAIL_STARTTLS"] is False
    assert settings["DUNNING_EMAIL_UNSUBSCRIBE_SECRET"] == "**********"
    assert settings["DUNNING_EMAIL_PASSWORD"] is None


def test_import_then_a_scheduler_round_sends_each_debtor_one_email_in_their_language(
    deployment, smtp, tmp_path
):
    (tmp_path / "portfolio.csv").write_text(PORTFOLIO, encoding="utf-8")
    imported = dunning("import", str(tmp_path / "portfolio.csv"))
    assert imported.exit_code == 0, imported.output
    ticked = dunning("tick", "--now", NOW)
    assert ticked.exit_code == 0, ticked.output
    by_address = {str(m["To"]): m for m in smtp.messages}
    # Then each debtor got one e-mail, in their own language and currency
    assert set(by_address) == {"wang.fang@example.cn", "alex@example.com"}
    chinese = by_address["wang.fang@example.cn"].get_body(preferencelist=("plain",)).get_content()
    assert "王芳您好" in chinese and "¥3,200.00" in chinese and "https://pay.example.com/r/1" in chinese
    english = by_address["alex@example.com"].get_body(preferencelist=("plain",)).get_content()
    assert "Hi Alex Morgan" in english and "$99.00" in english
    # And the same round again sends nothing twice
    assert dunning("tick", "--now", NOW).exit_code == 0
    assert len(smtp.messages) == 2


def test_one_click_unsubscribe_stops_every_email_and_a_scanner_following_the_link_does_not(
    deployment, smtp, tmp_path
):
    (tmp_path / "portfolio.csv").write_text(PORTFOLIO, encoding="utf-8")
    assert dunning("import", str(tmp_path / "portfolio.csv")).exit_code == 0
    assert dunning("tick", "--now", NOW).exit_code == 0
    link = _unsubscribe_link(smtp, "wang.fang@example.cn")
    path = urlsplit(link).path + "?" + urlsplit(link).query
    rt = build_runtime(load_settings())
    try:
        client = TestClient(create_app(rt))
        # A GET (a link scanner, or the debtor's browser) shows a button and changes nothing
        assert client.get(path).status_code == 200
        assert _opt_outs(rt) == []
        # A forged link is refused
        assert (
            client.post(path.replace("sig=", "sig=0"), data={"List-Unsubscribe": "One-Click"}).status_code
            == 403
        )
        # The one-click POST records the opt-out of e-mail, once however often it is clicked
        for _ in range(2):
            answer = client.post(path, data={"List-Unsubscribe": "One-Click"})
            assert answer.status_code == 200
        assert _opt_outs(rt) == [("CN-1", "email")]
    finally:
        rt.close()


def test_an_opt_out_by_reply_is_confirmed_by_one_last_email(deployment, smtp, tmp_path):
    (tmp_path / "portfolio.csv").write_text(PORTFOLIO, encoding="utf-8")
    assert dunning("import", str(tmp_path / "portfolio.csv")).exit_code == 0
    rt = build_runtime(load_settings())
    try:
        client = TestClient(create_app(rt))
        # The lender's mail system reports the debtor's answer "退订" to an e-mail reminder
        event = {
            "event_id": "MAIL-R1",
            "case_id": "CN-1",
            "kind": "reply",
            "channel": "email",
            "text": "退订",
        }
        answer = client.post("/v1/events", json=event, headers={"Authorization": "Bearer lender-token"})
        assert answer.status_code == 200, answer.text
        # Then the e-mail channel, which confirms opt-outs, sends exactly one confirmation
        [mail] = smtp.messages
        assert str(mail["To"]) == "wang.fang@example.cn"
        assert "您已退订还款提醒邮件" in mail.get_body(preferencelist=("plain",)).get_content()
        # recorded on the person, and on the address the answer came from
        assert _opt_outs(rt) == [("CN-1", "email"), ("CN-1", "email")]
        assert _opt_out_addresses(rt) == [None, "wang.fang@example.cn"]
    finally:
        rt.close()


def _unsubscribe_link(smtp: FakeSmtp, address: str) -> str:
    """The one-click link of the e-mail sent to ``address`` (deliveries run in parallel: order varies)."""
    [mail] = [m for m in smtp.messages if str(m["To"]) == address]
    return str(mail["List-Unsubscribe"]).split(",")[0].strip(" <>")


def _opt_out_addresses(rt) -> list[str | None]:
    with rt.store.read() as conn:
        query = select(events.c.address).where(events.c.kind == "opt_out").order_by(events.c.id)
        return list(conn.scalars(query))


def _opt_outs(rt) -> list[tuple[str, str]]:
    with rt.store.read() as conn:
        rows = conn.execute(select(events.c.case_id, events.c.channel).where(events.c.kind == "opt_out"))
        return [(row.case_id, row.channel) for row in rows]


def test_no_reminder_is_left_planned_for_email_after_the_unsubscribe(deployment, smtp, tmp_path):
    (tmp_path / "portfolio.csv").write_text(PORTFOLIO, encoding="utf-8")
    assert dunning("import", str(tmp_path / "portfolio.csv")).exit_code == 0
    assert dunning("tick", "--now", NOW).exit_code == 0
    link = _unsubscribe_link(smtp, "wang.fang@example.cn")
    rt = build_runtime(load_settings())
    try:
        TestClient(create_app(rt)).post(
            urlsplit(link).path + "?" + urlsplit(link).query, data={"List-Unsubscribe": "One-Click"}
        )
    finally:
        rt.close()
    # Three days on (past the step's wait), the next round plans the next step, not another e-mail
    assert dunning("tick", "--now", "2026-12-07T02:00:00Z").exit_code == 0
    rt = build_runtime(load_settings())
    try:
        with rt.store.read() as conn:
            planned = (
                conn.execute(select(intents.c.channel).where(intents.c.case_id == "CN-1")).scalars().all()
            )
    finally:
        rt.close()
    assert planned.count("email") == 1
    assert [str(m["To"]) for m in smtp.messages].count("wang.fang@example.cn") == 1
