"""Every hook is documented: a page per hookspec, checked against ``core/hookspecs.py`` itself.

Modelled on datasette's test that fails when a plugin hook lacks
documentation: a new hook without its page, a page whose signature drifted
from the spec, or a page for a hook that no longer exists, fails here.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
import yaml

from dunning.core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "hooks"
SPECS = {
    node.name: node
    for node in ast.parse((ROOT / "core" / "hookspecs.py").read_text(encoding="utf-8")).body
    if isinstance(node, ast.FunctionDef) and node.name.startswith("dunning_")
}


def page(name: str) -> str:
    path = PAGES / f"{name}.md"
    assert path.exists(), f"hook {name} has no documentation page: write docs/hooks/{name}.md"
    return path.read_text(encoding="utf-8")


def test_the_specs_were_found():
    assert sorted(SPECS) == sorted(n for n in dir(hookspecs) if n.startswith("dunning_"))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_hook_has_a_page_headed_by_its_call(name):
    params = ", ".join(arg.arg for arg in SPECS[name].args.args)
    assert page(name).splitlines()[0] == f"# {name}({params})"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_page_shows_the_spec_signature_exactly(name):
    spec = SPECS[name]
    decorator = "@" + ast.unparse(spec.decorator_list[0])
    signature = f"def {name}({ast.unparse(spec.args)}) -> {ast.unparse(spec.returns)}:"
    assert f"```python\n{decorator}\n{signature}\n```" in page(name), (
        f"docs/hooks/{name}.md: signature drifted"
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_page_says_how_results_combine_as_the_spec_does(name):
    first = "firstresult=True" in ast.unparse(SPECS[name].decorator_list[0])
    expected = "First non-None result wins." if first else "All implementations run."
    text = page(name)
    assert f"**{expected}**" in text
    assert inspect.getdoc(getattr(hookspecs, name)).splitlines()[0] in text
    assert "## Example" in text and "@hookimpl" in text


def test_no_page_documents_a_hook_that_does_not_exist():
    documented = {p.stem for p in PAGES.glob("dunning_*.md")}
    assert documented == set(SPECS), f"stale pages: {sorted(documented - set(SPECS))}"


def test_the_site_navigation_and_the_hook_index_list_every_hook():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    hooks = next(entry["Hooks"] for entry in config["nav"] if isinstance(entry, dict) and "Hooks" in entry)
    assert {f"hooks/{name}.md" for name in SPECS} <= set(hooks)
    index = (PAGES / "index.md").read_text(encoding="utf-8")
    assert all(f"[`{name}`]({name}.md)" in index for name in SPECS)
