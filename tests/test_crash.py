"""Killing the embedded runner between enqueue and delivery loses nothing and sends nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from dunning.core.store.schema import intents, outbox_messages
from dunning.testing.factories import write_portfolio

POLICY = """
name: crash
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l: {steps: [{channel: sms, template: overdue_notice, wait: 7d}]}
"""
CASES = 1500


def dunning(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).with_name("dunning"))
    with log.open("ab") as out:  # a file, not a pipe: a full pipe would stall the process
        return subprocess.Popen([exe, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def counts(url: str) -> tuple[int, dict[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sent = conn.scalar(select(func.count()).select_from(outbox_messages)) or 0
            states = dict(conn.execute(select(intents.c.state, func.count()).group_by(intents.c.state)).all())
    finally:
        engine.dispose()
    return sent, states


def test_kill_9_mid_delivery_then_restart_delivers_every_reminder_exactly_once(tmp_path):
    # Given a portfolio being delivered by `dunning run` (embedded: in-memory broker)
    (tmp_path / "policy.yaml").write_text(POLICY)
    write_portfolio(tmp_path / "cases.csv", CASES, prefix="K-")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {
        **os.environ,
        "DUNNING_DATABASE_URL": url,
        "DUNNING_POLICY": str(tmp_path / "policy.yaml"),
        "DUNNING_DRY_RUN": "true",
        "DUNNING_TICK_SECONDS": "0.2",
        "DUNNING_LEASE_SECONDS": "1",
        "DUNNING_AMBIGUOUS_AFTER_SECONDS": "0",
        "DUNNING_WORKER_THREADS": "2",
    }
    log = tmp_path / "dunning.log"
    imported = dunning("import", str(tmp_path / "cases.csv"), env=env, log=log)
    assert imported.wait(timeout=120) == 0, log.read_text()
    runner = dunning("run", env=env, log=log)
    # When it is killed with SIGKILL while reminders are queued but not yet delivered
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sent, states = counts(url)
        if sent >= 50:
            break
        time.sleep(0.05)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    sent_at_kill, states_at_kill = counts(url)
    assert 0 < sent_at_kill < CASES, "the kill must land mid-delivery"
    assert states_at_kill.get("enqueued", 0) + states_at_kill.get("planned", 0) > 0, states_at_kill

    # Then a restart (after the dead worker's lease has run out) finishes the job
    time.sleep(1.2)
    for _ in range(3):
        again = dunning("tick", env=env, log=log)
        assert again.wait(timeout=120) == 0, log.read_text()[-2000:]
    sent, states = counts(url)
    # Every case got its reminder exactly once, and every intent ended.
    assert sent == CASES
    assert states == {"sent": CASES}, states
