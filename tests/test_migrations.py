"""Migrations that never race: many processes opening a fresh store at once migrate it exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from dunning.core.store import Store
from dunning.core.store.migrations import alembic_config, head_revision
from dunning.core.store.upgrade import Upgrade

#: How many processes (or threads) start on the fresh store at the same moment.
STARTERS = 6


def versions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def downgraded(url: str, revision: str) -> None:
    """Migrate a fresh store, then take it back to ``revision``, as an older version left it."""
    from alembic import command

    store = Store(url)
    store.migrate()
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)
    store.dispose()


def test_starters_migrating_a_fresh_store_at_once_all_succeed_and_migrate_it_once(database_url):
    # Given a fresh store, and several starters each with its own engine, released together
    stores = [Store(database_url) for _ in range(STARTERS)]
    barrier = threading.Barrier(STARTERS)
    results: list[Upgrade] = []
    errors: list[BaseException] = []

    def start(store: Store) -> None:
        barrier.wait()
        try:
            results.append(store.migrate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    # When they all migrate at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in stores:
        store.dispose()
    # Then none fails, exactly one created the schema, the others found it current
    assert errors == []
    head = head_revision()
    assert sorted(str(r) for r in results) == sorted(
        [f"schema created at revision {head}"] + [f"schema already at revision {head}"] * (STARTERS - 1)
    )
    # And the store holds one schema at the latest revision
    assert versions(database_url) == [head]
    engine = create_engine(database_url)
    try:
        assert "intents" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_db_upgrade_run_from_several_hosts_at_once_migrates_exactly_once(postgres_url):
    # Given a fresh PostgreSQL schema, and `dunning db upgrade` started on several hosts at once
    exe = str(Path(sys.executable).with_name("dunning"))
    env = {**os.environ, "DUNNING_DATABASE_URL": postgres_url}
    procs = [
        subprocess.Popen(
            [exe, "db", "upgrade"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    # Then every one succeeds, and exactly one says it created the schema
    assert [proc.returncode for proc in procs] == [0] * 4, [err for _out, err in outputs]
    said = sorted(out.strip() for out, _err in outputs)
    head = head_revision()
    assert said == sorted(
        [f"schema created at revision {head} (postgresql)"]
        + [f"schema already at revision {head} (postgresql)"] * 3
    )
    assert versions(postgres_url) == [head]


def test_db_upgrade_says_what_it_did_to_an_older_schema(tmp_path):
    # Given a store whose schema an older version created (one migration behind)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    downgraded(url, "0002")
    # When the operator upgrades it
    exe = str(Path(sys.executable).with_name("dunning"))
    env = {**os.environ, "DUNNING_DATABASE_URL": url}
    result = subprocess.run([exe, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    # Then it says which revisions it went between
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"schema upgraded from revision 0002 to {head_revision()} (sqlite)"


def test_a_store_of_the_previous_version_upgraded_keeps_its_cases_and_learns_attributes_and_strategies(
    database_url,
):
    # Given a store at revision 0006 holding a case and its debtor
    from datetime import UTC, datetime

    from dunning.testing.factories import make_case

    downgraded(database_url, "0006")
    engine = create_engine(database_url)
    try:
        now = datetime(2026, 12, 1, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO debtors (debtor_id, previous_cures, broken_promises, kept_promises, updated_at) "
                    "VALUES ('D-1', 0, 0, 0, :now)"
                ),
                {"now": now.replace(tzinfo=None)},
            )
            conn.execute(
                text(
                    "INSERT INTO cases (case_id, debtor_id, name, locale, account, amount_due, original_amount,"
                    " currency, due_date, tags, contacts, status, partition, created_at, updated_at)"
                    " VALUES ('C-1', 'D-1', 'Wang', 'zh-CN', '6222', '3200', '3200', 'CNY', '2026-12-01',"
                    " '[]', '{}', 'open', 1, :now, :now)"
                ),
                {"now": now.replace(tzinfo=None)},
            )
        # When this version opens it (and migrates it to 0007)
        store = Store(database_url)
        store.migrate()
        # Then the case is there, with no attributes and no strategy yet, and both can be recorded
        with store.write() as conn:
            (case, status) = store.load_cases(conn, ["C-1"])["C-1"]
            assert (case.attributes, case.strategy, status) == ({}, None, "open")
            store.upsert_cases(conn, [make_case(attributes={"score": "700"})], now)
            store.record_strategies(conn, {"D-1": "challenger"}, now)
        with store.read() as conn:
            (case, _status) = store.load_cases(conn, ["C-1"])["C-1"]
        assert (case.attributes, case.strategy) == ({"score": "700"}, "challenger")
        assert "strategy" in {c["name"] for c in inspect(engine).get_columns("intents")}
        store.dispose()
    finally:
        engine.dispose()
