"""``dunning import`` shows how far it has read, of how much, and how fast — on a terminal only."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from dunning.core.intake.importer import import_file
from dunning.core.store import open_store
from dunning.testing.factories import write_portfolio

ROWS = 3000


def dunning_import(path: Path, database: Path, *, terminal: bool) -> tuple[str, str, int]:
    """Run ``dunning import``, its stderr on a pseudo-terminal or a pipe; (stdout, stderr, status)."""
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "DUNNING_DATABASE_URL": f"sqlite:///{database}"}
    command = [str(Path(sys.executable).with_name("dunning")), "import", str(path)]
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        return done.stdout, done.stderr, done.returncode
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, _ = proc.communicate(timeout=120)
    return out.decode(), b"".join(chunks).decode(errors="replace"), proc.returncode


def test_given_a_terminal_then_import_shows_bytes_read_of_the_total_and_a_rate(tmp_path):
    # Given a portfolio of a few thousand rows
    path = tmp_path / "portfolio.csv"
    write_portfolio(path, ROWS)
    total_kb = f"{path.stat().st_size / 1000:.1f}"
    # When it is imported with stderr on a terminal
    out, err, status = dunning_import(path, tmp_path / "d.db", terminal=True)
    # Then the bar counts the bytes read against the file's size, with the rate and the rows so far
    assert status == 0 and out.strip() == f"{ROWS} row(s): {ROWS} inserted, 0 updated, 0 rejected"
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    assert f"{total_kb}/{total_kb} kB" in plain, plain[-800:]
    assert re.search(r"\d+(\.\d+)? [kM]B/s", plain), plain[-800:]
    assert f"importing: {ROWS:,} rows" in plain


def test_given_no_terminal_then_import_prints_no_bar(tmp_path):
    path = tmp_path / "portfolio.csv"
    write_portfolio(path, ROWS)
    # When stderr is a pipe (a script, a log file)
    out, err, status = dunning_import(path, tmp_path / "d.db", terminal=False)
    # Then only the summary is printed
    assert status == 0 and err == "" and out.startswith(f"{ROWS} row(s)")


def test_progress_is_told_the_rows_and_bytes_read_up_to_the_whole_file(tmp_path):
    path = tmp_path / "portfolio.csv"
    write_portfolio(path, 2500)
    store = open_store(f"sqlite:///{tmp_path / 'd.db'}")
    seen: list[tuple[int, int]] = []
    import_file(store, path, now=datetime(2026, 12, 1, tzinfo=UTC), progress=lambda r, b: seen.append((r, b)))
    store.dispose()
    # Then each batch reports more rows and more bytes, and the last call the whole file
    assert [rows for rows, _ in seen] == [1000, 2000, 2500]
    assert [b for _, b in seen] == sorted(b for _, b in seen) and 0 < seen[0][1] < seen[-1][1]
    assert seen[-1][1] == path.stat().st_size
