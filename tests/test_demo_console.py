"""``dunning demo --console``: a newcomer opens the console on the demo's data with one command."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import urlencode

import pytest

from dunning.testing.webhook_receiver import free_port


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.mark.slow
def test_given_demo_console_then_the_printed_password_signs_in_and_the_queue_shows_the_demo_disputes(
    tmp_path,
):
    port = free_port()
    cli = [sys.executable, "-c", "from dunning.core.cli import main; main()"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "140"}
    process = subprocess.Popen(
        [*cli, "demo", "--console", "--days", "4", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # When it has run the demo, it prints where the console is and a password made for this run
        lines, password, deadline = _lines(process), None, time.monotonic() + 120
        while password is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert process.poll() is None, "the demo stopped before serving the console"
                continue
            found = re.search(r"sign in as 'demo' with the password (\S+)", line)
            password = found.group(1) if found else None
        assert password, "no password was printed"
        # Then the console answers, and the password signs in
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}/console"
        login = None
        while login is None and time.monotonic() < deadline:
            try:
                login = opener.open(f"{base}/login", timeout=5).read().decode()
            except OSError:
                time.sleep(0.1)  # poll, with the deadline, until uvicorn listens
        assert login is not None
        csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
        form = urlencode({"csrf": csrf, "name": "demo", "password": password, "next": "/console"}).encode()
        page = opener.open(f"{base}/login", data=form, timeout=30).read().decode()
        # And the queue holds the demo's disputed cases
        assert "CN-1005" in page and "dispute" in page
        # And the store was kept where the README says
        assert (tmp_path / "dunning-demo" / "demo.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
