"""The core speaks only dunning's vocabulary: no provider's name in its code.

The rule, read token by token: in ``core/**/*.py`` no name, string or other
code token may contain ``twilio``, ``fcm`` or ``firebase`` (in any case).
Comments and docstrings may name a provider to explain (an example, a legal
reference); code may not, so the core cannot branch on a provider, read a
provider's setting, or build a provider's text. Alembic revisions that have
already run are history and are exempt, each for the reason written here.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"
#: The provider names the core must not speak, in any case.
PROVIDER = re.compile(r"twilio|fcm|firebase", re.IGNORECASE)
#: Files exempt from the rule, with why: each must still need its exemption.
EXEMPT = {
    "store/migrations/versions/0004_quarantine_and_event_keys.py": (
        "a revision deployments have run: it namespaced the provider message ids then stored"
    ),
}


def docstring_positions(tree: ast.AST) -> set[tuple[int, int]]:
    """Where each docstring (of the module, a class or a function) starts."""
    found = set()
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        first = node.body[0] if isinstance(node, owners) and node.body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            found.add((first.lineno, first.col_offset))
    return found


def provider_words(source: str) -> list[tuple[int, str]]:
    """(line, token) of every code token naming a provider: comments and docstrings skipped."""
    docstrings = docstring_positions(ast.parse(source))
    hits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE):
            continue
        if token.type == tokenize.STRING and token.start in docstrings:
            continue
        if PROVIDER.search(token.string):
            hits.append((token.start[0], token.string))
    return hits


def core_files() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts)


def test_given_the_core_sources_then_no_code_token_names_a_provider():
    offences = []
    for path in core_files():
        relative = path.relative_to(CORE).as_posix()
        if relative in EXEMPT:
            continue
        for line, token in provider_words(path.read_text(encoding="utf-8")):
            offences.append(f"core/{relative}:{line}: {token}")
    assert not offences, "the core names a provider outside comments and docstrings:\n" + "\n".join(offences)


def test_every_exemption_is_still_needed():
    for relative in EXEMPT:
        path = CORE / relative
        assert path.exists(), f"exempt file core/{relative} is gone: drop its exemption"
        assert provider_words(path.read_text(encoding="utf-8")), (
            f"core/{relative} no longer needs its exemption"
        )


def test_the_rule_catches_names_strings_and_attributes_but_not_explanations():
    # Given code that names a provider in each way the rule forbids, and explanations it allows
    source = '''"""Module docstring: Twilio is fine here."""
import firebase_admin
x = settings.twilio_from  # a Twilio comment is fine
y = "FCM token"
def f():
    """Twilio statuses, explained."""
    return {"sent": "ok"}
'''
    # Then only the code tokens are reported, each with its line
    assert provider_words(source) == [(2, "firebase_admin"), (3, "twilio_from"), (4, '"FCM token"')]
