"""A hostile or broken policy file is refused at its line, in bounded memory; ordinary YAML still works."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from dunning.core.errors import PolicyError
from dunning.core.policy.compile import check_policy, load_policy
from dunning.core.policy.yamlbounds import MAX_BYTES, MAX_DEPTH, MAX_NODES
from dunning.core.policy.yamlpos import load_located

#: Nine levels of nine aliases each: a billion "lol"s once expanded.
BOMB = 'name: t\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{child}: &{child} [{', '.join(['*' + parent] * 9)}]\n"
    for parent, child in zip("abcdefgh", "bcdefghi", strict=True)
)

#: A policy that reuses a step with a ``<<:`` merge and a whole ladder by alias.
ANCHORED = """\
name: anchored
preset: conservative
segments:
  - {name: big, when: "amount_due >= 5000", ladder: firm}
  - {name: default, ladder: gentle}
ladders:
  gentle: &gentle
    start_after: 1d
    steps:
      - &text {channel: sms, template: overdue_notice, wait: 2d}
      - {channel: push, template: overdue_notice, wait: 1d}
      - <<: *text
        template: overdue_firm
        wait: 3d
    then: repeat_last
  firm: *gentle
"""


def refused(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_located(text, "p.yaml")
    return [str(p) for p in info.value.problems]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("dunning")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)


def test_given_an_alias_bomb_when_loaded_then_it_is_refused_at_its_line_in_little_memory():
    # Given the billion-laughs file; When it is loaded under tracemalloc
    tracemalloc.start()
    try:
        found = refused(BOMB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Then it is refused at the line where the expansion passes the bound, before expanding it
    assert found == [f"p.yaml:6: too many values (more than {MAX_NODES} with aliases expanded)"]
    assert peak < 2 * 1024 * 1024


def test_given_a_structure_that_contains_itself_when_loaded_then_its_alias_line_is_named():
    assert refused("name: t\nloop: &a\n  - 1\n  - *a\n") == [
        "p.yaml:4: alias *a refers to a value that contains it (a loop)"
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: t\ndeep: " + "[" * 100_000 + "]" * 100_000 + "\n", 2),
        ("name: t\ndeep:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), MAX_DEPTH + 2),
        # shallow anchor, reused deep: the expansion is what counts
        ("a: &a " + "[" * 15 + "]" * 15 + "\nb: " + "[" * 10 + "*a" + "]" * 10 + "\n", 2),
    ],
    ids=["flow", "block", "alias"],
)
def test_given_deep_nesting_when_loaded_then_it_is_refused_at_its_line(text, line):
    assert refused(text) == [f"p.yaml:{line}: nested too deeply (more than {MAX_DEPTH} levels)"]


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system ['true']",
        "!!python/name:os.system",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!custom x",
        "! x",
    ],
)
def test_given_an_explicit_tag_when_loaded_then_it_is_refused_at_its_line(tagged):
    found = refused(f"name: t\nsegments: []\nodd: {tagged}\n")
    assert len(found) == 1 and found[0].startswith("p.yaml:3: explicit tag") and "not allowed" in found[0]


def test_given_a_tag_directive_renaming_the_core_tags_when_loaded_then_it_is_refused():
    found = refused("%TAG !! tag:example.com,2026:\n---\nname: !!str t\n")
    assert found[0].startswith("p.yaml:3: explicit tag 'tag:example.com,2026:str'")


def test_given_a_core_schema_tag_when_loaded_then_it_keeps_its_meaning():
    # Given "!!str" to keep a leading zero; Then the value is the string as written
    assert load_located("code: !!str 0800\nn: !!int '7'\n").data == {"code": "0800", "n": 7}


def test_given_a_file_over_the_size_bound_when_loaded_then_the_line_past_the_bound_is_named(
    tmp_path, registry
):
    # Given a file of comment lines past the bound
    line = "# " + "x" * 97 + "\n"  # 100 bytes
    text = "name: t\n" + line * (MAX_BYTES // 100 + 10)
    path = tmp_path / "huge.yaml"
    path.write_text(text, encoding="utf-8")
    expected_line = 1 + (MAX_BYTES - 8) // 100 + 1
    # When it is loaded from disk or checked as text; Then both refuse it at the same line
    with pytest.raises(PolicyError) as info:
        load_policy(path, channels=registry.channel_specs(), presets=registry.presets)
    assert (
        str(info.value.problems[0])
        == f"{path}:{expected_line}: file too large: a policy may be at most 256 KiB"
    )
    found = check_policy(text, file="p.yaml", channels=registry.channel_specs(), presets=registry.presets)
    assert [p.line for p in found] == [expected_line]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: t\nx: *nowhere\n", "p.yaml:2: alias *nowhere has no anchor &nowhere before it"),
        ("name: t\nmax: " + "9" * 5000 + "\n", "p.yaml:2: max: not a usable value"),
        ("name: t\nx: {<<: 5}\n", "p.yaml:2: x: << merges a mapping or a list of mappings"),
    ],
    ids=["undefined-alias", "endless-integer", "merge-of-a-scalar"],
)
def test_given_other_broken_yaml_when_loaded_then_each_names_its_line(text, expected):
    found = refused(text)
    assert found[0].startswith(expected), found


def test_given_ordinary_anchors_and_merges_when_compiled_then_they_work(make_policy):
    # Given a step reused with "<<:" and a ladder reused by alias
    policy = make_policy(ANCHORED)
    # Then the merged step takes the anchor's channel with its own template and wait
    gentle = policy.ladders["gentle"]
    assert [(s.channel, s.template, s.wait.days) for s in gentle.steps] == [
        ("sms", "overdue_notice", 2),
        ("push", "overdue_notice", 1),
        ("sms", "overdue_firm", 3),
    ]
    assert [s.template for s in policy.ladders["firm"].steps] == [s.template for s in gentle.steps]


def test_given_a_mistake_inside_a_merged_value_when_checked_then_the_anchor_line_is_named(registry):
    # Given the anchored step's channel misspelled on line 10
    text = ANCHORED.replace("&text {channel: sms,", "&text {channel: fax,")
    found = check_policy(text, file="p.yaml", channels=registry.channel_specs(), presets=registry.presets)
    # Then every step that merges or aliases it points at line 10, under its own field
    assert [f"{p.line}: {p.field}" for p in found if "unknown channel 'fax'" in p.message] == [
        "10: ladders.gentle.steps[0].channel",
        "10: ladders.gentle.steps[2].channel",
        "10: ladders.firm.steps[0].channel",
        "10: ladders.firm.steps[2].channel",
    ]


def test_given_hostile_files_when_policy_check_runs_then_it_exits_1_with_lines_and_no_traceback(tmp_path):
    # Given a bomb, a loop and a tagged object written to disk
    files = {
        "bomb.yaml": (BOMB, ":6: too many values"),
        "loop.yaml": ("name: t\nx: &a [*a]\n", ":2: alias *a refers to a value that contains it"),
        "tag.yaml": (
            textwrap.dedent("name: t\nx: !!python/object/apply:os.system ['true']\n"),
            ":2: explicit tag",
        ),
        "huge.yaml": ("name: t\n" + "# padding\n" * (MAX_BYTES // 10 + 1), "file too large"),
    }
    for name, (text, expected) in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        # When a strategist checks it
        result = cli("policy", "check", str(path))
        # Then the check fails with the file and line, and nobody sees a traceback
        assert result.returncode == 1, (name, result.stderr)
        assert f"{path}" in result.stderr and expected in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
