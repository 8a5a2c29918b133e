"""``dunning policy check`` and ``dunning policy explain`` as a strategist runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def dunning(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("dunning")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_check_passes_the_shipped_examples_and_reports_sms_segments():
    for name in ("policy.yaml", "policy-us.yaml", "policy-gentle.yaml", "policy-challenger.yaml"):
        result = dunning("policy", "check", str(EXAMPLES / name))
        assert result.returncode == 0, result.stderr
        assert "ok" in result.stdout
    result = dunning("policy", "check", str(EXAMPLES / "policy.yaml"))
    assert "sms/overdue_notice.zh-CN.j2: UCS-2" in result.stdout


def test_check_fails_with_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (EXAMPLES / "policy.yaml").read_text(encoding="utf-8").replace("channel: push,", "channel: pager,", 1)
    )
    result = dunning("policy", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:25: ladders.courtesy.steps[1].channel: unknown channel 'pager'" in result.stderr


def test_check_warns_past_the_segment_limit_and_strict_fails(tmp_path):
    text = (
        (EXAMPLES / "policy.yaml").read_text(encoding="utf-8").replace("sms_segments: 3", "sms_segments: 1")
    )
    path = tmp_path / "tight.yaml"
    path.write_text(text, encoding="utf-8")
    relaxed = dunning("policy", "check", str(path))
    assert relaxed.returncode == 0 and "more than the limit of 1" in relaxed.stdout
    assert dunning("policy", "check", "--strict", str(path)).returncode == 1


def explain_json(*extra: str, policy: str = "policy.yaml", case: str = "case-cn.json") -> list[dict]:
    result = dunning(
        "policy",
        "explain",
        str(EXAMPLES / policy),
        "--case",
        str(EXAMPLES / case),
        "--start",
        "2026-12-01T00:00:00Z",
        "--days",
        "10",
        "--json",
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_explain_walks_sms_push_voice_with_the_policy_waits():
    lines = explain_json()
    sends = [(x["channel"], x["local"]) for x in lines if x["action"] == "send"]
    assert sends[:3] == [
        ("sms", "2026-12-02T08:30:00+08:00"),
        ("push", "2026-12-04T08:30:00+08:00"),  # gentle: SMS waits 2 days
        ("voice", "2026-12-05T08:30:00+08:00"),  # push waits 1 day
    ]
    first = lines[0]
    assert set(first) >= {"at", "local", "action", "channel", "step", "template", "rule"}
    assert (first["action"], first["rule"]) == ("defer", "quiet_hours:china")


def test_explain_stops_everything_after_a_payment_in_the_events_file():
    lines = explain_json("--events", str(EXAMPLES / "events-cn.jsonl"))
    stop = next(i for i, x in enumerate(lines) if x["action"] == "stop")
    assert lines[stop]["rule"] == "paid"
    assert lines[stop:] == [lines[stop]]
    assert all(x["at"] < "2026-12-07T02:00:00Z" for x in lines if x["action"] == "send")


def test_explain_us_case_uses_reg_f_hours_in_the_phone_s_zone():
    sends = [x for x in explain_json(policy="policy-us.yaml", case="case-us.json") if x["action"] == "send"]
    assert sends[0]["local"] == "2026-12-02T08:00:00-08:00"  # +1 415: Pacific time, 08:00 earliest


def test_explain_names_a_bad_case_file_field(tmp_path):
    case = json.loads((EXAMPLES / "case-cn.json").read_text(encoding="utf-8"))
    case["currency"] = "RMBX"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    result = dunning("policy", "explain", str(EXAMPLES / "policy.yaml"), "--case", str(path))
    assert result.returncode != 0 and "currency: 'RMBX' is not an ISO 4217 currency" in result.stderr


def test_explain_table_is_readable():
    result = dunning(
        "policy",
        "explain",
        str(EXAMPLES / "policy.yaml"),
        "--case",
        str(EXAMPLES / "case-cn.json"),
        "--start",
        "2026-12-01T00:00:00Z",
        "--days",
        "5",
    )
    assert result.returncode == 0
    assert "quiet_hours:china" in result.stdout and "overdue_notice" in result.stdout


# ---------------------------------------------------------------- voices


def test_given_a_voice_template_in_a_language_no_voice_speaks_then_the_check_flags_it(
    tmp_path, make_policy, registry
):
    from dunning.core.content.lint import lint_templates
    from dunning.core.content.templating import TemplateLibrary
    from dunning.core.settings import Settings

    # Given the lender's French call template, and no voice configured for French
    (tmp_path / "voice").mkdir()
    (tmp_path / "voice" / "overdue_call.fr.j2").write_text("Bonjour {{ name }}, appuyez sur 1.")
    library = TemplateLibrary([tmp_path])
    policy = make_policy((EXAMPLES / "policy.yaml").read_text(encoding="utf-8"))
    # When the templates are checked
    problems = [
        f.problem for f in lint_templates(policy, library, registry.channels, Settings()) if f.problem
    ]
    # Then the French one is an error naming the voice that would read it and the setting to fix
    [problem] = problems
    assert (problem.field, problem.severity) == ("voice/overdue_call.fr.j2", "error")
    assert "no voice speaks 'fr'" in problem.message and "Polly.Joanna (en-US)" in problem.message
    assert "DUNNING_TWILIO_VOICES" in problem.message
    # And once the operator names a French voice, it passes
    voiced = Settings(twilio_voices="fr=Polly.Lea:fr-FR")
    assert not [f for f in lint_templates(policy, library, registry.channels, voiced) if f.problem]


def test_given_a_malformed_voices_setting_the_check_fails_on_each_voice_template_naming_it():
    import os

    exe = Path(sys.executable).with_name("dunning")
    env = {**os.environ, "DUNNING_TWILIO_VOICES": "zh-CN=Polly.Zhiyu,fr=Polly.Lea"}
    result = subprocess.run(
        [str(exe), "policy", "check", str(EXAMPLES / "policy.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "voice/overdue_call.zh-CN.j2: DUNNING_TWILIO_VOICES: 'fr=Polly.Lea': say which language" in (
        result.stderr
    )
    assert "sms/" not in result.stderr  # texts need no voice


def test_explain_shows_the_debtor_s_strategy_and_attribute_values_and_the_learned_hour(tmp_path):
    # Given a case carrying the challenger example's attributes, and two replies at 14:xx before the run
    case = json.loads((EXAMPLES / "case-cn.json").read_text(encoding="utf-8"))
    case["attributes"] = {"score": 580, "band": "C", "app_user": True}
    (tmp_path / "case.json").write_text(json.dumps(case), encoding="utf-8")
    (tmp_path / "events.jsonl").write_text(
        '{"kind": "reply", "at": "2026-11-20T06:10:00Z", "text": "ok"}\n'
        '{"kind": "reply", "at": "2026-11-21T06:40:00Z", "text": "ok"}\n',
        encoding="utf-8",
    )
    run = [
        "policy",
        "explain",
        str(EXAMPLES / "policy-challenger.yaml"),
        "--case",
        str(tmp_path / "case.json"),
        "--events",
        str(tmp_path / "events.jsonl"),
        "--start",
        "2026-12-01T00:00:00Z",
        "--days",
        "4",
    ]
    # When it is explained, as JSON and as a table
    result = dunning(*run, "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    table = dunning(*run)
    # Then every line names the strategy and the attributes as the policy reads them (none: null)
    assert {line["strategy"] for line in lines} == {"champion"}
    assert lines[0]["attributes"] == {"score": "580", "band": "C", "last_login": None, "app_user": True}
    # And the first text aims at the hour the debtor answered in
    assert lines[0]["action"] == "defer" and lines[0]["rule"] == "learned_hour:14"
    assert "strategy champion" in table.stdout
    assert "attributes: score=580, band=C, last_login=none, app_user=True" in table.stdout
