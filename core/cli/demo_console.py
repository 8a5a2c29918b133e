"""``dunning demo --console``: the demo's data in the console, in one command.

The demo runs into a kept SQLite file, a demo admin is created with a
password made for this run (printed once, never stored in clear), and the
console is served on 127.0.0.1 over that store as a dry run: nothing is
ever sent from it.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path

from dunning.core.api.console.passwords import hash_password
from dunning.core.runtime import build_runtime
from dunning.core.runtime.runtime import Runtime
from dunning.core.settings import Settings
from dunning.core.store import open_store

__all__ = ["DEMO_USER", "console_runtime", "fresh_workdir", "prepare_console_store"]

#: The demo admin's name.
DEMO_USER = "demo"


def fresh_workdir(workdir: Path) -> None:
    """Remove a previous demo's store, so each run starts from the same portfolio."""
    workdir.mkdir(parents=True, exist_ok=True)
    for leftover in workdir.glob("demo.db*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def prepare_console_store(database: str) -> str:
    """Create the demo admin in the demo's store; return its one-time password."""
    password = secrets.token_urlsafe(12)
    store = open_store(f"sqlite:///{database}")
    try:
        now = datetime.now(UTC)
        with store.write() as conn:
            if store.user(conn, DEMO_USER) is None:
                store.add_user(conn, DEMO_USER, "admin", hash_password(password), now)
            else:
                store.update_user(conn, DEMO_USER, now, password_hash=hash_password(password), disabled=False)
    finally:
        store.dispose()
    return password


@contextmanager
def console_runtime(database: str) -> Iterator[Runtime]:
    """A dry-run runtime over the demo's store, with the example policy."""
    with as_file(files("dunning.examples") / "policy.yaml") as policy:
        settings = Settings(database_url=f"sqlite:///{database}", policy=str(policy), dry_run=True)
        rt = build_runtime(settings, dry_run=True)
        try:
            yield rt
        finally:
            rt.close()
