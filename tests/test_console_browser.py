"""The console in a real browser: Debian's chromium driven by Playwright, against `dunning`'s own server.

A uvicorn server on 127.0.0.1 serves the app over a store with a disputed
case; agents and a viewer sign in as people do. Each test writes
screenshots of the pages it visits to ``out/screenshots/``. Without
chromium or Playwright these tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dunning.core.api import create_app
from dunning.core.api.console.passwords import hash_password
from dunning.core.domain.model import Event, EventKind
from dunning.core.intake.service import Intake
from dunning.core.runtime import build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.runtime.runtime import Runtime
from dunning.core.settings import Settings
from dunning.testing.factories import make_case
from dunning.testing.webhook_receiver import free_port

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("DUNNING_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "out" / "screenshots"
PASSWORD = "correct horse battery"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
POLICY = """
name: console
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: voice, template: overdue_call, wait: 2d}
queue:
  sla: {dispute: 2d, default: 1d}
"""


def _browser_missing(error: str) -> None:
    """Chromium or Playwright missing: a skip on a laptop, a failure under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests need chromium and playwright: {error}")
    pytest.skip(error)


@dataclass
class Console:
    url: str
    rt: Runtime
    clock: list[datetime]

    def item(self, case_id: str) -> Any:
        with self.rt.store.read() as conn:
            return self.rt.store.open_item(conn, case_id)

    def case(self, case_id: str) -> Any:
        with self.rt.store.read() as conn:
            return self.rt.store.case_row(conn, case_id)


@pytest.fixture
def console(tmp_path) -> Iterator[Console]:
    import uvicorn

    (tmp_path / "p.yaml").write_text(textwrap.dedent(POLICY))
    clock = [NOW]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", policy=str(tmp_path / "p.yaml"))
    rt = build_runtime(settings, clock=lambda: clock[0], dry_run=True)
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn,
            [make_case(case_id="C-1"), make_case(case_id="C-2", debtor_id="D-2", phone="+8613900139002")],
            NOW - timedelta(days=1),
        )
        hashed = hash_password(PASSWORD)
        for name, role in (("alice", "agent"), ("vera", "viewer")):
            rt.store.add_user(conn, name, role, hashed, NOW)
    runner = Embedded(rt, threads=1)
    runner.start()
    runner.step()  # the first texts go out (recorded by the dry run), for the portfolio
    Intake(rt).record(Event(EventKind.DISPUTE, NOW, case_id="C-1", text="not my loan"), source="api")
    clock[0] = NOW + timedelta(minutes=5)
    runner.step()
    runner.stop()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the console's server did not start"
    yield Console(f"http://127.0.0.1:{port}", rt, clock)
    server.should_exit = True
    thread.join(timeout=30)
    rt.close()


@pytest.fixture(scope="module")
def browser_context_factory(tmp_path_factory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _browser_missing(f"playwright is not installed ({exc})")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _browser_missing(f"no chromium at {CHROMIUM} (apt-get install -y chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        contexts = []

        def make() -> Any:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("profile")),
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--headless",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
                viewport={"width": 1280, "height": 900},
            )
            context.set_default_timeout(15_000)
            contexts.append(context)
            return context

        yield make
        for context in contexts:
            context.close()


def expect(target: Any) -> Any:
    """Playwright's retrying assertions (they wait without evaluating strings the page's CSP forbids)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def sign_in(page: Any, console: Console, name: str, shot: str | None = None) -> None:
    page.goto(f"{console.url}/console")
    assert page.url.startswith(f"{console.url}/console/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    if shot:
        page.screenshot(path=str(SHOTS / shot), full_page=True)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{console.url}/console")


def test_an_agent_claims_and_resolves_a_disputed_case_and_its_timeline_shows_it(
    console, browser_context_factory
):
    page = browser_context_factory().new_page()
    # Given an agent signed in
    sign_in(page, console, "alice", shot="login.png")
    # Then the disputed case waits in the queue, with its reason and SLA
    row = page.locator("tr", has_text="C-1")
    assert "dispute" in row.inner_text() and "due in" in row.inner_text()
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)
    # When she claims it, in place
    page.get_by_role("button", name="Claim case C-1").click()
    expect(page.locator("tr", has_text="C-1")).to_contain_text("alice")
    assert console.item("C-1").owner == "alice"
    # And resolves it as written off
    page.get_by_label("Outcome for case C-1").select_option("written_off")
    page.get_by_role("button", name="Resolve case C-1").click()
    page.wait_for_selector("tr.sla-done")
    assert "written_off" in page.locator("tr", has_text="C-1").inner_text()
    assert console.case("C-1").status == "closed"
    # Then the case's page shows it closed, and its timeline the claim, the resolution and the close
    page.get_by_role("link", name="C-1").click()
    page.wait_for_url(f"{console.url}/console/cases/C-1")
    timeline = page.locator("table.timeline").inner_text()
    for action in ("dispute", "claim", "resolve", "close"):
        assert action in timeline, action
    assert "actor: alice" in timeline and "closed: written_off" in page.locator("h1").inner_text()
    page.screenshot(path=str(SHOTS / "case.png"), full_page=True)
    for name in ("portfolio", "policy", "webhooks"):
        page.goto(f"{console.url}/console/{name}" + ("?case=C-2" if name == "policy" else ""))
        assert page.locator("h1").inner_text().lower().startswith(name)
        if name == "portfolio":  # the pictures: reminders, cure curve, opt-outs, errors, backlog
            assert page.locator("svg.chart").count() == 5
            assert "sms" in page.locator("svg.chart").first.inner_html()
        if name == "policy":  # the case explained on a timeline, and the YAML
            assert page.locator("svg.chart").count() == 1 and "ladders:" in page.locator("pre").inner_text()
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_agent_reveals_a_phone_number_and_the_reveal_is_audited(console, browser_context_factory):
    page = browser_context_factory().new_page()
    sign_in(page, console, "alice")
    page.goto(f"{console.url}/console/cases/C-2")
    assert "+86*******9002" in page.locator("#phone").inner_text()
    page.get_by_role("button", name="Reveal phone").click()
    page.wait_for_selector("#phone .revealed")
    assert page.locator("#phone .revealed").inner_text() == "+8613900139002"
    timeline = page.locator("table.timeline").inner_text()
    assert "reveal" in timeline and "alice" in timeline


def test_a_viewer_sees_the_queue_but_cannot_act(console, browser_context_factory):
    page = browser_context_factory().new_page()
    sign_in(page, console, "vera")
    assert "C-1" in page.locator("table.queue").inner_text()
    # No action is offered to her
    assert page.get_by_role("button", name="Claim case C-1").count() == 0
    page.goto(f"{console.url}/console/cases/C-1")
    assert page.get_by_role("button", name="Reveal phone").count() == 0
    # And a claim she sends by hand, with her own valid token, is refused and changes nothing
    token = page.locator("form[action='/console/logout'] input[name=csrf]").get_attribute("value")
    response = page.request.post(f"{console.url}/console/queue/C-1/claim", form={"csrf": token})
    assert response.status == 403 and "Viewers cannot act" in response.text()
    assert console.item("C-1").owner is None


def test_a_forged_form_without_the_csrf_token_is_refused_and_changes_nothing(
    console, browser_context_factory
):
    page = browser_context_factory().new_page()
    sign_in(page, console, "alice")
    # A form another page might have planted: the session cookie goes along, the token does not
    page.evaluate(
        """() => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = '/console/queue/C-1/resolve';
            const outcome = document.createElement('input');
            outcome.name = 'outcome'; outcome.value = 'written_off';
            form.appendChild(outcome);
            document.body.appendChild(form);
            form.submit();
        }"""
    )
    page.wait_for_selector("text=security token")
    assert "Refused" in page.locator("main").inner_text()
    assert console.case("C-1").status == "held" and console.item("C-1").state == "open"
    response = page.request.post(f"{console.url}/console/queue/C-1/claim", form={"csrf": "forged"})
    assert response.status == 403 and console.item("C-1").owner is None


def test_the_queue_is_usable_with_the_keyboard_alone(console, browser_context_factory):
    page = browser_context_factory().new_page()
    # Sign in with the keyboard: the name field has focus, Tab to the password, Enter to submit
    page.goto(f"{console.url}/console")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{console.url}/console")

    def focused() -> dict[str, str]:
        return page.evaluate(
            """() => { const e = document.activeElement;
                       return {label: e.getAttribute('aria-label') || e.textContent.trim(),
                               tag: e.tagName, outline: getComputedStyle(e).outlineStyle}; }"""
        )

    # Tab reaches the claim button of the disputed case, in order, and focus is visible on the way
    for _ in range(40):
        page.keyboard.press("Tab")
        now = focused()
        assert now["outline"] != "none", now
        if now["label"] == "Claim case C-1":
            break
    else:
        pytest.fail("Tab never reached the claim button")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Outcome for case C-1")).to_be_focused()
    assert console.item("C-1").owner == "alice"
    # The outcome has focus: pick "Close: written off" with the arrows, Tab to Resolve, Enter
    for _ in range(6):
        page.keyboard.press("ArrowDown")
    assert page.get_by_label("Outcome for case C-1").input_value() == "written_off"
    for _ in range(6):  # past the date (Chromium tabs through its day, month and year)
        page.keyboard.press("Tab")
        if focused()["label"] == "Resolve case C-1":
            break
    assert focused()["label"] == "Resolve case C-1"
    page.keyboard.press("Enter")
    page.wait_for_selector("tr.sla-done")
    assert console.case("C-1").outcome == "written_off"
