"""The gradient as a formula: reverse mode over an expression's graph, done symbolically, in wxb's own language.

    derivation = derive(parse("sum((W @ X + b - Y) ** 2)"), {"W": (3, 4), "X": (4, 5), "b": (3,), "Y": (3, 5)})
    derivation.text("W")      # '2 * (W @ X + b - Y) @ X.T'

Each primitive's VJP is a template in the expression language, kept in its row of the table of primitives
(`PRIMITIVES[op].formulas`, one per argument, read as autograd's numpy_vjps.py): G is the upstream gradient,
x and y the arguments, f the primitive's value, p the exponent of ** and q = p − 1, n the count of entries a
mean averages. Four pseudo-functions stand for what depends on shapes: expand(G) puts a reduced gradient back
along the reduced axes, keep_sum(t) sums t along the primitive's axis keeping it, full(G) is G in f's own shape
and eye(x) the identity of x's last two axes. A function called in a template works along the primitive's own
axis (softmax(x) in logsumexp's). A row with no formula says why (`no_formula`), and derive refuses in one line.

The terms are built by smart constructors that simplify as a person writes: no `* 1` and no G where G = 1,
constants folded and moved to the front, (Aᵀ)ᵀ = A, transposes moved onto the operands ((A @ B).T = B.T @ A.T),
x + x = 2 * x, P @ x + Q @ x = (P + Q) @ x, exp(log_softmax(z)) = softmax(z). Where the operands' shapes are
known, a gradient is summed back to a broadcast operand's shape once (`sum(G, axis=1)` for a column bias), as
`unbroadcast` does with numbers, and a gradient constant along an axis (G = 1 from a sum) stays small: a number,
a row or a column that broadcasts, summed out of a matrix product where it meets one (1 @ X.T is written
sum(X, axis=1).T). With names only, operands are taken as matrices and none as broadcast (Derivation.assumed
says which were taken so). Repeated subexpressions are named once (z1, z2, …: Derivation.where). Pure: no I/O.

Formulas are written for the engine they run on: a reduction with axis= keeps that axis (so a row bias's
gradient is `sum(G, axis=0)`, no .T), and a 1-D operand is a column on either side of @ (`G @ x.T`).
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import WxbError
from .expr import Expression, Node
from .notation import shape_text
from .primitives import PRIMITIVES
from .shapes import Shape, aligned, as_matrix_shape, resolved_axis


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
                keepdims = None if node.keepdims is None else bool(node.keepdims)
                terms[id(node)] = Term(node.op, args, axis=node.axis, default_axis=node.default_axis,
                                       power=node.power, keepdims=keepdims)
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


# ---- The shapes the engine gives ----

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
        if ca == cb != 1:  # c·r + c·s = c·(r + s)
            return self.mul(const(ca), self.add(ra, rb))
        if ca < 0 < cb:  # −c·r + s is written s − c·r
            return self.sub(b, self.mul(const(-ca), ra))
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
        if b.op in ("add", "sub") and self._outer(b):  # a * (G - s), G a column and s a row: a * G - a * s
            return self._binary(b.op, self.mul(a, b.args[0]), self.mul(a, b.args[1]))
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
        linear = PRIMITIVES[op].linear if op in PRIMITIVES else ()
        for i, arg in enumerate(args):  # constants and signs come out of an argument the function is linear in
            if i < len(linear) and linear[i] and (arg.op == "neg" or (arg.op == "mul" and is_const(arg.args[0]))):
                c, inner = (const(-1.0), arg.args[0]) if arg.op == "neg" else arg.args
                rest = (*args[:i], inner, *args[i + 1:])
                return self.mul(c, self.call(op, rest, axis, default_axis, keepdims))
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
        if a.op == "matmul" and any(map(_leaf, a.args)):
            moved = self.matmul(self.transpose(a.args[1]), self.transpose(a.args[0]))
            if all(self.ndim(arg) >= 2 for arg in a.args) or self._same_matrix(moved, Term("T", (a,))):
                return moved
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
            if sa == ():
                return self.mul(a, self.summed(b, -2))
            if sb == ():  # a 1-D a is a column: constant along its one column already
                return self.mul(b, a if len(sa) == 1 else self.summed(a, -1))
            ma, mb = as_matrix_shape(sa), as_matrix_shape(sb)
            if ma[-1] == 1 != mb[-2]:
                return self._product(a, self.summed(b, -2))
            if mb[-2] == 1 != ma[-1]:
                return self._product(self.summed(a, -1), b)
        elif is_const(a) or is_const(b):
            scalar, other, axis = (a, b, -2) if is_const(a) else (b, a, -1)
            return self.mul(scalar, self.summed(other, axis))
        return Term("matmul", (a, b))

    def _same_matrix(self, a: Term, b: Term) -> bool:
        """True when a and b have the same shape as matrices (a 1-D one a column), or shapes are not known."""
        try:
            sa, sb = self.shape(a), self.shape(b)
        except WxbError:
            return False
        return sa is None or sb is None or as_matrix_shape(sa) == as_matrix_shape(sb)

    def _product(self, a: Term, b: Term) -> Term:
        """a @ b, or a * b where one factor has been summed to a number."""
        return self.mul(a, b) if () in (self.shape(a), self.shape(b)) else Term("matmul", (a, b))

    def _outer(self, t: Term) -> bool:
        """True when t (a sum or difference) would enlarge both of its arguments: an outer sum, which the engine
        refuses."""
        try:
            self.shape(t)
        except WxbError:
            return self.shapes is not None
        return False

    def _binary(self, op: str, a: Term, b: Term) -> Term:
        build = {"add": self.add, "sub": self.sub, "mul": self.mul, "div": self.div, "matmul": self.matmul}[op]
        return build(a, b)

    # ---- reductions: Σ along an axis kept (for broadcasting back), and a gradient summed to a shape ----

    def summed(self, t: Term, axis: int | None, full: Shape | None = None) -> Term:
        """Σ t along `axis` (counted in t's axes, or in full's: the shape t stands for, by broadcasting), kept
        so that it broadcasts against t: sum(t, axis=1) is a column (m,) by wxb's rule; along an axis where t has
        length 1, the sum is that length times t."""
        shape = self.shape(t)
        if full is not None and shape is not None and len(shape) > len(full) == 1:  # t: the column (m, 1) of a
            full = (full[0], 1)  # 1-D value
        if full is not None and shape is not None and shape != full:
            own = (shape[0], 1) if len(shape) == 1 and len(full) >= 2 else shape
            own = (1,) * (len(full) - len(own)) + own
            axes = range(len(full)) if axis is None else [axis % len(full)] if full else []
            if all(own[a] == 1 for a in axes):
                return self.mul(const(math.prod(full[a] for a in axes)), t)
            if axis is None:  # each entry of t stands for as many as it is broadcast along
                repeats = math.prod(n for o, n in zip(own, full, strict=True) if o == 1)
                return self.mul(const(repeats), self.call("sum", (t,)))
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
        return self.call("sum", (t,), axis=a, default_axis=False)

    def reduced_to(self, t: Term, target: Shape, full: Shape) -> Term:
        """t (broadcasting to full) summed over the axes an operand of shape `target` was broadcast along; an
        axis along which t is constant is a factor (its length), not a sum."""
        from .shapes import broadcast_axes

        own = self.shape(t) or ()
        if len(own) > len(full) == 1:  # t is the (m, 1) column a 1-D f stands for
            full = (full[0], 1)
            target = aligned(target, full)
        dropped, kept = broadcast_axes(target, full)
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
        return self.call("sum", (t,), axis=axis, default_axis=False, keepdims=False)

    def expanded(self, g: Term, node: Node, x: Term) -> Term:
        """A reduced gradient put back along the node's summed axis, so that it broadcasts against x. With names
        only, where no shape says whether a later @ needs it whole, it is made whole: g * x ** 0 (but a number
        stays a number)."""
        if self.shapes is None and not (is_const(g) and node.axis is None):
            return self.mul(self._expanded(g, node, x), self.pow(x, 0.0))
        return self._expanded(g, node, x)

    def _expanded(self, g: Term, node: Node, x: Term) -> Term:
        shape = self.shape(x)
        if "axis" not in dict(PRIMITIVES[node.op].keywords):  # a matrix function: one value per matrix
            return self._per_matrix(g, node, shape)
        nd = len(shape) if shape is not None else 2
        axis = resolved_axis(node, nd)
        if axis is None or node_keepdims(node) or nd <= 1 or self.shape(g) == ():
            return g
        a = axis % nd
        if nd == 2:  # the axis dropped: a 1-D G is a column (axis 1 summed); as a row it needs .T (axis 0)
            return g if a == 1 else self.transpose(g)
        if a == 0:  # a leading axis comes back by broadcasting against x itself (g * x ** 0: its other arguments
            return self.mul(g, self.pow(x, 0.0))  # may be smaller, and an outer sum is refused)
        raise DeriveError(f"putting the gradient of {node.text} back along axis {node.axis} of {nd} needs an axis "
                          "inserted, which wxb's language cannot write", hint="keep the axis (the default): "
                          f"write {node.op}(…, axis={node.axis}) without keepdims=False")

    def _per_matrix(self, g: Term, node: Node, shape: Shape | None) -> Term:
        """G of a matrix function (one value per matrix of a batch) as it broadcasts against the matrices: as
        it is when there is one matrix (or G is the same for all), refused otherwise (it would need two axes
        inserted)."""
        g_shape = self.shape(g)
        if shape is None or g_shape is None or all(n == 1 for n in g_shape):
            return g
        raise DeriveError(f"putting the gradient of {node.text} back on each matrix of {node.args[0].text} "
                          f"{shape_text(shape)} needs two axes inserted, which wxb's language cannot write",
                          hint="derive with one matrix (no batch axes); wxb backward gives the values")

    def eye(self, x: Term, node: Node) -> Term:
        """The identity of x's last two axes, diag(diag(x) ** 0) (a batch summed out first, so one identity
        serves every matrix); refused for a non-square matrix, whose identity the language cannot write."""
        shape = self.shape(x)
        if shape is not None:
            m = as_matrix_shape(shape)
            if m[-1] != m[-2]:
                raise DeriveError(f"the gradient of {node.text} puts G on the diagonal of {node.args[0].text} "
                                  f"{shape_text(shape)}, which is not square: wxb's language writes square "
                                  "identities only (diag(v) of a vector)", hint="wxb backward gives the values")
            for _ in shape[:-2]:
                x = self._dropped(x, 0)
        return Term("diag", (self.pow(Term("diag", (x,)), 0.0),))

    def full(self, g: Term, f: Term) -> Term:
        """g in f's own shape, g * f ** 0, where it is smaller (a number, a row or a column that broadcasts)."""
        shape = self.shape(g)
        if (shape is None and not is_const(g)) or shape == self.shape(f):
            return g
        return self.mul(g, self.pow(f, 0.0))


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
    if t.op == "matmul" and t.args[0].op in ("mul", "neg"):  # 2 * A @ B is 2 * (A @ B)
        c, r = _scaled(t.args[0])
        return (c, Term("matmul", (r, t.args[1]))) if c != 1 else (1.0, t)
    return 1.0, t


def _is_identity(t: Term) -> bool:
    """diag(diag(X) ** 0): the identity of X's size, as the language writes it."""
    return (t.op == "diag" and t.args[0].op == "pow" and t.args[0].power == 0 and t.args[0].args[0].op == "diag")


def node_keepdims(node: Node) -> bool:
    """Whether a reduction node keeps its axis (the default, unless keepdims=False is written)."""
    return node.keepdims is not False


# ---- Templates instantiated ----

@functools.cache
def _template(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


@functools.cache
def _names(source: str) -> frozenset[str]:
    """Every name a template uses, its functions' included."""
    return frozenset(tree.id for tree in ast.walk(_template(source)) if isinstance(tree, ast.Name))


def _default_axis(op: str) -> int | str | None:
    """The axis a function takes when none is written ('' for a function without an axis)."""
    keywords = dict(PRIMITIVES[op].keywords) if op in PRIMITIVES else {}
    axis = keywords.get("axis", "")
    return "" if isinstance(axis, bool) else axis


def instantiate(source: str, env: Mapping[str, Term], node: Node, writer: Writer) -> Term:
    """A template with G, x, y, f, p, q, n bound, built with the writer's simplifications (expand, keep_sum, full
    and eye written out for the node's shapes)."""

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
            if tree.func.id == "full":
                return writer.full(args[0], env["f"])
            if tree.func.id == "eye":
                return writer.eye(args[0], node)
            own = _default_axis(tree.func.id)
            if own == "":
                return writer.call(tree.func.id, args)
            same = node.default_axis and own == _default_axis(node.op)
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
    operand G, or `seed` (ONE for L = sum(f)); G = 1 when f is a scalar or has one entry
    (the 1×1 quadratic form x.T @ A @ x: L = f, as backward has it). share: name repeated subexpressions."""
    names = tuple(expression.operands) if wrt is None else tuple(wrt)
    order = expression.nodes()
    terms = _terms(order)
    root = expression.root
    writer = Writer(None if shapes is None else {**shapes})
    f_shape = writer.shape(terms[id(root)]) if shapes is not None else None
    scalar = all(n == 1 for n in f_shape) if f_shape is not None else _scalar(expression)
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


def formula(node: Node, index: int) -> str:
    """The row's template for ∂L/∂(argument index), or a DeriveError saying why the row has none."""
    row = PRIMITIVES[node.op]
    if row.no_formula:
        raise DeriveError(f"cannot write the gradient through {node.text}: {row.no_formula}",
                          hint="wxb backward gives its values")
    if len(row.formulas) != row.arity:
        raise DeriveError(f"{node.op} has no gradient formula yet", hint="wxb backward gives its values")
    return row.formulas[index]


def _edge(writer: Writer, node: Node, index: int, g: Term, terms: Mapping[int, Term], assumed: list[str]) -> Term:
    """The gradient along one edge (node → its argument `index`), summed to the argument's shape."""
    row = PRIMITIVES[node.op]
    source = formula(node, index)
    x = terms[id(node.args[0])]
    env = {"G": g, "f": terms[id(node)], "x": x, "p": const(node.power), "q": const(node.power - 1)}
    if len(node.args) > 1:
        env["y"] = terms[id(node.args[1])]
    if "n" in _names(source):
        env["n"] = _count(writer, node, x)
    if row.unsummed is not None:
        _batched_vector(writer, node, x, env["y"])
    grad = instantiate(source, env, node, writer)
    arg = terms[id(node.args[index])]
    if row.elementwise and len(node.args) == 2:
        own, other, full = writer.shape(arg), writer.shape(terms[id(node.args[1 - index])]), writer.shape(env["f"])
        if own is None or other is None or full is None:
            if arg.op == "var":
                assumed.append(arg.name)
            return grad
        return writer.reduced_to(grad, aligned(own, other), full)
    if row.unsummed is not None:  # a matrix product or solve: summed over the batch axes its argument was
        return _batch_edge(writer, grad, arg)  # broadcast along
    if "full" in _names(source):
        _own_shape(writer, node, index, grad, arg)
    return grad


def _own_shape(writer: Writer, node: Node, index: int, grad: Term, arg: Term) -> None:
    """A formula written with full(G) (and not summed over batch axes afterwards) has its argument's own shape
    (a 1-D one as a column); one that does not (diag's of a batch or a non-square matrix) would broadcast
    wrongly, and is refused."""
    own, got = writer.shape(arg), writer.shape(grad)
    if own is None or got is None or as_matrix_shape(own) == as_matrix_shape(got) or own == got:
        return
    raise DeriveError(f"the gradient of {node.text} with respect to {node.args[index].text} {shape_text(own)} is "
                      f"not a formula of wxb's language (it would need G placed on a diagonal of shape "
                      f"{shape_text(own)}, or axes inserted)", hint="wxb backward gives its values")


def _batched_vector(writer: Writer, node: Node, x: Term, y: Term) -> None:
    """Refuse a batch @ (or solve with) a 1-D right operand: G lacks the axis np.matmul (np.linalg.solve) dropped,
    and the language cannot put it back. (A 1-D left operand is a column, whatever the batch: its formulas hold.)"""
    if writer.ndim(y) == 1 and writer.ndim(x) >= 3:
        what, by, op = ("multiplies", "by", "@") if PRIMITIVES[node.op].product else ("solves", "with", node.op)
        raise DeriveError(f"{node.text} {what} a batch {by} a 1-D operand: its gradient formula would need the "
                          f"axis {op} dropped put back",
                          hint="give the 1-D operand as a matrix with one column")


def _batch_edge(writer: Writer, grad: Term, arg: Term) -> Term:
    """A matrix product's (or solve's) gradient summed over the batch axes its argument was broadcast along
    (a 1-D argument is a column)."""
    own, full = writer.shape(arg), writer.shape(grad)
    if own is None or full is None or len(full) < 2:
        return grad
    own2 = as_matrix_shape(own) if own else own
    if len(own2) < 2:
        return grad
    if len(full) > len(own2) or any(o == 1 != n for o, n in zip(own2[-len(full):], full, strict=False)):
        return writer.reduced_to(grad, own2, full)
    return grad


def _count(writer: Writer, node: Node, x: Term) -> Term:
    """How many entries a mean averages: a number when shapes are known, else sum(x ** 0) along its axis."""
    shape = writer.shape(x)
    if shape is None:
        return Term("sum", (writer.pow(x, 0.0),), axis=node.axis, default_axis=node.default_axis)
    axis = resolved_axis(node, len(shape))
    return const(max(math.prod(shape) if axis is None else shape[axis], 1))


def _scalar(expression: Expression) -> bool:
    """With names only, f is a scalar when it is one with every operand a matrix (what names only assume): a
    number, a reduction over every axis, a determinant, or elementwise of those."""
    writer = Writer({name: (2, 2) for name in expression.operands})
    try:
        return writer.shape(term_of(expression.root)) == ()
    except WxbError:
        return False


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
    if len(shape) == 1 and v.ndim == 2 and v.shape[1] == 1:  # a column stands for a 1-D operand
        return np.broadcast_to(v, (shape[0], 1)).reshape(shape).copy()
    if v.ndim == 1 and len(shape) >= 2:
        v = v.reshape(v.shape[0], 1)
    if v.size == math.prod(shape) and [n for n in v.shape if n != 1] == [n for n in shape if n != 1]:
        return v.reshape(shape)
    return np.broadcast_to(v, shape).copy()
