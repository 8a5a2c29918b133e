"""The main job from the command line: import, tick, event, timeline, demo."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "DUNNING_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}",
        "DUNNING_POLICY": str(EXAMPLES / "policy.yaml"),
        "DUNNING_DRY_RUN": "true",
    }


def dunning(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("dunning"))
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=180, cwd=cwd)


def test_import_reports_bad_rows_by_line_and_lands_the_good_ones(env, tmp_path):
    result = dunning(
        env, "import", str(EXAMPLES / "portfolio.csv"), "--rejects", str(tmp_path / "rejects.csv")
    )
    # Some rows were rejected: the exit status tells a script so (the good rows landed)
    assert result.returncode == 1, result.stderr
    assert "32 row(s): 27 inserted, 0 updated, 5 rejected" in result.stdout
    assert f"{EXAMPLES / 'portfolio.csv'}:13: currency: 'RMBX' is not an ISO 4217 currency" in result.stderr
    assert "rejects" and (tmp_path / "rejects.csv").read_text(encoding="utf-8").count("\n") == 6
    again = dunning(env, "import", str(EXAMPLES / "portfolio.csv"))
    assert "0 inserted, 27 updated, 5 rejected" in again.stdout


def test_tick_event_timeline_from_the_command_line(env):
    assert dunning(env, "import", str(EXAMPLES / "portfolio.csv")).returncode == 1  # 5 bad rows
    # 2 December, 10:00 in Shanghai: lawful for the Chinese debtors
    first = dunning(env, "tick", "--now", "2026-12-02T02:00:00Z")
    assert first.returncode == 0, first.stderr
    assert "CN-1001   → sms" in first.stdout  # the dry run shows what would have been sent
    paid = dunning(env, "event", "CN-1001", "payment", "--amount", "1200.00", "--at", "2026-12-02T03:00:00Z")
    assert paid.returncode == 0, paid.stderr
    assert "payment recorded for CN-1001" in paid.stdout and "case paid" in paid.stdout
    later = dunning(env, "tick", "--now", "2026-12-09T02:00:00Z")
    assert "CN-1001 " not in later.stdout  # nothing after the payment
    lines = [json.loads(x) for x in dunning(env, "timeline", "CN-1001", "--json").stdout.splitlines()]
    kinds = [(x["kind"], x["action"]) for x in lines]
    assert ("intent", "sent") in kinds and ("event", "payment") in kinds
    assert kinds.index(("event", "payment")) > kinds.index(("intent", "sent"))
    assert dunning(env, "timeline", "NOPE").returncode != 0


def test_a_reply_is_classified_and_steers_the_case(env):
    dunning(env, "import", str(EXAMPLES / "portfolio.csv"))
    result = dunning(env, "event", "CN-1003", "reply", "--text", "退订", "--at", "2026-12-02T03:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "reply recorded" in result.stdout and "opt_out recorded" in result.stdout


def test_a_reply_from_the_command_line_is_confirmed_as_from_a_webhook(env):
    # Given an operator recording a debtor's 退订 by hand, then the same opt-out confirmation text
    # goes out once (the dry run's outbox records it), as for a reply through Twilio's webhook.
    dunning(env, "import", str(EXAMPLES / "portfolio.csv"))
    dunning(env, "event", "CN-1003", "reply", "--text", "退订", "--event-id", "R-1")
    again = dunning(env, "event", "CN-1003", "reply", "--text", "退订", "--event-id", "R-1")
    assert "(already recorded)" in again.stdout
    timeline = dunning(env, "timeline", "CN-1003", "--json")
    actions = [json.loads(line)["action"] for line in timeline.stdout.splitlines()]
    assert actions.count("opt_out") == 2  # once on the person, once on the number; recorded once
    path = env["DUNNING_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        texts = db.execute("SELECT parts FROM outbox_messages WHERE case_id = 'CN-1003'").fetchall()
    assert len(texts) == 1 and "您已退订" in json.loads(texts[0][0])["body"]


def test_an_event_id_reused_for_another_event_is_refused(env):
    dunning(env, "import", str(EXAMPLES / "portfolio.csv"))
    first = dunning(env, "event", "CN-1001", "promise", "--date", "2026-12-20", "--event-id", "E-9")
    assert first.returncode == 0, first.stderr
    reused = dunning(env, "event", "CN-1001", "payment", "--event-id", "E-9")
    assert reused.returncode != 0 and "already recorded with another content: a promise" in reused.stderr


def test_bad_event_input_names_the_field(env):
    dunning(env, "import", str(EXAMPLES / "portfolio.csv"))
    result = dunning(env, "event", "CN-1001", "payment", "--amount", "-5")
    assert result.returncode != 0 and "amount: cannot be negative" in result.stderr
    unknown = dunning(env, "event", "NOPE-1", "payment")
    assert unknown.returncode != 0 and "case_id: unknown case 'NOPE-1'" in unknown.stderr


def test_demo_runs_on_a_fresh_store_and_summarises(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DUNNING_")}
    result = dunning(clean, "demo", "--days", "10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "32 row(s): 27 inserted, 0 updated, 5 rejected" in out
    assert "← replied '退订' (opt_out)" in out and "← replied 'STOP' (opt_out)" in out
    assert "← paid in full" in out
    for label in (
        "sent by sms",
        "sent by push",
        "sent by voice",
        "deferred by quiet hours",
        "cases stopped by payment",
    ):
        assert label in out
    assert "timeline of CN-1002" in out
    assert not list(tmp_path.iterdir()), "the demo must not leave files behind"
