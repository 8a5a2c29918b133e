"""Console sign-in, sessions and users, over HTTP (the browser tests drive the pages themselves)."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from dunning.core.api import create_app
from dunning.core.api.console.passwords import hash_password, verify_password
from dunning.core.cli import cli
from dunning.core.runtime import build_runtime
from dunning.core.settings import Settings
from dunning.testing.factories import make_case

POLICY = """
name: c
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""
PASSWORD = "correct horse battery"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "p.yaml").write_text(textwrap.dedent(POLICY))
    clock = [NOW]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 's.db'}",
        policy=str(tmp_path / "p.yaml"),
        public_url="https://dunning.example.com",
        console_session_hours=8,
    )
    rt = build_runtime(settings, clock=lambda: clock[0], dry_run=True)
    with rt.store.write() as conn:
        rt.store.upsert_cases(conn, [make_case(case_id="C-1")], NOW)
        rt.store.add_user(conn, "alice", "agent", hash_password(PASSWORD), NOW)
    with TestClient(create_app(rt), base_url="https://dunning.example.com") as client:
        yield client, rt, clock
    rt.close()


def sign_in(client, name: str = "alice", password: str = PASSWORD):
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    return client.post(
        "/console/login",
        data={"csrf": csrf, "name": name, "password": password, "next": "/console"},
        follow_redirects=False,
    )


def test_given_the_right_password_then_a_session_cookie_is_set_httponly_lax_and_secure_over_https(setup):
    client, _rt, _clock = setup
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "dunning_session" in v
    )
    assert (
        "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie and "Path=/console" in cookie
    )
    # And the pages come with a policy that allows only this server's scripts, and no framing
    page = client.get("/console")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("name", "password"), [("alice", "wrong password!"), ("nobody", PASSWORD)])
def test_given_a_wrong_name_or_password_then_the_same_refusal_and_no_session(setup, name, password):
    client, _rt, _clock = setup
    response = sign_in(client, name, password)
    assert response.status_code == 401 and "Wrong name or password" in response.text
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_given_a_session_past_its_hours_then_the_console_asks_to_sign_in_again(setup):
    client, _rt, clock = setup
    sign_in(client)
    assert client.get("/console", follow_redirects=False).status_code == 200
    clock[0] = NOW + timedelta(hours=8, minutes=1)
    response = client.get("/console/cases/C-1", follow_redirects=False)
    assert (
        response.status_code == 303
        and response.headers["location"] == "/console/login?next=/console/cases/C-1"
    )


def test_given_a_user_disabled_from_the_cli_then_their_open_session_ends(setup, tmp_path, monkeypatch):
    client, rt, _clock = setup
    sign_in(client)
    monkeypatch.setenv("DUNNING_DATABASE_URL", rt.settings.database_url)
    result = CliRunner().invoke(cli, ["users", "disable", "alice"])
    assert result.exit_code == 0, result.output
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert sign_in(client).status_code == 401


def test_users_are_managed_from_the_cli_and_passwords_are_stored_hashed(tmp_path, monkeypatch):
    monkeypatch.setenv("DUNNING_DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    runner = CliRunner()
    added = runner.invoke(
        cli, ["users", "add", "bob", "--role", "viewer", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0 and "bob added as viewer" in added.output
    short = runner.invoke(cli, ["users", "add", "eve", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    again = runner.invoke(cli, ["users", "add", "bob", "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "already exists" in again.output
    assert runner.invoke(cli, ["users", "set-role", "bob", "agent"]).exit_code == 0
    listed = runner.invoke(cli, ["users", "list"]).output
    assert re.search(r"bob\s+agent\s+active", listed)
    # The store keeps a scrypt hash, never the password
    from dunning.core.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    with store.read() as conn:
        stored = store.user(conn, "bob").password_hash
    store.dispose()
    assert PASSWORD not in stored and stored.startswith("scrypt$17$8$1$")
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "x", stored)


def test_an_unknown_case_page_is_a_404_page_not_a_traceback(setup):
    client, _rt, _clock = setup
    sign_in(client)
    response = client.get("/console/cases/NOPE")
    assert response.status_code == 404 and "No case &#39;NOPE&#39;" in response.text
    assert "Traceback" not in response.text
