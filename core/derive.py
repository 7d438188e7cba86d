"""The gradient as a formula: reverse mode over an expression's graph, done symbolically, in wxb's own language.

    derivation = derive(parse("sum((W @ X + b - Y) ** 2)"), {"W": (3, 4), "X": (4, 5), "b": (3,), "Y": (3, 5)})
    derivation.text("W")      # '2 * (W @ X + b - Y) @ X.T'

Each primitive's VJP is a template in the expression language (TEMPLATES: one line per primitive, read as
autograd's numpy_vjps.py): G is the upstream gradient, x and y the arguments, f the primitive's value, p the
exponent of ** and q = p − 1, n the count of entries a mean averages. Two pseudo-functions stand for what
depends on how reductions keep their axis: expand(G) puts a reduced gradient back along the summed axis, and
keep_sum(t) sums t along the primitive's axis, keeping that axis for broadcasting. A function called in a template
works along the primitive's own axis (softmax(x) in logsumexp's).

The terms are built by smart constructors that simplify as a person writes: no `* 1` and no G where G = 1,
constants folded and moved to the front, (Aᵀ)ᵀ = A, transposes moved onto the operands ((A @ B).T = B.T @ A.T),
x + x = 2 * x, P @ x + Q @ x = (P + Q) @ x, exp(log_softmax(z)) = softmax(z). Where the operands' shapes are
known, a gradient is summed back to a broadcast operand's shape once (`sum(G, axis=1)` for a column bias), as
`unbroadcast` does with numbers, and a gradient constant along an axis (G = 1 from a sum) stays small: a number,
a row or a column that broadcasts, summed out of a matrix product where it meets one (1 @ X.T is written
sum(X, axis=1).T). With names only, operands are taken as matrices and none as broadcast (Derivation.assumed
says which were taken so). Repeated subexpressions are named once (z1, z2, …: Derivation.where). Pure: no I/O.

Formulas are written for the engine they run on: reductions_keep_axis() and left_vector_is_column() probe it, so
the same templates write `sum(G, axis=0)` where a reduction keeps its axis and `sum(G, axis=0).T` where it does
not, and `G @ x.T` where a 1-D left operand of @ is a column.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .broadcast import Shape
from .errors import WxbError
from .expr import Expression, Node
from .rules import PRIMITIVES, resolved_axis

# ---- The templates: ∂L/∂(argument) for the upstream gradient G, one line per primitive ----

TEMPLATES: dict[str, tuple[str, ...]] = {
    # ---- elementwise, two arguments (summed back to a broadcast argument's shape by reduced_to) ----
    "add":         ("G", "G"),
    "sub":         ("G", "-G"),
    "mul":         ("G * y", "G * x"),
    "div":         ("G / y", "-G * f / y"),
    # ---- elementwise, one argument ----
    "neg":         ("-G",),
    "pow":         ("p * G * x ** q",),
    "relu":        ("G * sign(f)",),
    "tanh":        ("G * (1 - f ** 2)",),
    "sigmoid":     ("G * f * (1 - f)",),
    "exp":         ("G * f",),
    "log":         ("G / x",),
    "sqrt":        ("G / (2 * f)",),
    "abs":         ("G * sign(x)",),
    "sign":        ("0",),
    "sin":         ("G * cos(x)",),
    "cos":         ("-G * sin(x)",),
    "log1p":       ("G / (1 + x)",),
    "softplus":    ("G * sigmoid(x)",),
    # ---- linear algebra (a scalar or row G is handled by matmul: Σ over the contracted axis) ----
    "matmul":      ("G @ y.T", "x.T @ G"),
    "T":           ("G.T",),
    "trace":       ("expand(G) * diag(diag(x) ** 0)",),
    "det":         ("expand(G) * f * inv(x).T",),
    "logdet":      ("expand(G) * inv(x).T",),
    "inv":         ("-(f.T @ G @ f.T)",),
    "solve":       ("-solve(x.T, G) @ f.T", "solve(x.T, G)"),
    "diag":        ("diag(G)",),
    # ---- along an axis (shape kept) ----
    "softmax":     ("f * (G - keep_sum(G * f))",),
    "log_softmax": ("G - exp(f) * keep_sum(G)",),
    # ---- reductions (an axis, or every axis, summed away) ----
    "sum":         ("expand(G)",),
    "mean":        ("expand(G / n)",),
    "logsumexp":   ("expand(G) * softmax(x)",),
    "norm":        ("expand(G) * x / f",),
}
# Templates written ahead of their primitives (the calc branch adds them); tests skip each until it exists.
NEW_PRIMITIVES = ("trace", "det", "logdet", "inv", "solve", "diag", "sin", "cos", "log1p", "softplus", "norm")
# Primitives whose gradient has no closed formula in the language.
UNWRITABLE = {
    "max": "the gradient of max goes to the first maximiser of each slice, which no formula of wxb's language selects",
    "min": "the gradient of min goes to the first minimiser of each slice, which no formula of wxb's language selects",
}
FULL_G = ("solve", "diag")  # templates that need G in f's own shape (a function of it, not broadcasting)
REDUCTIONS = ("sum", "mean", "logsumexp", "norm", "trace", "det", "logdet")


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
    return _terms([node])[id(node)]


def _terms(order: Iterable[Node]) -> dict[int, Term]:
    terms: dict[int, Term] = {}

    def build(node: Node) -> Term:
        if id(node) not in terms:
            args = tuple(build(arg) for arg in node.args)
            if node.op == "var":
                terms[id(node)] = var(node.name)
            elif node.op == "const":
                terms[id(node)] = const(node.value)
            else:
                terms[id(node)] = Term(node.op, args, axis=node.axis, default_axis=node.default_axis,
                                       power=node.power, keepdims=getattr(node, "keepdims", None))
        return terms[id(node)]

    for node in order:
        build(node)
    return terms


# ---- Writing a term: minimal parentheses by Python's precedence ----

BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@"}
LEVEL = {"add": 1, "sub": 1, "mul": 2, "div": 2, "matmul": 2, "neg": 3, "pow": 4}


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


# ---- The world the formulas are evaluated in: how this engine treats reductions and 1-D operands ----

@functools.cache
def reductions_keep_axis() -> bool:
    """True when sum(x, axis=k) keeps axis k with length 1 (so G broadcasts back without help)."""
    import numpy as np

    from .engine import Problem

    return Problem.build("sum(x, axis=0)", {"x": np.zeros((2, 3))}).f_shape == (1, 3)


@functools.cache
def left_vector_is_column() -> bool:
    """True when a 1-D left operand of @ is a column (x @ y.T an outer product), as the maths writes it."""
    import numpy as np

    from .engine import Problem

    try:
        return Problem.build("x @ y", {"x": np.zeros(3), "y": np.zeros((1, 2))}).f_shape == (3, 2)
    except WxbError:
        return False


def shape_rule(op: str, node: Node, shapes: list[Shape]) -> Shape:
    """The shape of a primitive's value from its arguments' (the engine's own rule, so formulas check as they
    will run). The one place that knows how the engine states shape rules."""
    from .engine import node_shape

    return node_shape(node, shapes)


# ---- The writer: smart constructors that simplify, and shapes where they are known ----

@dataclass
class Writer:
    """Builds simplified terms; with operand shapes (`shapes`, None for names only) it knows every term's shape."""

    shapes: Mapping[str, Shape] | None
    keeps: bool = field(default_factory=reductions_keep_axis)
    column_left: bool = field(default_factory=left_vector_is_column)
    known: dict[Term, Shape] = field(default_factory=dict)

    # ---- shapes ----

    def shape(self, t: Term) -> Shape | None:
        """t's shape, or None when the operands' shapes are not known."""
        if self.shapes is None:
            return None
        if t.op == "const":
            return ()
        if t.op == "var":
            return tuple(self.shapes[t.name])
        if t not in self.known:
            args = [self.shape(arg) for arg in t.args]
            written = {"axis": t.axis} if not t.default_axis else {}
            written |= {"keepdims": t.keepdims} if t.keepdims is not None else {}
            keywords = tuple((name, written.get(name, default)) for name, default in PRIMITIVES[t.op].keywords)
            stand_in = Node(t.op, tuple(Node("var", name=f"a{i}", text=text(arg)) for i, arg in enumerate(t.args)),
                            power=t.power, keywords=keywords, given=frozenset(written), text=text(t))
            self.known[t] = shape_rule(t.op, stand_in, [s for s in args if s is not None])
        return self.known[t]

    def ndim(self, t: Term, default: int = 2) -> int:
        shape = self.shape(t)
        return default if shape is None else len(shape)

    # ---- elementwise ----

    def add(self, a: Term, b: Term) -> Term:
        if is_const(a, 0):
            return b
        if is_const(b, 0):
            return a
        if is_const(a) and is_const(b):
            return const(a.value + b.value)
        if b.op == "neg":
            return self.sub(a, b.args[0])
        if a.op == "neg":
            return self.sub(b, a.args[0])
        if a == b:
            return self.mul(const(2), a)
        (ca, ra), (cb, rb) = _scaled(a), _scaled(b)
        if ra == rb:
            return self.mul(const(ca + cb), ra)
        if a.op == "matmul" and b.op == "matmul":
            fa, fb = _factors(a), _factors(b)
            if fa[-1] == fb[-1] and len(fa) > 1 and len(fb) > 1:  # P @ x + Q @ x = (P + Q) @ x
                return self.matmul(self.add(_chain(fa[:-1]), _chain(fb[:-1])), fa[-1])
            if fa[0] == fb[0] and len(fa) > 1 and len(fb) > 1:  # X @ P + X @ Q = X @ (P + Q)
                return self.matmul(fa[0], self.add(_chain(fa[1:]), _chain(fb[1:])))
        if a.op == "T" and a.args[0] == b:  # A.T + A → A + A.T, as written in books
            return Term("add", (b, a))
        return Term("add", (a, b))

    def sub(self, a: Term, b: Term) -> Term:
        if is_const(b, 0):
            return a
        if is_const(a, 0):
            return self.neg(b)
        if is_const(a) and is_const(b):
            return const(a.value - b.value)
        if b.op == "neg":
            return self.add(a, b.args[0])
        if a.op == "neg":
            return self.neg(self.add(a.args[0], b))
        (ca, ra), (cb, rb) = _scaled(a), _scaled(b)
        if ra == rb and ca != cb:
            return self.mul(const(ca - cb), ra)
        return Term("sub", (a, b))

    def neg(self, a: Term) -> Term:
        if a.op == "const":
            return const(-a.value)
        if a.op == "neg":
            return a.args[0]
        if a.op == "mul" and is_const(a.args[0]):
            return self.mul(const(-a.args[0].value), a.args[1])
        if a.op == "sub":
            return Term("sub", (a.args[1], a.args[0]))
        return Term("neg", (a,))

    def mul(self, a: Term, b: Term) -> Term:
        if is_const(a, 0) or is_const(b, 0):
            return ZERO
        if is_const(a, 1):
            return b
        if is_const(b, 1):
            return a
        if is_const(a) and is_const(b):
            return const(a.value * b.value)
        if is_const(a, -1):
            return self.neg(b)
        if is_const(b):
            return self.mul(b, a)
        if a.op == "neg":
            return self.neg(self.mul(a.args[0], b))
        if b.op == "neg":
            return self.neg(self.mul(a, b.args[0]))
        if is_const(a) and b.op == "mul" and is_const(b.args[0]):
            return self.mul(const(a.value * b.args[0].value), b.args[1])
        if b.op == "mul" and is_const(b.args[0]):
            return self.mul(b.args[0], self.mul(a, b.args[1]))
        if a.op == "mul" and is_const(a.args[0]) and not is_const(b):
            return self.mul(a.args[0], self.mul(a.args[1], b))
        if is_const(a) and b.op == "matmul":  # 2 * (A @ B) is written 2 * A @ B
            return Term("matmul", (self.mul(a, b.args[0]), b.args[1]))
        if is_const(a) and b.op == "div" and is_const(b.args[0]):
            return self.div(const(a.value * b.args[0].value), b.args[1])
        if is_const(a) and b.op == "div" and is_const(b.args[1]) and b.args[1].value != 0:
            return self.mul(const(a.value / b.args[1].value), b.args[0])
        if a.op == "div" and is_const(a.args[0], 1):  # 1 / y * x is x / y
            return self.div(b, a.args[1])
        if b.op == "div" and is_const(b.args[0], 1):
            return self.div(a, b.args[1])
        return Term("mul", (a, b))

    def div(self, a: Term, b: Term) -> Term:
        if is_const(a, 0):
            return ZERO
        if is_const(b, 1):
            return a
        if is_const(a) and is_const(b) and b.value != 0:
            return const(a.value / b.value)
        if a.op == "neg":
            return self.neg(self.div(a.args[0], b))
        if a.op == "div" and is_const(a.args[1]) and is_const(b):  # x / 3 / 3 is x / 9
            return self.div(a.args[0], const(a.args[1].value * b.value))
        if a.op == "mul" and is_const(a.args[0]) and is_const(b) and b.value != 0:
            return self.mul(const(a.args[0].value / b.value), a.args[1])
        if is_const(a) and b.op == "mul" and is_const(b.args[0]) and b.args[0].value != 0:
            return self.div(const(a.value / b.args[0].value), b.args[1])
        return Term("div", (a, b))

    def pow(self, a: Term, p: float) -> Term:
        if p == 1:
            return a
        if a.op == "const":
            return const(a.value ** p)
        return Term("pow", (a,), power=p)

    def call(self, op: str, args: tuple[Term, ...], axis: int | None = None, default_axis: bool = True,
             keepdims: bool | None = None) -> Term:
        if op == "exp" and args[0].op == "log_softmax":  # exp(log_softmax(z)) = softmax(z)
            inner = args[0]
            return Term("softmax", inner.args, axis=inner.axis, default_axis=inner.default_axis)
        if op == "exp" and args[0].op == "log":
            return args[0].args[0]
        if op in ("sum", "mean") and args[0].op == "neg":  # constants and signs come out of a sum
            return self.neg(self.call(op, args[0].args, axis, default_axis, keepdims))
        if op in ("sum", "mean") and args[0].op == "mul" and is_const(args[0].args[0]):
            return self.mul(args[0].args[0], self.call(op, args[0].args[1:], axis, default_axis, keepdims))
        return Term(op, args, axis=axis, default_axis=default_axis, keepdims=keepdims)

    # ---- linear algebra ----

    def transpose(self, a: Term) -> Term:
        """aᵀ, moved onto operands where that reads better: (Aᵀ)ᵀ = A, (A @ Bᵀ)ᵀ = B @ Aᵀ and (A + B)ᵀ = Aᵀ + Bᵀ
        for operands A and B; a larger subexpression keeps its .T, so it is still the same subexpression. A 1-D
        operand is a column, so (xᵀ)ᵀ is x."""
        if a.op == "const":
            return a
        if a.op == "T":
            return a.args[0]
        if a.op == "neg":
            return self.neg(self.transpose(a.args[0]))
        if a.op == "mul" and is_const(a.args[0]):
            return self.mul(a.args[0], self.transpose(a.args[1]))
        if a.op == "div" and is_const(a.args[1]):
            return self.div(self.transpose(a.args[0]), a.args[1])
        if a.op == "matmul" and any(map(_leaf, a.args)) and all(self.ndim(arg) >= 2 for arg in a.args):
            return self.matmul(self.transpose(a.args[1]), self.transpose(a.args[0]))
        if a.op in ("add", "sub", "mul", "div") and all(_leaf(arg) and self.ndim(arg) != 1 for arg in a.args):
            return self._binary(a.op, self.transpose(a.args[0]), self.transpose(a.args[1]))
        return Term("T", (a,))

    def matmul(self, a: Term, b: Term) -> Term:
        """a @ b; a factor that is constant along the contracted axis (a scalar, a column G beside a row) is
        summed out of the other: c·1 @ B = c·1 (1ᵀB)."""
        if is_const(a, 0) or is_const(b, 0):
            return ZERO
        if a.op == "neg":
            return self.neg(self.matmul(a.args[0], b))
        if b.op == "neg":
            return self.neg(self.matmul(a, b.args[0]))
        if b.op == "mul" and is_const(b.args[0]):
            return self.matmul(self.mul(b.args[0], a), b.args[1])
        if a.op == "mul" and is_const(a.args[0]) and a.args[1].op == "mul" and is_const(a.args[1].args[0]):
            return self.matmul(self.mul(a.args[0], a.args[1]), b)
        if _is_identity(a):
            return b
        if _is_identity(b):
            return a
        sa, sb = self.shape(a), self.shape(b)
        if sa is not None and sb is not None:
            if len(sa) == 1 and len(sb) >= 2:  # a derived 1-D left factor is a column, as everywhere in wxb
                a = self.matrix(a)
            if sa == ():
                return self.mul(a, self.summed(b, -2))
            if sb == ():
                return self.mul(b, self.summed(a, -1))
            if len(sa) >= 2 and len(sb) >= 2 and sa[-1] == 1 != sb[-2]:
                return Term("matmul", (a, self.summed(b, -2)))
            if len(sa) >= 2 and len(sb) >= 2 and sb[-2] == 1 != sa[-1]:
                return Term("matmul", (self.matrix(self.summed(a, -1)), b))
        elif is_const(a) or is_const(b):
            scalar, other, axis = (a, b, -2) if is_const(a) else (b, a, -1)
            return self.mul(scalar, self.summed(other, axis))
        return Term("matmul", (a, b))

    def matrix(self, t: Term) -> Term:
        """A 1-D t (a column, by wxb's rule) as the left operand of @: on an engine where a 1-D left operand is a
        row, written t.T.T, a (m, 1) column."""
        if self.column_left or self.ndim(t) != 1:
            return t
        return Term("T", (Term("T", (t,)),))

    def _binary(self, op: str, a: Term, b: Term) -> Term:
        build = {"add": self.add, "sub": self.sub, "mul": self.mul, "div": self.div, "matmul": self.matmul}[op]
        return build(a, b)

    # ---- reductions: Σ along an axis kept (for broadcasting back), and a gradient summed to a shape ----

    def summed(self, t: Term, axis: int | None, full: Shape | None = None) -> Term:
        """Σ t along `axis` (counted in t's axes, or in full's: the shape t stands for, by broadcasting), kept
        so that it broadcasts against t: sum(t, axis=1) is a column (m,) by wxb's rule; along an axis where t has
        length 1, the sum is that length times t."""
        shape = self.shape(t)
        if full is not None and shape is not None and shape != full:
            own = (shape[0], 1) if len(shape) == 1 and len(full) >= 2 else shape
            own = (1,) * (len(full) - len(own)) + own
            axes = range(len(full)) if axis is None else [axis % len(full)] if full else []
            if all(own[a] == 1 for a in axes):
                return self.mul(const(math.prod(full[a] for a in axes)), t)
            if axis is None:
                return self.call("sum", (t,))
            axis = axis % len(full) - (len(full) - len(shape) if len(shape) != 1 else 0)
        if axis is None:
            return self.call("sum", (t,))
        nd = len(shape) if shape is not None else 2
        if shape is not None and nd == 0:
            return t
        a = axis % nd
        if shape is not None and shape[a] == 1:
            return t
        if t.op == "T" and nd == 2 and (self.ndim(t.args[0]) == 2):
            return self.transpose(self.summed(t.args[0], 1 - a))
        if nd == 1:
            return self.call("sum", (t,))
        if self.keeps:
            return self.call("sum", (t,), axis=a, default_axis=False)
        if nd == 2 and a == 1:
            return self.call("sum", (t,), axis=1, default_axis=False)
        if nd == 2 and a == 0:
            return self.transpose(self.call("sum", (t,), axis=0, default_axis=False))
        raise DeriveError(f"summing {text(t)} over axis {a} of {nd} while keeping that axis needs reductions that "
                          "keep their axis, which this version of wxb does not have",
                          hint="give the operands 2 axes or fewer")

    def reduced_to(self, t: Term, target: Shape, full: Shape) -> Term:
        """t (broadcasting to full) summed over the axes an operand of shape `target` was broadcast along; an
        axis along which t is constant is a factor (its length), not a sum."""
        from .broadcast import broadcast_axes

        dropped, kept = broadcast_axes(target, full)
        own = self.shape(t) or ()
        own = (own[0], 1) if len(own) == 1 and len(full) >= 2 else own
        lead = len(full) - len(own)
        factor = 1
        kept_here: list[int] = []
        dropped_here: list[int] = []
        for axis in dropped + kept:
            if axis < lead or own[axis - lead] == 1:
                factor *= full[axis]
                if axis >= lead and axis in dropped:  # an axis of length 1 the operand does not have: dropped
                    dropped_here.append(axis - lead)
            else:
                (kept_here if axis in kept else dropped_here).append(axis - lead)
        result = t
        if kept_here or dropped_here:
            if {i for i, n in enumerate(own) if n != 1} <= set(kept_here + dropped_here):
                result = self.call("sum", (t,))  # every axis along which t varies: a scalar
            else:
                for axis in sorted(kept_here, reverse=True):
                    result = self.summed(result, axis)
                for axis in sorted(dropped_here, reverse=True):
                    result = self._dropped(result, axis)
        return self.mul(const(factor), result) if factor != 1 else result

    def _dropped(self, t: Term, axis: int) -> Term:
        """Σ t over a leading axis, the axis removed (a batch axis the operand does not have)."""
        return self.call("sum", (t,), axis=axis, default_axis=False, keepdims=False if self.keeps else None)

    def expanded(self, g: Term, node: Node, x: Term) -> Term:
        """A reduced gradient put back along the node's summed axis, so that it broadcasts against x. With names
        only, where no shape says whether a later @ needs it whole, it is made whole: g * x ** 0 (but a number
        stays a number)."""
        if self.shapes is None and not (is_const(g) and node.axis is None):
            return self.mul(self._expanded(g, node, x), self.pow(x, 0.0))
        return self._expanded(g, node, x)

    def _expanded(self, g: Term, node: Node, x: Term) -> Term:
        shape = self.shape(x)
        axis = resolved_axis(node, len(shape) if shape is not None else 2)
        if axis is None:
            return g
        nd = len(shape) if shape is not None else 2
        if (self.keeps and node_keepdims(node)) or nd <= 1 or self.shape(g) == ():
            return g
        a = axis % nd
        if nd == 2 and a == 1:
            return g
        if nd == 2 and a == 0:
            return self.transpose(g)
        raise DeriveError(f"putting the gradient of {node.text} back along axis {axis} of {nd} needs reductions "
                          "that keep their axis, which this version of wxb does not have",
                          hint="give the operands 2 axes or fewer")


def _factors(t: Term) -> list[Term]:
    """The factors of a chain of matrix products, A @ B @ C → [A, B, C]."""
    return _factors(t.args[0]) + _factors(t.args[1]) if t.op == "matmul" else [t]


def _chain(factors: list[Term]) -> Term:
    """The product of factors, left to right, as written (no simplification)."""
    product = factors[0]
    for factor in factors[1:]:
        product = Term("matmul", (product, factor))
    return product


def _leaf(t: Term) -> bool:
    """An operand, a number, or an operand's transpose."""
    return t.op in ("var", "const") or (t.op == "T" and t.args[0].op == "var")


def _scaled(t: Term) -> tuple[float, Term]:
    """t as (c, r) with t = c * r: 2 * x → (2, x), x → (1, x)."""
    if t.op == "mul" and is_const(t.args[0]):
        return t.args[0].value, t.args[1]
    if t.op == "neg":
        c, r = _scaled(t.args[0])
        return -c, r
    return 1.0, t


def _is_identity(t: Term) -> bool:
    """diag(diag(X) ** 0): the identity of X's size, as the language writes it."""
    return (t.op == "diag" and t.args[0].op == "pow" and t.args[0].power == 0 and t.args[0].args[0].op == "diag")


def node_keepdims(node: Node) -> bool:
    """Whether a reduction node keeps its axis (the default where reductions keep it)."""
    return getattr(node, "keepdims", True) is not False


# ---- Templates instantiated ----

@functools.cache
def _template(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


DEFAULT_AXIS: dict[str, int | None] = {"softmax": -2, "log_softmax": -2, "sum": None, "mean": None,
                                       "logsumexp": None}


def instantiate(source: str, env: Mapping[str, Term], node: Node, writer: Writer) -> Term:
    """A template with G, x, y, f, p, q, n bound, built with the writer's simplifications."""

    def build(tree: ast.expr) -> Term:
        if isinstance(tree, ast.Name):
            return env[tree.id]
        if isinstance(tree, ast.Constant) and isinstance(tree.value, int | float):
            return const(float(tree.value))
        if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.USub):
            return writer.neg(build(tree.operand))
        if isinstance(tree, ast.Attribute) and tree.attr == "T":
            return writer.transpose(build(tree.value))
        if isinstance(tree, ast.BinOp):
            left = build(tree.left)
            if isinstance(tree.op, ast.Pow):
                exponent = build(tree.right)
                return writer.pow(left, exponent.value)
            op = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.MatMult: "matmul"}
            return writer._binary(op[type(tree.op)], left, build(tree.right))
        if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
            args = tuple(build(arg) for arg in tree.args)
            if tree.func.id == "expand":
                return writer.expanded(args[0], node, env["x"])
            if tree.func.id == "keep_sum":
                x_shape = writer.shape(env["x"])
                return writer.summed(args[0], resolved_axis(node, len(x_shape) if x_shape is not None else 2), x_shape)
            if tree.func.id not in DEFAULT_AXIS:
                return writer.call(tree.func.id, args)
            same = node.default_axis and DEFAULT_AXIS[tree.func.id] == DEFAULT_AXIS.get(node.op, "none")
            return writer.call(tree.func.id, args, axis=node.axis, default_axis=same)
        raise AssertionError(f"template construct {ast.dump(tree)}")

    return build(_template(source))


# ---- Reverse mode ----

@dataclass(frozen=True)
class Derivation:
    """dL/dθ for each operand asked for, as terms: formulas (every subexpression written out), and the same with
    repeated subexpressions named (named, in terms of the where bindings, each in terms of earlier ones)."""

    expression: Expression
    formulas: Mapping[str, Term]
    named: Mapping[str, Term]
    where: tuple[tuple[str, Term], ...]
    upstream: bool
    f_shape: Shape | None
    assumed: tuple[str, ...]

    def text(self, name: str) -> str:
        """dL/d(name), every subexpression written out: what `wxb forward -e` evaluates."""
        return text(self.formulas[name])

    def named_text(self, name: str) -> str:
        """dL/d(name) in terms of the where bindings."""
        return text(self.named[name], self._names())

    def where_text(self) -> list[tuple[str, str]]:
        """The where bindings as (name, formula) pairs, each in terms of the earlier ones."""
        names: dict[Term, str] = {}
        lines = []
        for label, term in self.where:
            lines.append((label, text(term, names)))
            names[term] = label
        return lines

    def _names(self) -> dict[Term, str]:
        return {term: label for label, term in self.where}


def derive(expression: Expression, shapes: Mapping[str, Shape] | None = None, wrt: Iterable[str] | None = None, *,
           seed: Term | None = None, share: bool = True) -> Derivation:
    """dL/dθ for each operand θ in wrt (default: all) as formulas in the expression language. shapes: every
    operand's shape, or None (names only: no operand taken to be broadcast). The upstream gradient ∂L/∂f is the
    operand G, or `seed` (ONE for L = sum(f)); G = 1 when f is a scalar. share: name repeated subexpressions."""
    names = tuple(expression.operands) if wrt is None else tuple(wrt)
    order = expression.nodes()
    terms = _terms(order)
    root = expression.root
    writer = Writer(None if shapes is None else {**shapes})
    f_shape = writer.shape(terms[id(root)]) if shapes is not None else None
    scalar = f_shape == () if f_shape is not None else _scalar(root)
    if seed is None:
        seed = ONE if scalar else var("G")
    if shapes is not None and seed.op == "var":
        writer.shapes = {**shapes, seed.name: f_shape or ()}
    active = _depends_on(order, set(names))
    adjoints: dict[int, Term] = {id(root): seed}
    assumed: list[str] = []
    for node in reversed(order):
        if node.op in ("var", "const") or id(node) not in adjoints:
            continue
        g = adjoints.pop(id(node))
        for index, arg in enumerate(node.args):
            if id(arg) not in active:
                continue
            grad = _edge(writer, node, index, g, terms, assumed)
            if is_const(grad, 0):
                continue
            adjoints[id(arg)] = writer.add(adjoints[id(arg)], grad) if id(arg) in adjoints else grad
    operand_nodes = {node.name: node for node in order if node.op == "var"}
    formulas = {name: adjoints.get(id(operand_nodes[name]), ZERO) if name in operand_nodes else ZERO
                for name in names}
    named, where = shared(formulas, set(expression.operands)) if share else (formulas, ())
    return Derivation(expression, formulas, named, where, any(_uses(t, "G") for t in formulas.values()), f_shape,
                      tuple(dict.fromkeys(assumed)))


def _edge(writer: Writer, node: Node, index: int, g: Term, terms: Mapping[int, Term], assumed: list[str]) -> Term:
    """The gradient along one edge (node → its argument `index`), summed to the argument's shape."""
    if node.op in UNWRITABLE:
        raise DeriveError(f"cannot write the gradient through {node.text}: {UNWRITABLE[node.op]}",
                          hint="wxb backward gives its values")
    if node.op not in TEMPLATES:
        raise DeriveError(f"{node.op} has no gradient formula yet")
    x = terms[id(node.args[0])]
    env = {"G": g, "f": terms[id(node)], "x": x, "p": const(node.power), "q": const(node.power - 1)}
    if len(node.args) > 1:
        env["y"] = terms[id(node.args[1])]
    if node.op == "mean":
        env["n"] = _count(writer, node, x)
    if node.op == "matmul":
        env["G"] = _matmul_upstream(writer, node, index, g, env["x"], env["y"])
    elif node.op in FULL_G and writer.shape(g) not in (None, writer.shape(env["f"])):
        env["G"] = writer.mul(g, writer.pow(env["f"], 0.0))  # G broadcast to f's shape: G * f ** 0
    grad = instantiate(TEMPLATES[node.op][index], env, node, writer)
    arg = terms[id(node.args[index])]
    if len(node.args) == 2 and node.op != "matmul" and _elementwise(node.op):
        own, other, full = writer.shape(arg), writer.shape(terms[id(node.args[1 - index])]), writer.shape(env["f"])
        if own is None or other is None or full is None:
            if arg.op == "var":
                assumed.append(arg.name)
            return grad
        from .engine import aligned

        return writer.reduced_to(grad, aligned(own, other), full)
    if node.op == "matmul":
        return _matmul_edge(writer, node, index, grad, arg)
    return grad


def _matmul_upstream(writer: Writer, node: Node, index: int, g: Term, x: Term, y: Term) -> Term:
    """G for a matrix product's rules: a 1-D G (a column, by wxb's rule) as a (m, 1) matrix where it is the left
    operand of @. A 1-D left operand of @, a row on engines that follow NumPy there, and a 1-D operand beside a
    batch, are refused."""
    nx, ny = writer.ndim(x), writer.ndim(y)
    if not writer.column_left and nx == 1:
        raise DeriveError(f"{text(x)} is a 1-D left operand of @ in {node.text}, a row on this version of wxb: its "
                          "gradient formula is not written", hint=f"give {text(x)} as a column (k×1) and write "
                          f"{text(x)}.T @ …")
    if min(nx, ny) == 1 and max(nx, ny) >= 3:
        raise DeriveError(f"{node.text} multiplies a batch by a 1-D operand: its gradient formula is not written",
                          hint="give the 1-D operand as a matrix with one column")
    return writer.matrix(g) if index == 0 and writer.ndim(g) == 1 and nx >= 2 else g


def _matmul_edge(writer: Writer, node: Node, index: int, grad: Term, arg: Term) -> Term:
    """A matrix product's gradient summed over the batch axes its argument was broadcast along."""
    own, full = writer.shape(arg), writer.shape(grad)
    if own is None or full is None or len(own) < 2 or len(full) < 2:
        return grad
    wider = own[:len(own) - len(full)] if len(own) > len(full) else ()
    if not wider and (len(full) > len(own) or any(o == 1 != n for o, n in zip(own, full, strict=True))):
        return writer.reduced_to(grad, own, full)
    return grad


def _elementwise(op: str) -> bool:
    """True for a primitive whose arguments broadcast against each other."""
    row = PRIMITIVES.get(op)
    return row is not None and row.elementwise


def _count(writer: Writer, node: Node, x: Term) -> Term:
    """How many entries a mean averages: a number when shapes are known, else sum(x ** 0) along its axis."""
    shape = writer.shape(x)
    if shape is None:
        return Term("sum", (writer.pow(x, 0.0),), axis=node.axis, default_axis=node.default_axis)
    axis = resolved_axis(node, len(shape))
    return const(max(math.prod(shape) if axis is None else shape[axis], 1))


def _scalar(node: Node) -> bool:
    """f is a scalar whatever the shapes: a number, a reduction over every axis, or elementwise of scalars."""
    if node.op == "const":
        return True
    if node.op == "var":
        return False
    if node.op in REDUCTIONS and node.axis is None:  # trace, det, logdet: of a matrix, names only assume
        return True
    return node.op not in ("matmul", *REDUCTIONS) and all(_scalar(arg) for arg in node.args)


def _depends_on(order: Iterable[Node], names: set[str]) -> set[int]:
    found: set[int] = set()
    for node in order:
        if (node.op == "var" and node.name in names) or any(id(arg) in found for arg in node.args):
            found.add(id(node))
    return found


def _uses(t: Term, name: str) -> bool:
    """True when the operand `name` appears in t."""
    return var(name) in _parents_first([t], {})


# ---- Repeated subexpressions, named once ----

def _trivial(t: Term) -> bool:
    """Not worth a name: an operand, a number, an operand's transpose, a negation or a multiple (its inner part
    is named instead)."""
    return _leaf(t) or t.op == "neg" or (t.op == "mul" and is_const(t.args[0]))


def _occurrences(terms: Iterable[Term], names: Mapping[Term, str]) -> dict[Term, int]:
    """How often each subterm is written, not looking inside subterms already named (each named subterm's own
    arguments counted once): counted over the shared graph of terms, parents before children."""
    roots = list(terms) + [arg for t in names for arg in t.args]
    order = _parents_first(roots, names)
    counts: dict[Term, int] = {}
    for t in roots:
        counts[t] = counts.get(t, 0) + 1
    for t in order:
        if t in names:
            continue
        for arg in t.args:
            counts[arg] = counts.get(arg, 0) + counts.get(t, 0)
    return {t: n for t, n in counts.items() if t not in names}


def _parents_first(roots: list[Term], names: Mapping[Term, str]) -> list[Term]:
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


def shared(formulas: Mapping[str, Term], taken: set[str]) -> tuple[dict[str, Term], tuple[tuple[str, Term], ...]]:
    """The formulas with each repeated subexpression named once: largest first, then named z1, z2, … in order of
    use (z when there is one), never an operand's name."""
    named: dict[Term, str] = {}
    while True:
        counts = _occurrences(formulas.values(), named)
        repeated = [t for t, n in counts.items() if n >= 2 and not _trivial(t)]
        if not repeated:
            break
        named[max(repeated, key=lambda t: t.size())] = ""
    ordered = _in_order_of_use(list(formulas.values()), named)
    return dict(formulas), tuple(zip(_labels(len(ordered), taken), ordered, strict=True))


def _in_order_of_use(formulas: list[Term], named: Mapping[Term, str]) -> list[Term]:
    """The named subterms in the order they are first written, each after those it contains."""
    return [t for t in reversed(_parents_first(formulas, {})) if t in named]


def _labels(n: int, taken: set[str]) -> list[str]:
    """n fresh names: z alone, or z1, z2, …, skipping the operands' names."""
    if n == 1 and "z" not in taken:
        return ["z"]
    labels: list[str] = []
    i = 1
    while len(labels) < n:
        if f"z{i}" not in taken:
            labels.append(f"z{i}")
        i += 1
    return labels



def shaped_like(value: Any, shape: Shape) -> Any:
    """A formula's value in its operand's shape: a formula constant along an axis is written in a shape that
    broadcasts to the operand's (a 1-D value beside a matrix is a column), and a (m, 1) column reads as (m,)."""
    import numpy as np

    v = np.asarray(value)
    if v.shape == tuple(shape):
        return v
    if v.ndim == 1 and len(shape) >= 2:
        v = v.reshape(v.shape[0], 1)
    if v.size == math.prod(shape) and [n for n in v.shape if n != 1] == [n for n in shape if n != 1]:
        return v.reshape(shape)
    return np.broadcast_to(v, shape).copy()
