"""Terms: formulas as trees that compare by structure, and how wxb's language writes them (minimal parentheses
by the precedence of core.expr's one table of the infix syntax). Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import WxbError
from ..expr import SYNTAX
from ..nodes import Node


class DeriveError(WxbError, ValueError):
    """A gradient wxb cannot write as a formula (the primitive has none, or the engine cannot express a step)."""


# ---- Terms: formulas as trees that compare by structure ----

@dataclass(frozen=True, eq=False)
class Term:
    """A formula: an operand ('var'), a number ('const'), or a primitive applied to terms (with its axis, keepdims
    and exponent). Equal when written the same, so repeated subexpressions are found by comparing."""

    op: str
    args: tuple[Term, ...] = ()
    name: str = ""
    value: float = 0.0
    axis: int | None = None
    default_axis: bool = True
    power: float = 0.0
    keepdims: bool | None = None
    key: int = field(default=0, repr=False)
    written: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", hash((self.op, self.args, self.name, self.value, self.axis,
                                              self.default_axis, self.power, self.keepdims)))
        object.__setattr__(self, "written", 1 + sum(arg.written for arg in self.args))

    def __hash__(self) -> int:
        return self.key

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Term) or self.key != other.key:
            return False
        return (self.op, self.args, self.name, self.value, self.axis, self.default_axis, self.power,
                self.keepdims) == (other.op, other.args, other.name, other.value, other.axis, other.default_axis,
                                   other.power, other.keepdims)

    def size(self) -> int:
        """How many nodes the written formula has."""
        return self.written


def var(name: str) -> Term:
    return Term("var", name=name)


def const(value: float) -> Term:
    return Term("const", value=float(value) + 0.0)  # -0.0 written as 0


ZERO, ONE = const(0.0), const(1.0)


def is_const(t: Term, value: float | None = None) -> bool:
    return t.op == "const" and (value is None or t.value == value)


def term_of(node: Node) -> Term:
    """A node of a parsed expression as a term, as written (never simplified)."""
    return terms_of([node])[id(node)]


def terms_of(order: Iterable[Node]) -> dict[int, Term]:
    terms: dict[int, Term] = {}

    def build(node: Node) -> Term:
        if id(node) not in terms:
            args = tuple(build(arg) for arg in node.args)
            if node.op == "var":
                terms[id(node)] = var(node.name)
            elif node.op == "const":
                terms[id(node)] = const(node.value)
            else:
                keepdims = None if node.keepdims is None else bool(node.keepdims)
                terms[id(node)] = Term(node.op, args, axis=node.axis, default_axis=node.default_axis,
                                       power=node.power, keepdims=keepdims)
        return terms[id(node)]

    for node in order:
        build(node)
    return terms


# ---- Writing a term: minimal parentheses by Python's precedence ----

BINARY = {row.primitive: row.symbol for row in SYNTAX if row.form == "infix" and row.primitive != "pow"}
LEVEL = {row.primitive: row.precedence for row in SYNTAX if row.form != "postfix"}


def number_text(x: float) -> str:
    """A constant as a person writes it: 2, 0.5, -1, 1e-08, and a fraction with a long expansion as one: 2 / 15."""
    if float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    text = repr(float(x))
    if len(text) > 8:
        for d in range(2, 1001):
            n = round(x * d)
            if n / d == x and abs(n) < 10**6:
                return f"{n} / {d}"
    return text


def level(t: Term) -> int:
    """How tightly t binds: 1 for + −, 2 for * / @ (and a fraction 2 / 15), 3 for unary minus, 4 for **, 5 for
    an atom."""
    if t.op == "const":
        if " / " in number_text(t.value):
            return 2
        return 3 if t.value < 0 or math.copysign(1.0, t.value) < 0 else 5
    return LEVEL.get(t.op, 5)


def text(t: Term, names: Mapping[Term, str] | None = None) -> str:
    """The formula in wxb's expression language, subexpressions in `names` written by their name."""
    if names and t in names:
        return names[t]
    if t.op == "var":
        return t.name
    if t.op == "const":
        return number_text(t.value)
    args = [text(arg, names) for arg in t.args]
    own = level(t)
    if t.op in BINARY:
        left = args[0] if _level(t.args[0], names) >= own else f"({args[0]})"
        right = args[1] if _level(t.args[1], names) > own else f"({args[1]})"
        return f"{left} {BINARY[t.op]} {right}"
    if t.op == "neg":  # -(x * y) is -x * y: unary minus binds tighter, and a sign is exact
        return "-" + (args[0] if _level(t.args[0], names) >= 2 else f"({args[0]})")
    if t.op == "pow":
        base = args[0] if _level(t.args[0], names) > own else f"({args[0]})"
        return f"{base} ** {number_text(t.power)}"
    if t.op == "T":
        bare = _level(t.args[0], names) == 5 and (t.args[0].op != "const" or (names is not None and t.args[0] in names))
        return (args[0] if bare else f"({args[0]})") + ".T"
    extra = "" if t.default_axis else f", axis={t.axis}"
    extra += "" if t.keepdims is None else f", keepdims={t.keepdims}"
    return f"{t.op}({', '.join(args)}{extra})"


def _level(t: Term, names: Mapping[Term, str] | None) -> int:
    return 5 if names and t in names else level(t)



def factors(t: Term) -> list[Term]:
    """The factors of a chain of matrix products, A @ B @ C → [A, B, C]."""
    return factors(t.args[0]) + factors(t.args[1]) if t.op == "matmul" else [t]


def chain(factors: list[Term]) -> Term:
    """The product of factors, left to right, as written (no simplification)."""
    product = factors[0]
    for factor in factors[1:]:
        product = Term("matmul", (product, factor))
    return product


def leaf(t: Term) -> bool:
    """An operand, a number, or an operand's transpose."""
    return t.op in ("var", "const") or (t.op == "T" and t.args[0].op == "var")


def scaled(t: Term) -> tuple[float, Term]:
    """t as (c, r) with t = c * r: 2 * x → (2, x), x → (1, x)."""
    if t.op == "mul" and is_const(t.args[0]):
        return t.args[0].value, t.args[1]
    if t.op == "neg":
        c, r = scaled(t.args[0])
        return -c, r
    if t.op == "matmul" and t.args[0].op in ("mul", "neg"):  # 2 * A @ B is 2 * (A @ B)
        c, r = scaled(t.args[0])
        return (c, Term("matmul", (r, t.args[1]))) if c != 1 else (1.0, t)
    return 1.0, t


def is_identity(t: Term) -> bool:
    """eye(X): the identity of X's size, as the language writes it."""
    return t.op == "eye"


def node_keepdims(node: Node) -> bool:
    """Whether a reduction node keeps its axis (the default, unless keepdims=False is written)."""
    return node.keepdims is not False



def uses(t: Term, name: str) -> bool:
    """True when the operand `name` appears in t."""
    return var(name) in parents_first([t], {})


def parents_first(roots: list[Term], names: Mapping[Term, str]) -> list[Term]:
    """Every subterm once, each before its arguments (not looking inside named subterms)."""
    seen: set[Term] = set()
    post: list[Term] = []
    stack: list[tuple[Term, bool]] = [(t, False) for t in roots]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            post.append(t)
            continue
        if t in seen:
            continue
        seen.add(t)
        stack.append((t, True))
        if t not in names:
            stack.extend((arg, False) for arg in t.args if arg not in seen)
    return post[::-1]
