"""One row of the table of primitives (`Primitive`), as JAX's `standard_primitive(shape_rule, dtype_rule, name)`:
its fields grouped by the concern that reads them, and the defaults every row starts from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nodes import Keyword, Node
from ..shapes import Array, Shape, as_matrix_shape, keeps, resolved_axis
from .batch import COLUMNS, Batch, known

Forward = Callable[..., Array]


VJP = Callable[..., Array]


JVP = Callable[..., Array]


ShapeRule = Callable[[Node, Sequence[Shape]], Shape]


Joint = Callable[[Node, Array, Array | None, Sequence[Array | None], Sequence[bool]], list[Array | None]]


@dataclass(frozen=True)
class Kink:
    """Where a row is not differentiable and which derivative it takes there, the same in the VJP and the tangent.

    at(node, args, value): how many entries (or slices) of the point sit at the kink; convention: what both
    rules take there ('the derivative 0 at {x} = 0')."""

    at: Callable[[Node, Sequence[Array], Array], int]
    convention: str


def same_dtype(*dtypes: np.dtype[Any]) -> np.dtype[Any]:
    """The default dtype rule: the result has its arguments' (common) floating dtype."""
    return np.result_type(*dtypes, np.float16)


def two_roundings(shapes: Sequence[Shape]) -> float:
    """The default rounding count of one value: an elementwise operation rounds about twice."""
    return 2.0


@dataclass(frozen=True)
class Primitive:
    """One row of the table.

    shape: the shape rule (node, argument shapes) → result shape, raising ShapeError; dtype: the dtype rule.
    keywords: the keywords accepted, with their defaults. linear[i]: linear in argument i, the others held fixed.
    uses: which values the VJPs read (x, y: arguments; f: the result); reads: per argument, the values that
    argument's VJP reads (mul: G ⊙ y for x, G ⊙ x for y), so that a forward pass computes only what the active
    arguments' VJPs read ('' for every argument: all of uses); an unread argument's VJP sees a stand-in of its
    shape (NaN, so that a VJP that reads it after all fails loudly). template: how explain writes the node
    ('{x} + {y}'; '' for a call 'name(x, …)'); drawn: how explain draws it with numbers (infix: the formula
    then the arrays; call: name(array); '': the value only). elementwise: the arguments broadcast (a 1-D one
    beside a matrix as a column) and the engine sums gradients back with unbroadcast; its Jacobian is diagonal
    with the factors given per argument ('' where it is I). product: a matrix product's Jacobian (Xᵀ ⊗ I).
    additive: a sum of its arguments (linear in both at once; the right one a bias). inplace: the ufunc that
    may write into a fresh left argument; fresh: the value is a new array the next row may write into.
    accumulation: how many roundings the value collects; unsummed: the shape of a gradient before the row
    summed its batch axes (for the explanation); check: raises for a value that must not pass (a singular
    matrix); joint: all VJPs at once, when they share work; differential: the rule's reason, the differential
    its VJPs come from (d log|det X| = tr(X⁻¹ dX)), for explain.

    jvps: the tangent rule of each argument (autograd's defjvp, JAX's primitive_jvps), (node, tangent of argument
    i, ans, *args) → that argument's part of the value's tangent (wxb.core.forward sums the parts and broadcasts
    them to the value's shape); an elementwise row's arguments and tangents broadcast as in its VJPs. Every row
    has one per argument (else it fails at import). kink: where the row is not differentiable, and the one
    derivative its VJPs and tangent rules both take there (so that ⟨J·v, u⟩ = ⟨v, Jᵀ·u⟩ holds there too).
    example: the operands (and options) of `wxb help`'s example ('X=4 Y=2x2'), where two 2×2 X and Y do not fit.
    labels: the arguments that hold class labels (integers from 0 to the rows of the other argument, less one), which
    `check --claim` draws as labels where it draws the operands.

    exact: what backward gives where the gradient formula does not hold ('the subgradient 0 at {x} = 0'), which
    `wxb derive --eval` points to there.

    formulas: ∂L/∂(argument i) in wxb's own expression language, one per argument, which `wxb derive` writes
    out (G the upstream gradient, x and y the arguments, f the value, p the exponent of ** and q = p − 1, n the
    count a mean divides by; a function called works along the row's own axis). Four pseudo-functions stand for
    what depends on shapes: expand(G) puts a reduced G back along the axes the row reduced (its axis=, every
    axis, or a matrix function's last two) so that it broadcasts against x; keep_sum(t) sums t along the row's
    axis, keeping it; full(G) is G in f's own shape (for a rule not elementwise in G); eye(x) is the identity
    of x's last two axes. folds: the identities derive's simplifier applies to the row over an inner function,
    (inner, result): this row of inner(z) is result(z), with the inner's axis ('' for z itself: exp(log(z)) = z,
    exp(log_softmax(z)) = softmax(z)). no_formula: why there is none, where none exists (then formulas is
    empty); a test requires one or the other of every row. numpy: how `derive --format numpy` writes a call of the
    row in NumPy, '{x}' and '{y}' its arguments and '{kw}' its keywords as NumPy takes them (', axis=1,
    keepdims=True'); a helper it names (_softmax) is printed with the code; every called row has one.

    batch: how it treats the batch (the last axis of the operands that carry it), for streaming in blocks of
    columns (wxb.core.plan): one kind of wxb.core.primitives.batch (COLUMNS: column k of the value from column k
    of the arguments, MATMUL, TRANSPOSE, ALONG_AXIS, MATRIX, REDUCE, WHOLE), a reduction's with the Combine its
    blocks merge by when the batch is summed away (sum, mean, logsumexp); anything else fails at import."""

    name: str
    symbol: str
    shape: ShapeRule
    forward: Forward
    vjps: tuple[VJP, ...]
    rules: tuple[str, ...]
    linear: tuple[bool, ...]
    uses: str = "xyf"
    called: bool = True
    keywords: tuple[tuple[str, Keyword], ...] = ()
    latex: str = ""
    template: str = ""
    drawn: str = "call"
    dtype: Callable[..., np.dtype[Any]] = same_dtype
    elementwise: bool = False
    factors: tuple[str, ...] = ()
    product: bool = False
    additive: bool = False
    inplace: np.ufunc | None = None
    fresh: bool = False
    accumulation: Callable[[Sequence[Shape]], float] = two_roundings
    unsummed: Callable[[int, Sequence[Shape], Shape], Shape] | None = None
    check: Callable[[Node, Sequence[Array], Array], None] | None = None
    joint: Joint | None = None
    jvps: tuple[JVP, ...] = ()
    kink: Kink | None = None
    differential: str = ""
    formulas: tuple[str, ...] = ()
    no_formula: str = ""
    exact: str = ""
    example: str = ""
    folds: tuple[tuple[str, str], ...] = ()
    numpy: str = ""
    labels: tuple[int, ...] = ()
    reads: tuple[str, ...] = ()
    batch: Batch = COLUMNS

    def __post_init__(self) -> None:
        if not known(self.batch):
            raise TypeError(f"{self.name}: batch={self.batch!r} is not a kind of wxb.core.primitives.batch")
        if self.reads and (len(self.reads) != len(self.vjps) or not set("".join(self.reads)) <= set(self.uses)):
            raise TypeError(f"{self.name}: reads={self.reads!r} names one subset of uses={self.uses!r} per argument")
        if len(self.jvps) != len(self.vjps):
            raise TypeError(f"{self.name}: {len(self.jvps)} tangent rules (jvps) for {len(self.vjps)} arguments")

    @property
    def arity(self) -> int:
        """How many arguments the primitive takes."""
        return len(self.vjps)

    def read(self, active: Sequence[bool]) -> str:
        """The values (x, y, f) that the VJPs of the active arguments read."""
        if not self.reads:
            return self.uses
        return "".join(sorted(set("".join(r for r, on in zip(self.reads, active, strict=True) if on))))

    def gradients(self, node: Node, g: Array, ans: Array | None, args: Sequence[Array | None],
                  wanted: Sequence[bool]) -> list[Array | None]:
        """The VJP of each wanted argument (None for the others): the joint rule when the row has one."""
        if self.joint is not None:
            return self.joint(node, g, ans, args, wanted)
        return [vjp(node, g, ans, *args) if want else None for vjp, want in zip(self.vjps, wanted, strict=True)]

    def written(self, node: Node, args: Sequence[str]) -> str:
        """The node written with its arguments' labels: 'z1 + B', 'W·X', 'tanh(z2)', 'sum(X, axis=1)'."""
        if self.template:
            return self.template.format(**dict(zip("xy", args, strict=False)), p=constant_text(node.power))
        return f"{self.name}({', '.join(args)}{keywords_text(node)})"


def constant_text(x: float) -> str:
    """A constant as written: 2, not 2.0."""
    return str(int(x)) if float(x).is_integer() else repr(x)


def keywords_text(node: Node) -> str:
    """', axis=1' for the keywords the expression gave, in the row's order ('' for none)."""
    return "".join(f", {name}={value}" for name, value in node.keywords if name in node.given)


def swap(a: Array) -> Array:
    """aᵀ over the last two axes (a vector or scalar is its own transpose, as NumPy's .T)."""
    return a if a.ndim < 2 else np.swapaxes(a, -1, -2)


def transpose(a: Array) -> Array:
    """aᵀ: the last two axes swapped; a 1-D operand is a column, so its transpose is a row (1, m)."""
    return a.reshape(1, -1) if a.ndim == 1 else swap(a)


def kept(node: Node, g: Array, x: Array) -> Array:
    """A reduction's gradient g with the reduced axes back with size 1, to broadcast against x."""
    if keeps(node):
        return g
    axis = resolved_axis(node, x.ndim)
    return g.reshape((1,) * x.ndim) if axis is None else np.expand_dims(g, axis)


def expand(node: Node, g: Array, x: Array) -> Array:
    """A reduced gradient g stretched back along the reduced axis (or all axes) to x's shape."""
    return np.broadcast_to(kept(node, g, x), x.shape)


def count(node: Node, x: Array) -> int:
    """How many entries a reduction over the node's axis combines."""
    axis = resolved_axis(node, x.ndim)
    return int(x.size if axis is None else x.shape[axis])


def unkept(node: Node, kept_value: Array, x: Array) -> Array:
    """A value computed with the reduced axes kept, with them dropped when the node does not keep them."""
    if keeps(node):
        return kept_value
    axis = resolved_axis(node, x.ndim)
    out: Array = kept_value.reshape(()) if axis is None else np.squeeze(kept_value, axis=axis)
    return out


def sum_accumulation(shapes: Sequence[Shape]) -> float:
    """A sum of n entries collects about log2 n + 1 roundings (NumPy sums pairwise)."""
    return float(max(math.log2(max(math.prod(shapes[0]), 1)), 1.0) + 1)


def solve_accumulation(shapes: Sequence[Shape]) -> float:
    """An LU factorisation of n×n collects about n roundings per entry, and κ(A) magnifies them (not counted)."""
    return float(as_matrix_shape(shapes[0])[-1] + 1)
