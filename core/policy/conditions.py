"""Segment and step conditions: small expressions over a case's facts, never ``eval``.

``amount_due >= 5000 and days_overdue >= 3`` is parsed with Jinja2's expression
grammar and compiled into plain Python closures over a small, closed set of
node kinds — comparisons, ``and``/``or``/``not``, ``in``, arithmetic, literals,
``length`` — so it is safe by construction (no attribute access, no calls) and
fast enough for a million cases a tick. Only the names in :data:`FACTS` may
appear: a misspelled field fails ``dunning policy check``, not a tick, and so
does a misuse of a fact's type (:mod:`~dunning.core.policy.condition_types`).
Whatever a condition raises for a case at run time comes out as one
:class:`ConditionError`, so a caller catches one type.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dunning.core.policy.condition_types import check_types
from dunning.core.policy.facts import FACTS, Fact

__all__ = ["FACTS", "Condition", "ConditionError", "compile_condition"]

_ENV = ImmutableSandboxedEnvironment()

Facts = Mapping[str, Any]
Node = Callable[[Facts], Any]

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}


def _subtract(left: Any, right: Any) -> Any:
    """``a - b``; for two dates, the whole days between them (``today - last_login``)."""
    if isinstance(left, date) and isinstance(right, date):
        return (left - right).days
    return left - right


_ARITHMETIC: dict[type[nodes.BinExpr], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: _subtract,
    nodes.Mul: operator.mul,
    nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv,
    nodes.Mod: operator.mod,
}


class ConditionError(ValueError):
    """A condition does not compile, uses a name that is not a fact, or fails on a case."""


@dataclass(frozen=True)
class Condition:
    """A compiled condition; call it with the facts of a case.

    ``warnings`` are what ``policy check`` should say about it (a fact that
    may be none, a condition that uses no fact).
    """

    source: str
    _fn: Node
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __call__(self, facts: Facts) -> bool:
        return bool(self.value(facts))

    def value(self, facts: Facts) -> Any:
        """The expression's own value (a number for a priority), not only its truth."""
        try:
            return self._fn(facts)
        except Exception as exc:  # one error type for every way a case can fail it
            raise ConditionError(f"condition {self.source!r} failed: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The class of a failure, with Python's own message where that names only types or keys."""
    if isinstance(exc, TypeError | ArithmeticError | KeyError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__  # another message might carry a case's values


def compile_condition(source: str, facts: Mapping[str, Fact] = FACTS) -> Condition:
    """Compile ``source``; raise ConditionError on bad syntax, an unknown name or construct, or a type error."""
    try:
        template = _ENV.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        raise ConditionError(f"not a valid condition: {exc.message}") from exc
    output = template.body[0]
    if not isinstance(output, nodes.Output) or len(output.nodes) != 1:
        raise ConditionError("not a valid condition: write one expression")
    tree = output.nodes[0]
    fn = _compile(tree, facts)
    report = check_types(tree, facts, lambda node: _compile(node, facts)({}))
    if report.errors:
        raise ConditionError("; ".join(dict.fromkeys(report.errors)))
    return Condition(source, fn, tuple(dict.fromkeys(report.warnings)))


def _compile(node: nodes.Node, facts: Mapping[str, Fact]) -> Node:
    if isinstance(node, nodes.Const):
        value = Decimal(str(node.value)) if isinstance(node.value, float) else node.value
        return lambda _: value
    if isinstance(node, nodes.Name):
        if node.name in ("true", "false", "none", "True", "False", "None"):
            constant = {"true": True, "false": False, "none": None}[node.name.lower()]
            return lambda _: constant
        if node.name not in facts:
            known = ", ".join(sorted(facts))
            raise ConditionError(f"unknown name {node.name} (known: {known})")
        name = node.name
        return lambda f: f[name]
    if isinstance(node, nodes.List | nodes.Tuple):
        items = [_compile(item, facts) for item in node.items]
        return lambda f: [item(f) for item in items]
    if isinstance(node, nodes.And):
        left, right = _compile(node.left, facts), _compile(node.right, facts)
        return lambda f: left(f) and right(f)
    if isinstance(node, nodes.Or):
        left, right = _compile(node.left, facts), _compile(node.right, facts)
        return lambda f: left(f) or right(f)
    if isinstance(node, nodes.Not):
        inner = _compile(node.node, facts)
        return lambda f: not inner(f)
    if isinstance(node, nodes.Neg):
        inner = _compile(node.node, facts)
        return lambda f: -inner(f)
    if isinstance(node, nodes.Pos):
        return _compile(node.node, facts)
    if isinstance(node, nodes.BinExpr) and type(node) in _ARITHMETIC:
        fn = _ARITHMETIC[type(node)]
        left, right = _compile(node.left, facts), _compile(node.right, facts)
        return lambda f: fn(left(f), right(f))
    if isinstance(node, nodes.Compare):
        return _compare(node, facts)
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        test, yes, no = _compile(node.test, facts), _compile(node.expr1, facts), _compile(node.expr2, facts)
        return lambda f: yes(f) if test(f) else no(f)
    if isinstance(node, nodes.Filter) and node.name == "length" and node.node is not None and not node.args:
        inner = _compile(node.node, facts)
        return lambda f: len(inner(f))
    if isinstance(node, nodes.Test) and node.name == "none" and not node.args:
        inner = _compile(node.node, facts)
        return lambda f: inner(f) is None
    raise ConditionError(f"not allowed in a condition: {type(node).__name__.lower()}")


def _compare(node: nodes.Compare, facts: Mapping[str, Fact]) -> Node:
    first = _compile(node.expr, facts)
    steps = []
    for operand in node.ops:
        if operand.op not in _COMPARE:
            raise ConditionError(f"not allowed in a condition: operator {operand.op}")
        steps.append((operand.op, _COMPARE[operand.op], _compile(operand.expr, facts)))

    def compare(f: Facts) -> bool:
        left = first(f)
        for op, fn, right_of in steps:
            right = right_of(f)
            # An unknown value (no earlier debt, say) satisfies no ordering or membership.
            if (left is None or right is None) and op not in ("eq", "ne"):
                return False
            if not fn(left, right):
                return False
            left = right
        return True

    return compare
