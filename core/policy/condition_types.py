"""Type-checking a condition before it meets a case.

Each fact has a declared type (:mod:`~dunning.core.policy.facts`), so
``locale > 3``, ``tags + 1``, ``amount_due in 5`` or ``amount_due / 0`` can be
refused by ``dunning policy check`` instead of failing for some case at run
time. What always fails is an error; what fails only for some cases (a fact
that may be none) is a warning. ``x is not none and ...`` guards ``x``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from jinja2 import nodes

from dunning.core.policy.facts import Fact, FactType

__all__ = ["Kind", "Shape", "TypeReport", "check_types"]

Kind = Literal["number", "text", "boolean", "date", "list", "none"]

#: Every kind a value may have: the shape of what the checker cannot tell.
_ALL: frozenset[Kind] = frozenset(("number", "text", "boolean", "date", "list", "none"))

#: Comparison operators that order their operands.
_ORDERING = frozenset(("gt", "gteq", "lt", "lteq"))

#: How each operator reads back in a message.
_SYMBOL = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gteq": ">=",
    "lt": "<",
    "lteq": "<=",
    "in": "in",
    "notin": "not in",
    "Add": "+",
    "Sub": "-",
    "Mul": "*",
    "Div": "/",
    "FloorDiv": "//",
    "Mod": "%",
}


@dataclass(frozen=True)
class Shape:
    """What a sub-expression may evaluate to: its kinds and, for a list, its items' kinds."""

    kinds: frozenset[Kind]
    items: frozenset[Kind] = frozenset()

    def describe(self, kinds: frozenset[Kind] | None = None) -> str:
        chosen = self.kinds if kinds is None else kinds
        words = [f"list of {_words(self.items)}" if k == "list" and self.items else k for k in sorted(chosen)]
        return " or ".join(words)


def _words(kinds: frozenset[Kind]) -> str:
    return " or ".join(sorted(kinds))


_FACT_SHAPES: dict[FactType, Shape] = {
    FactType.NUMBER: Shape(frozenset({"number"})),
    FactType.TEXT: Shape(frozenset({"text"})),
    FactType.BOOLEAN: Shape(frozenset({"boolean"})),
    FactType.TEXT_LIST: Shape(frozenset({"list"}), frozenset({"text"})),
    FactType.DATE: Shape(frozenset({"date"})),
    FactType.NUMBER_OR_NONE: Shape(frozenset({"number", "none"})),
    FactType.TEXT_OR_NONE: Shape(frozenset({"text", "none"})),
    FactType.BOOLEAN_OR_NONE: Shape(frozenset({"boolean", "none"})),
    FactType.DATE_OR_NONE: Shape(frozenset({"date", "none"})),
}


@dataclass
class TypeReport:
    """What the checker found: errors (always wrong) and warnings (wrong for some cases)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_types(
    node: nodes.Node, facts: Mapping[str, Fact], evaluate: Callable[[nodes.Node], Any]
) -> TypeReport:
    """Check a compiled condition's tree; ``evaluate`` computes a sub-tree that uses no fact."""
    checker = _Checker(facts, evaluate)
    checker.shape(node, frozenset())
    if not _uses_facts(node) and not checker.report.errors:
        checker.constant_condition(node)
    return checker.report


def _uses_facts(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) or any(True for _ in node.find_all(nodes.Name))


class _Checker:
    """Walks the tree once, inferring each node's shape and noting misuse."""

    def __init__(self, facts: Mapping[str, Fact], evaluate: Callable[[nodes.Node], Any]) -> None:
        self.facts = facts
        self.evaluate = evaluate
        self.report = TypeReport()

    def shape(self, node: nodes.Node, guarded: frozenset[str]) -> Shape:
        """The shape of ``node``; ``guarded`` names facts known not to be none here."""
        before = len(self.report.errors)
        found = self._shape(node, guarded)
        literal = isinstance(node, nodes.Const | nodes.List | nodes.Tuple)
        if not literal and not _uses_facts(node) and len(self.report.errors) == before:
            self.constant(node)  # only where nothing inside was already reported
        return found

    def _shape(self, node: nodes.Node, guarded: frozenset[str]) -> Shape:
        if isinstance(node, nodes.Const):
            return _const_shape(node.value)
        if isinstance(node, nodes.Name):
            return self.name(node.name, guarded)
        if isinstance(node, nodes.List | nodes.Tuple):
            items: frozenset[Kind] = frozenset()
            for item in node.items:
                items |= self.shape(item, guarded).kinds
            return Shape(frozenset({"list"}), items)
        if isinstance(node, nodes.And | nodes.Or):
            return self.logic(node, guarded)
        if isinstance(node, nodes.Not):
            self.shape(node.node, guarded)
            return Shape(frozenset({"boolean"}))
        if isinstance(node, nodes.Neg | nodes.Pos):
            self.numeric(node.node, self.shape(node.node, guarded), f"{render(node)}: a sign")
            return Shape(frozenset({"number"}))
        if isinstance(node, nodes.BinExpr):
            return self.arithmetic(node, guarded)
        if isinstance(node, nodes.Compare):
            return self.compare(node, guarded)
        if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
            self.shape(node.test, guarded)
            yes = self.shape(node.expr1, guarded | not_none_if(node.test, True))
            no = self.shape(node.expr2, guarded | not_none_if(node.test, False))
            return Shape(yes.kinds | no.kinds, yes.items | no.items)
        if isinstance(node, nodes.Filter) and node.node is not None:
            return self.length(node.node, guarded)
        if isinstance(node, nodes.Test):
            self.shape(node.node, guarded)
            return Shape(frozenset({"boolean"}))
        return Shape(_ALL)

    def name(self, name: str, guarded: frozenset[str]) -> Shape:
        fact = self.facts.get(name)
        if not isinstance(fact, Fact):
            return Shape(_ALL)
        found = _FACT_SHAPES[fact.type]
        if name in guarded and "none" in found.kinds:
            return Shape(found.kinds - {"none"}, found.items)
        return found

    def logic(self, node: nodes.And | nodes.Or, guarded: frozenset[str]) -> Shape:
        left = self.shape(node.left, guarded)
        more = not_none_if(node.left, isinstance(node, nodes.And))
        right = self.shape(node.right, guarded | more)
        return Shape(left.kinds | right.kinds, left.items | right.items)

    def arithmetic(self, node: nodes.BinExpr, guarded: frozenset[str]) -> Shape:
        what = f"{render(node)}: arithmetic"
        left, right = self.shape(node.left, guarded), self.shape(node.right, guarded)
        if isinstance(node, nodes.Sub) and _dated(left) and _dated(right):
            # One day minus another: the days between them.
            self.present(node.left, left, f"{render(node)}: the days between two dates")
            self.present(node.right, right, f"{render(node)}: the days between two dates")
            return Shape(frozenset({"number"}))
        self.numeric(node.left, left, what)
        self.numeric(node.right, right, what)
        if isinstance(node, nodes.Div | nodes.FloorDiv | nodes.Mod) and not _uses_facts(node.right):
            divisor = self._value(node.right)
            if isinstance(divisor, int | Decimal) and not isinstance(divisor, bool) and divisor == 0:
                self.report.errors.append(f"{render(node)} divides by zero")
        return Shape(frozenset({"number"}))

    def numeric(self, node: nodes.Node, shape: Shape, what: str) -> None:
        if "number" not in shape.kinds:
            self.report.errors.append(f"{what} needs numbers, but {render(node)} is {shape.describe()}")
        elif shape.kinds == {"number", "none"} and isinstance(node, nodes.Name):
            self.report.warnings.append(
                f"{what} fails for a case where {node.name} is none: "
                f"guard it with '{node.name} is not none and ...'"
            )
        elif shape.kinds != {"number"}:
            self.report.warnings.append(f"{what} fails for a case where {render(node)} is not a number")

    def present(self, node: nodes.Node, shape: Shape, what: str) -> None:
        """Warn where a value that may be none is used as if it never were."""
        if "none" in shape.kinds and isinstance(node, nodes.Name):
            self.report.warnings.append(
                f"{what} fails for a case where {node.name} is none: "
                f"guard it with '{node.name} is not none and ...'"
            )

    def compare(self, node: nodes.Compare, guarded: frozenset[str]) -> Shape:
        left_node = node.expr
        left = self.shape(left_node, guarded)
        for operand in node.ops:
            right = self.shape(operand.expr, guarded)
            text = f"{render(left_node)} {_SYMBOL.get(operand.op, operand.op)} {render(operand.expr)}"
            if operand.op in ("in", "notin"):
                self.membership(text, left, operand.expr, right)
            else:
                self.comparable(text, operand.op, left, right)
            left_node, left = operand.expr, right
        return Shape(frozenset({"boolean"}))

    def comparable(self, text: str, op: str, left: Shape, right: Shape) -> None:
        lhs, rhs = left.kinds - {"none"}, right.kinds - {"none"}
        if not lhs or not rhs:
            if op in _ORDERING:
                self.report.warnings.append(f"{text} is never true: nothing is ordered against none")
            return
        pairs = {(a, b) for a in lhs for b in rhs}
        same = {(a, b) for a, b in pairs if a == b}
        if not same:
            self.report.errors.append(
                f"{text} compares {left.describe(lhs)} with {right.describe(rhs)}: "
                "write both sides of one kind"
            )
        elif same != pairs and op in _ORDERING:
            self.report.warnings.append(f"{text} fails for a case where its two sides differ in kind")

    def membership(self, text: str, left: Shape, right_node: nodes.Node, right: Shape) -> None:
        rhs = right.kinds - {"none"}
        if not rhs:
            return  # "x in none" is simply false
        if not rhs & {"list", "text"}:
            self.report.errors.append(
                f"{text}: 'in' needs a list or text on its right, but {render(right_node)} is "
                f"{right.describe(rhs)}"
            )
            return
        lhs = left.kinds - {"none"}
        if rhs == {"text"} and "text" not in lhs:
            self.report.errors.append(f"{text}: 'in' on text looks for text, not {left.describe(lhs)}")
        elif rhs == {"list"} and right.items and lhs and not lhs & right.items:
            self.report.errors.append(
                f"{text} is never true: {render(right_node)} holds {_words(right.items)}, "
                f"not {left.describe(lhs)}"
            )

    def length(self, inner: nodes.Node, guarded: frozenset[str]) -> Shape:
        shape = self.shape(inner, guarded)
        if not shape.kinds & {"list", "text"}:
            self.report.errors.append(
                f"length needs a list or text, but {render(inner)} is {shape.describe()}"
            )
        return Shape(frozenset({"number"}))

    def constant(self, node: nodes.Node) -> None:
        """A sub-expression that uses no fact must at least evaluate."""
        try:
            self.evaluate(node)
        except Exception as exc:  # any failure of a constant is the strategist's to fix
            self.report.errors.append(f"{render(node)} always fails: {type(exc).__name__}")

    def constant_condition(self, node: nodes.Node) -> None:
        value = self._value(node)
        if value is not _FAILED:
            outcome = "true" if bool(value) else "false"
            self.report.warnings.append(f"uses no fact: it is always {outcome}")

    def _value(self, node: nodes.Node) -> Any:
        try:
            return self.evaluate(node)
        except Exception:  # reported by constant()
            return _FAILED


#: Stands for a constant that failed to evaluate (already reported).
_FAILED = object()


def _dated(shape: Shape) -> bool:
    """Whether a value is a date (or none): the one kind besides numbers that subtracts."""
    return bool(shape.kinds - {"none"}) and shape.kinds <= {"date", "none"}


def _const_shape(value: Any) -> Shape:
    if isinstance(value, bool):
        return Shape(frozenset({"boolean"}))
    if isinstance(value, int | float | Decimal):
        return Shape(frozenset({"number"}))
    if isinstance(value, str):
        return Shape(frozenset({"text"}))
    if value is None:
        return Shape(frozenset({"none"}))
    return Shape(_ALL)


def not_none_if(node: nodes.Node, outcome: bool) -> frozenset[str]:
    """Facts that cannot be none once ``node`` has evaluated truthy (or falsy, for False)."""
    if isinstance(node, nodes.Not):
        return not_none_if(node.node, not outcome)
    if isinstance(node, nodes.Test) and node.name == "none" and isinstance(node.node, nodes.Name):
        return frozenset() if outcome else frozenset({node.node.name})
    if isinstance(node, nodes.And | nodes.Or):
        left, right = not_none_if(node.left, outcome), not_none_if(node.right, outcome)
        # "a and b" true: both held; "a or b" false: both failed; otherwise only what both imply.
        return left | right if isinstance(node, nodes.And) == outcome else left & right
    if outcome and isinstance(node, nodes.Name):
        return frozenset({node.name})  # none is falsy
    if outcome and isinstance(node, nodes.Compare):
        return _compared_names(node)
    return frozenset()


def _compared_names(node: nodes.Compare) -> frozenset[str]:
    """Names a true comparison proves are not none (ordering and membership are false for none)."""
    names: set[str] = set()
    left = node.expr
    for operand in node.ops:
        proves = operand.op in _ORDERING or operand.op in ("in", "notin")
        if operand.op == "eq":
            proves = any(isinstance(n, nodes.Const) and n.value is not None for n in (left, operand.expr))
        if proves:
            names |= {n.name for n in (left, operand.expr) if isinstance(n, nodes.Name)}
        left = operand.expr
    return frozenset(names)


def render(node: nodes.Node) -> str:
    """A condition's sub-expression written back, for messages."""
    if isinstance(node, nodes.Const):
        return _render_const(node.value)
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.List | nodes.Tuple):
        return "[" + ", ".join(render(i) for i in node.items) + "]"
    if isinstance(node, nodes.And | nodes.Or):
        word = "and" if isinstance(node, nodes.And) else "or"
        return f"({render(node.left)} {word} {render(node.right)})"
    if isinstance(node, nodes.BinExpr):
        symbol = _SYMBOL.get(type(node).__name__, "?")
        return f"{_operand(node.left)} {symbol} {_operand(node.right)}"
    if isinstance(node, nodes.Compare):
        ops = " ".join(f"{_SYMBOL.get(o.op, o.op)} {render(o.expr)}" for o in node.ops)
        return f"{render(node.expr)} {ops}"
    if isinstance(node, nodes.Not):
        return f"not {render(node.node)}"
    if isinstance(node, nodes.Neg):
        return f"-{render(node.node)}"
    if isinstance(node, nodes.Filter) and node.node is not None:
        return f"{render(node.node)}|{node.name}"
    if isinstance(node, nodes.Test):
        return f"{render(node.node)} is {node.name}"
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        return f"({render(node.expr1)} if {render(node.test)} else {render(node.expr2)})"
    return type(node).__name__.lower()


def _operand(node: nodes.Node) -> str:
    """An operand written back, in parentheses where it is itself an operation."""
    text = render(node)
    return f"({text})" if isinstance(node, nodes.BinExpr | nodes.Compare) else text


def _render_const(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
