"""``dunning simulate``: the real engine on a simulated clock, reproducible, read by the real report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dunning.core.reporting.format import render_json
from dunning.core.reporting.reports import ReportOptions
from dunning.core.simulation.behaviour import ResponseModelError, default_model, load_model, parse_model
from dunning.core.simulation.portfolio import PortfolioSource, synthetic_portfolio
from dunning.core.simulation.run import PolicyResult, SimulationConfig, run_simulation
from dunning.core.simulation.simulate import simulate
from dunning.core.store import open_store
from dunning.core.store.schema import cases, intents

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
START = datetime(2026, 12, 1, tzinfo=UTC)
CHANNELS = ("sms", "push", "voice")
OPTIONS = ReportOptions(by=("segment", "channel"))

AB_POLICY = """
name: ab
preset: china
default_timezone: Asia/Shanghai
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - channel: sms
        wait: 2d
        variants:
          - {name: plain, template: overdue_notice, weight: 1}
          - {name: firm, template: overdue_firm, weight: 1}
      - {channel: voice, template: overdue_call, wait: 2d}
"""


def run(
    tmp_path: Path,
    *policies: str,
    cases: int = 120,
    days: int = 14,
    seed: int = 7,
    jobs: int = 1,
    source: PortfolioSource | None = None,
) -> list[PolicyResult]:
    workdir = tmp_path / f"run-{seed}-{jobs}-{len(list(tmp_path.iterdir()))}"
    workdir.mkdir()
    config = SimulationConfig(
        tuple(policies),
        source or PortfolioSource(cases=cases, seed=seed, start=START),
        START,
        days,
        seed,
    )
    return run_simulation(config, OPTIONS, workdir, jobs=jobs)


def figures(results: list[PolicyResult]) -> list[str]:
    return [render_json(r.report) for r in results]


# ---------------------------------------------------------------- reproducible


def test_given_a_fixed_seed_when_simulated_twice_then_the_reports_are_identical(tmp_path):
    policies = (str(EXAMPLES / "policy.yaml"), str(EXAMPLES / "policy-gentle.yaml"))
    first, second = run(tmp_path, *policies), run(tmp_path, *policies)
    assert figures(first) == figures(second)
    assert [r.contacts for r in first] == [r.contacts for r in second]
    assert first[0].report.total.sent > 0 and first[0].report.total.cured > 0


def test_given_another_seed_when_simulated_then_the_figures_differ(tmp_path):
    policy = str(EXAMPLES / "policy.yaml")
    assert figures(run(tmp_path, policy, seed=7)) != figures(run(tmp_path, policy, seed=8))


def test_given_several_worker_processes_then_the_figures_are_those_of_one(tmp_path):
    # 300 debtors make two chunks of work, simulated in two processes.
    policy = str(EXAMPLES / "policy-gentle.yaml")
    alone = run(tmp_path, policy, cases=300, days=7, jobs=1)
    shared = run(tmp_path, policy, cases=300, days=7, jobs=2)
    assert figures(alone) == figures(shared)


def test_a_synthetic_portfolio_is_seeded_and_mixed():
    book = synthetic_portfolio(400, seed=3, start=START)
    assert book == synthetic_portfolio(400, seed=3, start=START)
    assert book != synthetic_portfolio(400, seed=4, start=START)
    assert len(book) == 400 and len({c.case_id for c in book}) == 400
    locales = {c.locale for c in book}
    assert locales == {"zh-CN", "en"}
    assert sum(1 for c in book if c.locale == "zh-CN") > 250
    assert any(c.push_token for c in book) and any(not c.push_token for c in book)
    assert any(c.timezone for c in book) and any(c.timezone is None for c in book)
    assert len({c.debtor_id for c in book}) < 400  # some debtors have two loans
    assert all(c.due_date < START.date() + timedelta(days=1) for c in book)


# ---------------------------------------------------------------- the engine's promises hold


def test_given_a_simulated_run_then_no_reminder_follows_a_payment_or_breaks_quiet_hours(tmp_path):
    (result,) = run(tmp_path, str(EXAMPLES / "policy.yaml"), cases=150, days=21)
    store = open_store(f"sqlite:///{result.store}", migrate=False)
    try:
        with store.read() as conn:
            paid = {
                row.case_id: row.closed_at
                for row in conn.execute(
                    select(cases.c.case_id, cases.c.closed_at).where(cases.c.status == "paid")
                )
            }
            sent = conn.execute(select(intents.c.case_id, intents.c.contact_at)).all()
    finally:
        store.dispose()
    assert paid and sent
    assert all(row.contact_at < paid[row.case_id] for row in sent if row.case_id in paid)
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    book = {c.case_id: c for c in synthetic_portfolio(150, seed=7, start=START)}
    for row in sent:
        case = book[row.case_id]
        if case.phone and case.phone.startswith("+86") and case.timezone:
            local = row.contact_at.astimezone(shanghai).time()
            assert time(8, 30) <= local < time(21, 0), (row.case_id, local)  # the policy's quiet hours


def test_given_an_import_file_then_it_is_simulated_instead_of_a_synthetic_book(tmp_path):
    source = PortfolioSource(path=str(EXAMPLES / "portfolio.csv"))
    (result,) = run(tmp_path, str(EXAMPLES / "policy.yaml"), source=source)
    assert result.report.portfolio == 27  # the file's five bad rows are left out
    assert result.report.total.sent > 0


def test_given_a_variant_chooser_plugin_then_the_simulation_sends_its_choice(make_policy):
    # The dunning_choose_variant hook reaches the engine as the policy's chooser.
    policy = make_policy(AB_POLICY).with_chooser(lambda case, step, variants: "firm")
    book = synthetic_portfolio(60, seed=2, start=START)
    rows = simulate(policy, default_model(), book, start=START, days=5, seed=2)
    first_rung = [row for row in rows.intents if row["step"] == 0 and row["ladder"] != "(promise)"]
    assert {(row["variant"], row["template"]) for row in first_rung} == {("firm", "overdue_firm")}


# ---------------------------------------------------------------- the response model


def test_the_example_response_model_is_the_built_in_one():
    assert load_model(EXAMPLES / "responses.yaml", channels=CHANNELS) == default_model()
    voice = default_model().behaviour("large", "voice")
    assert (voice.pay, voice.promise, voice.self_cure, voice.delivered) == (0.07, 0.18, 0.004, 0.55)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default:\n  pay: 0.1\n  colour: red\n", "r.yaml:3: default.colour: unknown key"),
        ("default:\n  pay: 1.5\n", "r.yaml:2: default.pay: Input should be less than or equal to 1"),
        ("channels:\n  sms:\n    delay: 5\n", "r.yaml:3: channels.sms.delay: 5 has no unit"),
        ("channels:\n  fax: {pay: 0.1}\n", "r.yaml:2: channels.fax: unknown channel 'fax'"),
        (
            "default: {pay: 0.5}\nsegments:\n  large:\n    voice: {promise: 0.6}\n",
            "r.yaml:4: segments.large.voice: pay 0.5 + promise 0.6",
        ),
        ("default: [pay]\n", "r.yaml:1: default: Input should be a valid dictionary"),
        ("default:\n  pay: 0.1\n  pay: 0.2\n", "r.yaml:3: default.pay: duplicate key"),
        ("default: {pay: [\n", "r.yaml:2: not valid YAML"),
    ],
)
def test_given_a_bad_response_model_then_the_error_names_its_line_and_field(text, expected):
    with pytest.raises(ResponseModelError) as caught:
        parse_model(text, file="r.yaml", channels=CHANNELS)
    assert expected in str(caught.value)


# ---------------------------------------------------------------- the command


def dunning(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("dunning"))
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=300, env=env or dict(os.environ), cwd=cwd
    )


def test_given_two_policies_when_simulate_runs_then_it_prints_both_and_writes_plots_and_a_page(tmp_path):
    out = tmp_path / "sim"
    result = dunning(
        "simulate",
        str(EXAMPLES / "policy.yaml"),
        "--vs",
        str(EXAMPLES / "policy-gentle.yaml"),
        "--cases",
        "80",
        "--days",
        "10",
        "--seed",
        "5",
        "--jobs",
        "1",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "simulated, side by side" in result.stdout
    assert (
        "cn-consumer" in result.stdout and "cn-gentle" in result.stdout and "cost per cure" in result.stdout
    )
    assert "simulated 80 case(s) x 10 day(s)" in result.stdout
    pngs = ["cure_curve.png", "contacts_per_debtor.png", "cost_per_cure.png"]
    for name in pngs:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    page = (out / "index.html").read_text(encoding="utf-8")
    assert all(f'src="{name}"' in page for name in pngs)
    assert "cn-consumer" in page and "cn-gentle" in page


def test_given_an_ab_policy_when_simulated_then_dunning_report_compares_the_variants(tmp_path):
    (tmp_path / "ab.yaml").write_text(AB_POLICY)
    out = tmp_path / "sim"
    ran = dunning(
        "simulate", str(tmp_path / "ab.yaml"), "--cases", "200", "--days", "10", "--jobs", "1",
        "--out", str(out), "--keep-stores", "--no-plots",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert not (out / "cure_curve.png").exists()
    env = {**os.environ, "DUNNING_DATABASE_URL": f"sqlite:///{out / 'ab.db'}"}
    reported = dunning("report", "--by", "variant", "--format", "json", env=env)
    assert reported.returncode == 0, reported.stderr
    rows = json.loads(reported.stdout)["rows"]
    arms = {row["variant"]: row for row in rows if row["step"] == 0 and row["variant"]}
    assert set(arms) == {"plain", "firm"}
    # Weights 1:1 and a stable hash of the debtor: both arms get a fair share of the book.
    assert 70 <= arms["plain"]["cases"] <= 130 and 70 <= arms["firm"]["cases"] <= 130
    # The baseline is the variant first by name; the other is compared with it.
    assert arms["firm"]["vs_baseline"] is None and arms["plain"]["vs_baseline"]["baseline"] == "firm"
    versus = arms["plain"]["vs_baseline"]
    assert versus["difference"] == pytest.approx(
        arms["plain"]["cure_rate"] - arms["firm"]["cure_rate"], abs=1e-5
    )
    assert versus["ci95"][0] <= versus["difference"] <= versus["ci95"][1]


def test_given_a_bad_response_model_when_simulate_runs_then_it_exits_naming_line_and_field(tmp_path):
    bad = tmp_path / "responses.yaml"
    bad.write_text("name: x\ndefault:\n  pay: 0.2\nchannels:\n  sms: {pay: 2}\n")
    result = dunning(
        "simulate", str(EXAMPLES / "policy.yaml"), "--responses", str(bad), "--out", str(tmp_path)
    )
    assert result.returncode == 2
    assert f"{bad}:5: channels.sms.pay: Input should be less than or equal to 1" in result.stderr


def test_given_a_challenger_with_a_holdout_when_simulated_vs_a_policy_then_money_rolls_and_holdout_print_and_plot(
    tmp_path,
):
    def simulate_cli(seed: int, jobs: int) -> tuple[subprocess.CompletedProcess[str], Path]:
        out = tmp_path / f"sim-{seed}-{jobs}"
        ran = dunning(
            "simulate", str(EXAMPLES / "policy.yaml"), "--vs", str(EXAMPLES / "policy-challenger.yaml"),
            "--cases", "300", "--days", "20", "--seed", str(seed), "--jobs", str(jobs), "--out", str(out),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        return ran, out

    def figures_of(ran: subprocess.CompletedProcess[str], out: Path) -> tuple[list[str], list[str]]:
        """What a strategist reads: the printed figures and the page's, without wall times and paths."""
        varying = ("simulated 300 case(s)", "plots and page:", "wall time")
        printed = [line for line in ran.stdout.splitlines() if not line.startswith(varying)]
        page = (out / "index.html").read_text(encoding="utf-8").splitlines()
        return printed, [line for line in page if "wall time" not in line]

    # Given the example policy, and the champion/challenger policy with a 5% holdout
    # When both are simulated side by side with a seed
    ran, out = simulate_cli(seed=5, jobs=1)
    # Then the terminal shows every policy and strategy: money per currency and its curve, roll rates, the holdout
    for title in ("simulated, side by side", "roll rates over the run", "against the 'holdout' holdout"):
        assert title in ran.stdout, title
    page = (out / "index.html").read_text(encoding="utf-8")
    for column in (
        "cn-consumer",
        "cn-challenger: champion",
        "cn-challenger: challenger",
        "cn-challenger: holdout",
    ):
        assert f"<th>{column}</th>" in page, column
    for line in (
        "recovered CNY",
        "CNY per case by day 7",
        "per case vs champion CNY (95% CI)",
        "failed at the provider",
        "1-30 d: rolled on",
        "paid in full vs holdout",
        "per case vs holdout CNY",
    ):
        assert f"<th>{line}</th>" in page, line
    assert "<th>(contacted)</th>" in page and "champion</td>" in page
    # And it draws the recovery curves and roll rates, which the page lists and shows
    for name in ("recovery_curve_CNY.png", "roll_rates.png", "cure_curve.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f'href="{name}"' in page and f'src="{name}"' in page, name
    # And the same seed gives the same figures, whatever the number of workers; another seed, others
    same = simulate_cli(seed=5, jobs=2)
    assert figures_of(ran, out) == figures_of(*same)
    other = simulate_cli(seed=6, jobs=1)
    assert figures_of(ran, out)[1] != figures_of(*other)[1]
