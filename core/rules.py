"""The table of primitives: each row owns everything about its primitive, as JAX's `standard_primitive(shape_rule,
dtype_rule, name)` and autograd's `defvjp` do: its shape rule (checked before anything is computed), its dtype
rule, the keywords it accepts, its forward, one VJP per argument, its rules as text (LaTeX comes from the text and
the row's `latex` name), its symbol, how explain writes it and the structure of its Jacobian. The engine, the
parser, the derivation and the gradient check read the rows; none of them names a primitive.

Read the VJPs as autograd's numpy_vjps.py: one short rule per line. A VJP maps the upstream gradient g (∂L/∂ans)
to the gradient of one argument. For elementwise rows it is written for the broadcast shape and the engine sums it
back to the argument's shape once, with `unbroadcast`; the matrix product and solve reduce their own batch axes.
In the rule texts {G} is the upstream gradient, {f} the primitive's value, {x} and {y} its arguments, {p} and
{q} a power's exponent and the exponent less one.

Conventions every row keeps: a 1-D operand is a column (m,1), beside a matrix, under `.T`, on either side of `@`
and as the matrix of the square-matrix rows. Reductions with axis= keep the reduced axis (size 1) unless
keepdims=False; over every axis they give a scalar. Rows are array-backend-neutral: no np.asarray on values, no
writes into inputs, no float() of a value; np.linalg's functions dispatch through __array_function__.

Adding a primitive is one row here (with its gradient formula for `wxb derive`, or the reason it has none) plus
its entry in the autograd oracle's table (tests/test_engine_oracle.py) and its case in tests/test_derive.py's
PRIMITIVE_CASES, which tests enforce.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .broadcast import broadcast_conflict, summed_matmul, unbroadcast
from .errors import BiasEnlargesError, ShapeError, SingularMatrixError
from .nodes import Keyword, Node
from .notation import shape_text

Array = np.ndarray[Any, np.dtype[Any]]
Shape = tuple[int, ...]
Forward = Callable[..., Array]
VJP = Callable[..., Array]
ShapeRule = Callable[[Node, Sequence[Shape]], Shape]
Joint = Callable[[Node, Array, Array | None, Sequence[Array | None], Sequence[bool]], list[Array | None]]


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
    uses: which values the VJPs read (x, y: arguments; f: the result). template: how explain writes the node
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

    exact: what backward gives where the gradient formula does not hold ('the subgradient 0 at {x} = 0'), which
    `wxb derive --eval` points to there.

    formulas: ∂L/∂(argument i) in wxb's own expression language, one per argument, which `wxb derive` writes
    out (G the upstream gradient, x and y the arguments, f the value, p the exponent of ** and q = p − 1, n the
    count a mean divides by; a function called works along the row's own axis). Four pseudo-functions stand for
    what depends on shapes: expand(G) puts a reduced G back along the axes the row reduced (its axis=, every
    axis, or a matrix function's last two) so that it broadcasts against x; keep_sum(t) sums t along the row's
    axis, keeping it; full(G) is G in f's own shape (for a rule not elementwise in G); eye(x) is the identity
    of x's last two axes. no_formula: why there is none, where none exists (then formulas is empty); a test
    requires one or the other of every row.

    batch: how it treats the batch (the last axis of the operands that carry it), for streaming in blocks of
    columns (wxb.core.plan): columns (column k of the value from column k of the arguments: elementwise), matmul,
    transpose, axis (along the node's axis: streams unless that axis is the batch's), matrix (on the last two axes
    as matrices: streams only with the batch on a leading axis), sum, mean, logsumexp (reductions whose blocks
    combine when the batch is summed away at the root), reduce (a reduction whose blocks do not combine), whole
    (needs every column at once)."""

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
    differential: str = ""
    formulas: tuple[str, ...] = ()
    no_formula: str = ""
    exact: str = ""
    batch: str = "columns"

    @property
    def arity(self) -> int:
        """How many arguments the primitive takes."""
        return len(self.vjps)

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


# ---- Shapes: the 1-D column rule, axes, matrices ----

def aligned(shape: Shape, other: Shape) -> Shape:
    """An elementwise argument's shape as it broadcasts: a 1-D one beside 2 or more axes is a column (m, 1)."""
    return (shape[0], 1) if len(shape) == 1 and len(other) >= 2 else shape


def as_matrix_shape(shape: Shape) -> Shape:
    """A shape as a matrix (or a batch of them): a 1-D operand is a column (m, 1)."""
    return (shape[0], 1) if len(shape) == 1 else shape


def as_matrix(a: Array) -> Array:
    """An array as a matrix (or a batch of them): a 1-D operand is a column (m, 1)."""
    return a.reshape(-1, 1) if a.ndim == 1 else a


def elementwise_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """The shape of x ∘ y, refusing shapes that do not broadcast and outer sums (both arguments enlarged)."""
    if len(shapes) == 1:
        return shapes[0]
    x, y = shapes
    texts = (node.args[0].text, node.args[1].text)
    ax, ay = aligned(x, y), aligned(y, x)
    labels = [f"{t} {shape_text(s)}" + (f" as a column {shape_text(a)}" if a != s else "")
              for t, s, a in zip(texts, (x, y), (ax, ay), strict=True)]
    column = next((t for t, s, a in zip(texts, (x, y), (ax, ay), strict=True) if a != s), None)
    other = texts[1] if column == texts[0] else texts[0]
    big = y if column == texts[0] else x
    hint = (f"a 1-D {column} is a column, one value per row of {other} ({big[-2]} rows); "
            f"for a row give {column} the shape {shape_text((1, big[-1]))}") if column else None
    conflict = broadcast_conflict(ax, ay)
    if conflict is not None:
        axis, s, n = conflict
        raise ShapeError(f"{labels[0]} and {labels[1]} do not broadcast in {node.text}: "
                         f"on axis {axis}, {texts[0]} has size {s} but {texts[1]} has size {n}", hint=hint)
    out = tuple(np.broadcast_shapes(ax, ay))
    if out not in (ax, ay):
        raise BiasEnlargesError(f"{labels[0]} and {labels[1]} would make an outer sum {shape_text(out)} in "
                                f"{node.text}: each would be enlarged; one of them must have the result's shape",
                                hint=hint)
    return out


def matmul_shape(w: Shape, x: Shape, texts: tuple[str, str] = ("W", "X")) -> Shape:
    """(..., m, k) @ (..., k, n) → (..., m, n), batch axes broadcast. A 1-D operand is a column: on the left it
    is (m, 1), on the right (k, 1) with that axis of 1 dropped from the result (as np.matmul drops it)."""
    for text, shape in zip(texts, (w, x), strict=True):
        if not shape:
            raise ShapeError(f"{text} is a scalar (shape ()), but {texts[0]} @ {texts[1]} is a matrix product: "
                             f"both need an axis", hint="use * for a scalar factor")
    w2, x2 = as_matrix_shape(w), as_matrix_shape(x)
    if w2[-1] != x2[-2]:
        what = "column" if w2[-1] == 1 else "columns"
        rows = "row" if x2[-2] == 1 else "rows"
        hint = (f"a 1-D {texts[0]} is a column {shape_text(w2)}; for a row write {texts[0]}.T"
                if len(w) == 1 else None)
        raise ShapeError(f"{texts[0]} {shape_text(w)} and {texts[1]} {shape_text(x)} do not multiply: "
                         f"{texts[0]} has {w2[-1]} {what} but {texts[1]} has {x2[-2]} {rows}", hint=hint)
    conflict = broadcast_conflict(w2[:-2], x2[:-2])
    if conflict is not None:
        axis, s, n = conflict
        raise ShapeError(f"the batch axes of {texts[0]} {shape_text(w)} and {texts[1]} {shape_text(x)} do not "
                         f"broadcast: on batch axis {axis}, {texts[0]} has size {s} but {texts[1]} has size {n}")
    batch = tuple(np.broadcast_shapes(w2[:-2], x2[:-2]))
    return (*batch, w2[-2]) + ((x2[-1],) if len(x) > 1 else ())


def transpose_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """Aᵀ: the last two axes swapped; a 1-D column (m,) becomes the row (1, m); a scalar stays."""
    (a,) = shapes
    if len(a) < 2:
        return (1, a[0]) if a else ()
    return (*a[:-2], a[-1], a[-2])


def resolved_axis(node: Node, ndim: int) -> int | None:
    """The node's axis for an argument of ndim axes: softmax's default −2 is axis 0 of a vector."""
    if node.axis is None:
        return None
    if node.axis == -2 and ndim == 1 and node.default_axis:
        return 0
    return node.axis


def keeps(node: Node) -> bool:
    """Whether a reduction keeps its reduced axes: keepdims as given, else yes along an axis, no over all axes."""
    if "keepdims" in node.given:
        return bool(node.keyword("keepdims"))
    return node.axis is not None


def checked_axis(node: Node, shape: Shape) -> int | None:
    """The node's axis, refused when the argument has no such axis."""
    axis = resolved_axis(node, len(shape))
    if axis is not None and not -len(shape) <= axis < len(shape):
        raise ShapeError(f"{node.text}: axis {node.axis} is out of range for {node.args[0].text} "
                         f"{shape_text(shape)}, which has {len(shape)} axes")
    return axis


def along_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """A function along an axis (softmax): the argument's shape, once the axis is checked."""
    checked_axis(node, shapes[0])
    return shapes[0]


def reduced_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """A reduction's shape: the axis kept with size 1 (by default) or dropped; over every axis a scalar."""
    (x,) = shapes
    axis = checked_axis(node, x)
    keep = keeps(node)
    if axis is None:
        return (1,) * len(x) if keep else ()
    axis %= len(x)
    return tuple(1 if a == axis else n for a, n in enumerate(x) if keep or a != axis)


def nonempty_reduced_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """max and min: a reduction that needs at least one entry along the reduced axes."""
    out = reduced_shape(node, shapes)
    axis = resolved_axis(node, len(shapes[0]))
    n = math.prod(shapes[0]) if axis is None else shapes[0][axis]
    if n == 0:
        raise ShapeError(f"{node.text}: {node.args[0].text} {shape_text(shapes[0])} has no entries to take the "
                         f"{node.op} of" + ("" if axis is None else f" along axis {node.axis}"))
    return out


def matrix_arg(node: Node, shape: Shape, index: int = 0) -> Shape:
    """An argument's shape as a matrix (1-D: a column), refused when it is a scalar."""
    if not shape:
        raise ShapeError(f"{node.text}: {node.args[index].text} is a scalar (shape ()), but {node.op} needs a matrix")
    return as_matrix_shape(shape)


def square_arg(node: Node, shape: Shape, index: int = 0) -> Shape:
    """An argument's shape as a batch of square matrices, refused (one line) when it is not square."""
    m = matrix_arg(node, shape, index)
    if m[-1] != m[-2]:
        column = " (a 1-D operand is a column)" if len(shape) == 1 else ""
        raise ShapeError(f"{node.text}: {node.args[index].text} {shape_text(shape)} is not square{column}: "
                         f"{node.op} needs n×n matrices in its last two axes")
    return m


def trace_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """tr X: the batch axes (the last two summed along their diagonal)."""
    return matrix_arg(node, shapes[0])[:-2]


def det_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """det X and log |det X|: the batch axes of square matrices."""
    return square_arg(node, shapes[0])[:-2]


def inv_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """X⁻¹: X's shape (square matrices; a 1-D operand of one entry is a 1×1 column)."""
    square_arg(node, shapes[0])
    return shapes[0]


def solve_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """A⁻¹B: A square (..., n, n), B (..., n, k) or (n,) (a column), batch axes broadcast; B's shape back."""
    a = square_arg(node, shapes[0])
    b = matrix_arg(node, shapes[1], 1)
    if b[-2] != a[-1]:
        raise ShapeError(f"{node.text}: {node.args[0].text} {shape_text(shapes[0])} and {node.args[1].text} "
                         f"{shape_text(shapes[1])} do not fit: A⁻¹B needs B with {a[-1]} rows, not {b[-2]}")
    conflict = broadcast_conflict(a[:-2], b[:-2])
    if conflict is not None:
        axis, s, n = conflict
        raise ShapeError(f"{node.text}: the batch axes of {node.args[0].text} {shape_text(shapes[0])} and "
                         f"{node.args[1].text} {shape_text(shapes[1])} do not broadcast on batch axis {axis} "
                         f"({s} and {n})")
    batch = tuple(np.broadcast_shapes(a[:-2], b[:-2]))
    return (*batch, b[-2]) if len(shapes[1]) == 1 else (*batch, *b[-2:])


def diag_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """diag: a vector (n,) → the matrix (n, n); a matrix (..., m, n) → its diagonal (..., min(m, n))."""
    (x,) = shapes
    if not x:
        raise ShapeError(f"{node.text}: {node.args[0].text} is a scalar (shape ()); diag needs a vector or a matrix")
    return (x[0], x[0]) if len(x) == 1 else (*x[:-2], min(x[-2:]))


# ---- Helpers the rules share ----

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


def shifted(x: Array, axis: int | None) -> Array:
    """x minus its largest entry along axis (0 where that is not finite), so exp never overflows."""
    if x.size == 0:
        return x
    top = np.max(x, axis=axis, keepdims=True)
    out: Array = x - np.where(np.isfinite(top), top, 0)
    return out


def log_sum_exp_shifted(z: Array, axis: int | None) -> Array:
    """log Σ exp z over axis, keeping the axis, for z already shifted by its maximum."""
    out: Array = np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return out


def logsumexp_keep(x: Array, axis: int | None) -> Array:
    """log Σ exp x over axis, keeping the axis, computed stably (the max is taken out first)."""
    if x.size == 0:
        return log_sum_exp_shifted(x, axis)
    top = np.max(x, axis=axis, keepdims=True)
    out: Array = log_sum_exp_shifted(shifted(x, axis), axis) + np.where(np.isfinite(top), top, 0)
    return out


def stable_softmax(x: Array, axis: int | None) -> Array:
    """e^x / Σ e^x along axis, from x shifted by its maximum: exact for large equal entries (1e20, 1e20)."""
    e = np.exp(shifted(x, axis))
    out: Array = e / np.sum(e, axis=axis, keepdims=True)
    return out


def sigmoid(x: Array) -> Array:
    """1 / (1 + e^(−x)), without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    out: Array = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out


def softplus(x: Array) -> Array:
    """log(1 + e^x), stably: log(e^0 + e^x) without overflow for large x or loss for very negative x."""
    out: Array = np.logaddexp(0, x)
    return out


def unkept(node: Node, kept_value: Array, x: Array) -> Array:
    """A value computed with the reduced axes kept, with them dropped when the node does not keep them."""
    if keeps(node):
        return kept_value
    axis = resolved_axis(node, x.ndim)
    out: Array = kept_value.reshape(()) if axis is None else np.squeeze(kept_value, axis=axis)
    return out


# ---- Matrix products (a 1-D operand is a column on either side) ----

def as_matrices(w: Array, x: Array, g: Array) -> tuple[Array, Array, Array]:
    """w, x as matrices (1-D: a column) and g with the axis np.matmul drops for a 1-D x put back."""
    return as_matrix(w), as_matrix(x), (g[..., np.newaxis] if x.ndim == 1 else g)


def matmul(node: Node, w: Array, x: Array) -> Array:
    """W·X with a 1-D W a column (m, 1); a 1-D X is a column as np.matmul has it."""
    out: Array = np.matmul(as_matrix(w), x)
    return out


def matmul_vjp_left(node: Node, g: Array, ans: Array, w: Array, x: Array) -> Array:
    """∂L/∂W = G·Xᵀ, summed over the batch axes W was broadcast along."""
    w2, x2, g2 = as_matrices(w, x, g)
    grad: Array = summed_matmul(g2, swap(x2), w2.shape[:-2]).reshape(w.shape)
    return grad


def matmul_vjp_right(node: Node, g: Array, ans: Array, w: Array, x: Array) -> Array:
    """∂L/∂X = Wᵀ·G, summed over the batch axes X was broadcast along."""
    w2, x2, g2 = as_matrices(w, x, g)
    grad: Array = summed_matmul(swap(w2), g2, x2.shape[:-2]).reshape(x.shape)
    return grad


def matmul_unsummed(index: int, shapes: Sequence[Shape], g_shape: Shape) -> Shape:
    """The shape of G·Xᵀ (or Wᵀ·G) per batch entry, before the batch axes are summed to the argument's shape."""
    w2, x2 = as_matrix_shape(shapes[0]), as_matrix_shape(shapes[1])
    g2 = g_shape + ((1,) if len(shapes[1]) == 1 else ())
    own = shapes[index]
    other = x2 if index == 0 else w2
    return tuple(np.broadcast_shapes(g2[:-2], other[:-2])) + (own[-2:] if len(own) >= 2 else own)


def matmul_accumulation(shapes: Sequence[Shape]) -> float:
    """A product over k collects k + 1 roundings."""
    return float(as_matrix_shape(shapes[1])[-2] + 1)


def sum_accumulation(shapes: Sequence[Shape]) -> float:
    """A sum of n entries collects about log2 n + 1 roundings (NumPy sums pairwise)."""
    return float(max(math.log2(max(math.prod(shapes[0]), 1)), 1.0) + 1)


def solve_accumulation(shapes: Sequence[Shape]) -> float:
    """An LU factorisation of n×n collects about n roundings per entry, and κ(A) magnifies them (not counted)."""
    return float(as_matrix_shape(shapes[0])[-1] + 1)


# ---- Square matrices: trace, det, logdet, inv, solve ----

def singular_error(node: Node, a: Array) -> SingularMatrixError:
    """The error for a singular matrix a, the first argument of node: its text, shape and condition number."""
    return SingularMatrixError(f"{node.text}: {node.args[0].text} {shape_text(a.shape)} is singular to working "
                               f"precision ({a.dtype}: {condition_text(a)})",
                               hint="a singular matrix has no inverse or log-determinant; check the operand, or "
                                    "add a small multiple of the identity")


def condition_text(a: Array) -> str:
    """κ(a) as the bound 1/ε it exceeds: beyond 1/ε its digits are rounding noise that differs between BLAS builds.
    Only a matrix refused for another reason (a solution that overflows) shows its own, to two digits."""
    with np.errstate(all="ignore"):
        cond = float(np.max(np.linalg.cond(as_matrix(a))))
    bound = 1 / float(np.finfo(a.dtype).eps)
    if not math.isfinite(cond) or cond > bound:
        return f"condition number above 1/ε = {bound:.2g}"
    return f"condition number {cond:.2g}"


def finite(a: Array) -> Any:
    """True when every entry of a is finite (a 0-d array, not a float: a lazy backend may keep it lazy)."""
    return np.all(np.isfinite(a))


def check_inverse(node: Node, args: Sequence[Array], value: Array) -> None:
    """inv and solve: refuse a finite matrix whose result is not finite, or (inv) whose 1-norm condition number
    ‖X‖₁‖X⁻¹‖₁ (exact, from the inverse at hand) exceeds 1/ε."""
    if not (finite(args[0]) and all(finite(a) for a in args[1:])):
        return
    if not finite(value):
        raise singular_error(node, args[0])
    if len(args) == 1 and value.size:
        with np.errstate(all="ignore"):
            cond = np.linalg.norm(as_matrix(args[0]), 1, axis=(-2, -1)) * np.linalg.norm(as_matrix(value), 1,
                                                                                           axis=(-2, -1))
        if np.any(cond * np.finfo(value.dtype).eps > 1):
            raise singular_error(node, args[0])


def check_logdet(node: Node, args: Sequence[Array], value: Array) -> None:
    """logdet: refuse a finite matrix whose determinant is 0 (log |det| = −∞)."""
    if finite(args[0]) and np.any(np.isneginf(value)):
        raise singular_error(node, args[0])


def trace(node: Node, x: Array) -> Array:
    """tr X = Σᵢ Xᵢᵢ over the last two axes (a 1-D operand is a column)."""
    out: Array = np.trace(as_matrix(x), axis1=-2, axis2=-1)
    return out


def trace_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = G·I (the identity of X's last two axes, for each batch entry)."""
    m = as_matrix(x)
    grad: Array = (g[..., np.newaxis, np.newaxis] * np.eye(m.shape[-2], m.shape[-1], dtype=x.dtype))
    out: Array = grad.reshape(x.shape)
    return out


def logdet(node: Node, x: Array) -> Array:
    """log |det X| (NumPy's slogdet): finite for a negative determinant too."""
    _, value = np.linalg.slogdet(as_matrix(x))
    out: Array = value
    return out


def cofactors(x: Array) -> Array:
    """The cofactor matrix adj(X)ᵀ (= det X · X⁻ᵀ where X is invertible), exact for a singular X too, from the
    SVD X = U·S·Vᵀ: adj(X)ᵀ = det(U)·det(V)·U·diag(∏_{j≠i} s_j)·Vᵀ."""
    if x.shape[-1] == 0:
        return x
    u, s, vt = np.linalg.svd(x)
    ones = np.ones_like(s[..., :1])
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(s[..., 1:], axis=-1)], axis=-1), axis=-1), axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    out: Array = sign[..., np.newaxis, np.newaxis] * np.matmul(u * (before * after)[..., np.newaxis, :], vt)
    return out


def det_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = G·adj(X)ᵀ = G·det X·X⁻ᵀ (the cofactors: exact at a singular X too)."""
    grad: Array = g[..., np.newaxis, np.newaxis] * cofactors(as_matrix(x))
    out: Array = grad.reshape(x.shape)
    return out


def logdet_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = G·X⁻ᵀ."""
    grad: Array = g[..., np.newaxis, np.newaxis] * swap(np.linalg.inv(as_matrix(x)))
    out: Array = grad.reshape(x.shape)
    return out


def inv_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = −X⁻ᵀ·G·X⁻ᵀ (ans = X⁻¹)."""
    f = as_matrix(ans)
    grad: Array = -np.matmul(np.matmul(swap(f), as_matrix(g)), swap(f))
    out: Array = grad.reshape(ans.shape)
    return out


def solve(node: Node, a: Array, b: Array) -> Array:
    """X = A⁻¹B by LU, never forming A⁻¹ (a 1-D B is a column, and so is X)."""
    out: Array = np.linalg.solve(as_matrix(a), as_matrix(b))
    return out[..., 0] if b.ndim == 1 else out


def solve_gradients(node: Node, g: Array, ans: Array | None, args: Sequence[Array | None],
                    wanted: Sequence[bool]) -> list[Array | None]:
    """G_B = solve(Aᵀ, G) and G_A = −G_B·Xᵀ (X = A⁻¹B), each summed over the batch axes it was broadcast along;
    one solve serves both."""
    a, b = args
    assert a is not None and b is not None and ans is not None
    a2, b2 = as_matrix(a), as_matrix(b)
    g2, f2 = (g[..., np.newaxis], ans[..., np.newaxis]) if b.ndim == 1 else (g, ans)
    gb: Array = np.linalg.solve(swap(a2), g2)
    grad_a = -summed_matmul(gb, swap(f2), a2.shape[:-2]).reshape(a.shape) if wanted[0] else None
    grad_b = unbroadcast(gb, b2.shape).reshape(b.shape) if wanted[1] else None
    return [grad_a, grad_b]


def solve_vjp_a(node: Node, g: Array, ans: Array, a: Array, b: Array) -> Array:
    """∂L/∂A = −solve(Aᵀ, G)·Xᵀ."""
    grad = solve_gradients(node, g, ans, (a, b), (True, False))[0]
    assert grad is not None
    return grad


def solve_vjp_b(node: Node, g: Array, ans: Array, a: Array, b: Array) -> Array:
    """∂L/∂B = solve(Aᵀ, G)."""
    grad = solve_gradients(node, g, ans, (a, b), (False, True))[1]
    assert grad is not None
    return grad


def solve_unsummed(index: int, shapes: Sequence[Shape], g_shape: Shape) -> Shape:
    """The shape of a solve's gradient per batch entry, before the batch axes are summed to the argument's."""
    a, b = as_matrix_shape(shapes[0]), as_matrix_shape(shapes[1])
    batch = tuple(np.broadcast_shapes(a[:-2], b[:-2]))
    own = shapes[index]
    return (*batch, *own[-2:]) if len(own) >= 2 else own


# ---- diag ----

def diag(node: Node, x: Array) -> Array:
    """diag: a vector (n,) → the diagonal matrix (n, n); a matrix → its diagonal (each of a batch)."""
    if x.ndim == 1:
        out: Array = x[:, np.newaxis] * np.eye(x.shape[0], dtype=x.dtype)
        return out
    return np.diagonal(x, axis1=-2, axis2=-1)


def diag_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """From a vector: G_x = diag(G); from a matrix: G_X = G on the diagonal, 0 elsewhere."""
    if x.ndim == 1:
        return np.diagonal(g)
    m, n = x.shape[-2:]
    eye = np.eye(m, n, dtype=g.dtype)
    grad: Array = g[..., np.newaxis, :] * eye if n <= m else g[..., :, np.newaxis] * eye
    return grad


# ---- Reductions ----

def reduce_sum(node: Node, x: Array) -> Array:
    """Σ x over the axis (all axes by default)."""
    out: Array = np.sum(x, axis=resolved_axis(node, x.ndim), keepdims=keeps(node))
    return out


def mean(node: Node, x: Array) -> Array:
    """Σ x / N over the axis (all axes by default); the mean of no entries is nan, as NumPy's."""
    total = reduce_sum(node, x)
    n = count(node, x)
    out: Array = total / n if n else np.full_like(total, np.nan, dtype=x.dtype)
    return out


def logsumexp(node: Node, x: Array) -> Array:
    """log Σ e^x over the axis (all axes by default), stably."""
    return unkept(node, logsumexp_keep(x, resolved_axis(node, x.ndim)), x)


def extreme(pick: Callable[..., Array], node: Node, x: Array) -> Array:
    """max or min (pick) over the axis (all axes by default)."""
    out: Array = pick(x, axis=resolved_axis(node, x.ndim), keepdims=keeps(node))
    return out


def first_extreme(choose: Callable[..., Array], node: Node, x: Array) -> Array:
    """[x is the FIRST maximiser (minimiser: choose is argmax or argmin) along the axis]: ties give the whole
    gradient to the first, in C order (as PyTorch's max with dim does), not a share to each."""
    axis = resolved_axis(node, x.ndim)
    if axis is None:
        positions = np.arange(x.size).reshape(x.shape)
        first: Array = positions == choose(x)
        return first
    axis %= x.ndim
    positions = np.arange(x.shape[axis]).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    along: Array = positions == np.expand_dims(choose(x, axis=axis), axis)
    return along


def norm(node: Node, x: Array) -> Array:
    """‖x‖ = s·‖x/s‖ with s = max |x| (as LAPACK's nrm2 scales), so ‖x‖² neither overflows nor underflows: the
    2-norm of a vector, the Frobenius norm of a matrix (over the axis, or all axes)."""
    axis = resolved_axis(node, x.ndim)
    if x.size == 0:
        empty: Array = np.sqrt(np.sum(x * x, axis=axis, keepdims=keeps(node)))
        return empty
    top = np.max(np.abs(x), axis=axis, keepdims=True)
    scale = np.where((top > 0) & np.isfinite(top), top, 1)
    unit = x / scale
    return unkept(node, np.sqrt(np.sum(unit * unit, axis=axis, keepdims=True)) * scale, x)


def norm_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G ⊙ x/‖x‖, and 0 where ‖x‖ = 0 (a subgradient: every vector of norm ≤ 1 is one there)."""
    f = kept(node, ans, x)
    grad: Array = kept(node, g, x) * np.where(f == 0, 0, x / np.where(f == 0, 1, f))
    return grad


def softmax(node: Node, x: Array) -> Array:
    """e^x / Σ e^x along the axis (each column, by default), stably."""
    return stable_softmax(x, resolved_axis(node, x.ndim))


def log_softmax(node: Node, x: Array) -> Array:
    """x − log Σ e^x along the axis, as (x − max) − log Σ e^(x − max), so no digit of x is lost."""
    axis = resolved_axis(node, x.ndim)
    z = shifted(x, axis)
    out: Array = z - log_sum_exp_shifted(z, axis)
    return out


def summed(node: Node, a: Array, x: Array) -> Array:
    """Σ a along the node's axis, kept with size 1."""
    total: Array = np.sum(a, axis=resolved_axis(node, x.ndim), keepdims=True)
    return total


def power_vjp(node: Node, g: Array, x: Array) -> Array:
    """g ⊙ p·x^(p−1); for p = 0 the derivative is 0 everywhere (x⁰ = 1), also at x = 0."""
    if node.power == 0:
        zero: Array = np.zeros_like(g * x)
        return zero
    grad: Array = g * node.power * x ** (node.power - 1)
    return grad


# ---- Row makers ----

AXIS = (("axis", None), ("keepdims", True))


def unary(name: str, forward: Forward, vjp: VJP, rule: str, formula: str, *, uses: str, linear: bool = False,
          symbol: str = "", template: str = "", drawn: str = "call", factor: str = "") -> Primitive:
    """An elementwise function of one argument; factor: its diagonal Jacobian (default diag(vec name′(x)))."""
    return Primitive(name, symbol or name, elementwise_shape, forward, (vjp,), (rule,), (linear,), uses,
                     called=not template, template=template, drawn=drawn, elementwise=True,
                     factors=(factor or f"diag(vec {symbol or name}′({{x}}))",), formulas=(formula,))


def binary(name: str, symbol: str, forward: Forward, vjp_x: VJP, vjp_y: VJP, rule_x: str, rule_y: str,
           formulas: tuple[str, str], *, uses: str, factors: tuple[str, str], linear: tuple[bool, bool] = (True, True),
           additive: bool = False, inplace: np.ufunc | None = None) -> Primitive:
    """An elementwise operator of two arguments, broadcasting (a 1-D argument beside a matrix is a column)."""
    return Primitive(name, symbol, elementwise_shape, forward, (vjp_x, vjp_y), (rule_x, rule_y), linear, uses,
                     called=False, template=f"{{x}} {symbol} {{y}}", drawn="infix", elementwise=True,
                     factors=factors, additive=additive, inplace=inplace, formulas=formulas)


def reduction(name: str, symbol: str, forward: Forward, vjp: VJP, rule: str, formula: str, *, uses: str,
              linear: bool = False, latex: str = "", shape: ShapeRule = reduced_shape,
              keywords: tuple[tuple[str, Keyword], ...] = AXIS, differential: str = "",
              no_formula: str = "", batch: str = "reduce", exact: str = "") -> Primitive:
    """A reduction over an axis (kept with size 1 by default) or over every axis (a scalar)."""
    return Primitive(name, symbol, shape, forward, (vjp,), (rule,), (linear,), uses, keywords=keywords,
                     latex=latex, accumulation=sum_accumulation, differential=differential,
                     formulas=(formula,) if formula else (), no_formula=no_formula, batch=batch, exact=exact)


def extremum(name: str, value: Callable[..., Array], index: Callable[..., Array], which: str) -> Primitive:
    """max or min: over an axis or every axis; the whole gradient goes to the first {which} in C order."""
    return reduction(name, name, lambda n, x: extreme(value, n, x),
                     lambda n, g, f, x: kept(n, g, x) * first_extreme(index, n, x),
                     f"{{G}} at the first {which} of {{x}}, 0 elsewhere", "", uses="x", shape=nonempty_reduced_shape,
                     latex=rf"\{name}", differential=f"d {name} {{x}} = d{{x}} at its {which} (on a tie, the first "
                     "in C order)", no_formula=f"the gradient of {name} goes to the first {which} of each slice, "
                     "which no formula of wxb's language selects")


def matrix_function(name: str, symbol: str, shape: ShapeRule, forward: Forward, vjp: VJP, rule: str, formula: str,
                    *, uses: str, latex: str = "", linear: bool = False, differential: str = "",
                    check: Callable[[Node, Sequence[Array], Array], None] | None = None, exact: str = "") -> Primitive:
    """A function of the last two axes (batched over the leading ones, as @ is)."""
    return Primitive(name, symbol, shape, forward, (vjp,), (rule,), (linear,), uses, latex=latex,
                     accumulation=solve_accumulation, check=check, differential=differential, formulas=(formula,),
                     batch="matrix", exact=exact)


def signed(g: Array, x: Array) -> Array:
    """g ⊙ sign(x) applied as a mask: 0 where x = 0 even for an infinite g (not 0·∞ = NaN)."""
    out: Array = np.where(x > 0, g, np.where(x < 0, -g, 0))
    return out


# ---- The table ----

PRIMITIVES: dict[str, Primitive] = {row.name: row for row in (
    # ---- elementwise, two arguments (broadcasting; summed back by unbroadcast) ----
    binary("add", "+", lambda n, x, y: x + y,
           lambda n, g, f, x, y: g,                    lambda n, g, f, x, y: g,
           "{G}", "{G}", ("G", "G"), uses="", factors=("", ""), additive=True, inplace=np.add),
    binary("sub", "−", lambda n, x, y: x - y,
           lambda n, g, f, x, y: g,                    lambda n, g, f, x, y: -g,
           "{G}", "−{G}", ("G", "-G"), uses="", factors=("", "−I"), additive=True, inplace=np.subtract),
    binary("mul", "⊙", lambda n, x, y: x * y,
           lambda n, g, f, x, y: g * y,                lambda n, g, f, x, y: g * x,
           "{G} ⊙ {y}", "{G} ⊙ {x}", ("G * y", "G * x"), uses="xy", factors=("diag(vec {y})", "diag(vec {x})")),
    binary("div", "⊘", lambda n, x, y: x / y,
           lambda n, g, f, x, y: g / y,                lambda n, g, f, x, y: -g * f / y,
           "{G} ⊘ {y}", "−{G} ⊙ {f} ⊘ {y}", ("G / y", "-G * f / y"), uses="yf", linear=(True, False),
           factors=("diag(vec 1/{y})", "diag(vec −{f}/{y})")),
    # ---- elementwise, one argument ----
    unary("neg", lambda n, x: -x,                      lambda n, g, f, x: -g,
          "−{G}", "-G", uses="", linear=True, symbol="−", template="−{x}", drawn="", factor="−I"),
    unary("pow", lambda n, x: x ** n.power,            lambda n, g, f, x: power_vjp(n, g, x),
          "{G} ⊙ {p}·{x}^{q}", "p * G * x ** q", uses="x", symbol="^", template="{x}^{p}", drawn="",
          factor="diag(vec {p}·{x}^{q})"),
    unary("relu", lambda n, x: np.maximum(x, 0),       lambda n, g, f, x: np.where(x > 0, g, 0),
          "{G} ⊙ [{x} > 0]", "G * sign(f)", uses="x"),
    unary("tanh", lambda n, x: np.tanh(x),             lambda n, g, f, x: g * (1 - f * f),
          "{G} ⊙ (1 − {f}²)", "G * (1 - f ** 2)", uses="f"),
    unary("sigmoid", lambda n, x: sigmoid(x),          lambda n, g, f, x: g * f * (1 - f),
          "{G} ⊙ {f} ⊙ (1 − {f})", "G * f * (1 - f)", uses="f"),
    unary("softplus", lambda n, x: softplus(x),        lambda n, g, f, x: g * sigmoid(x),
          "{G} ⊙ sigmoid({x})", "G * sigmoid(x)", uses="x"),
    unary("exp", lambda n, x: np.exp(x),               lambda n, g, f, x: g * f,
          "{G} ⊙ {f}", "G * f", uses="f"),
    unary("log", lambda n, x: np.log(x),               lambda n, g, f, x: g / x,
          "{G} ⊘ {x}", "G / x", uses="x"),
    unary("log1p", lambda n, x: np.log1p(x),           lambda n, g, f, x: g / (1 + x),
          "{G} ⊘ (1 + {x})", "G / (1 + x)", uses="x"),
    unary("sqrt", lambda n, x: np.sqrt(x),             lambda n, g, f, x: g / (2 * f),
          "{G} ⊘ (2{f})", "G / (2 * f)", uses="f"),
    unary("abs", lambda n, x: np.abs(x),               lambda n, g, f, x: signed(g, x),
          "{G} ⊙ sign({x})", "G * sign(x)", uses="x"),
    unary("sign", lambda n, x: np.sign(x),             lambda n, g, f, x: np.zeros_like(g),
          "0 (flat on each side of 0)", "0", uses="", linear=False, factor="0"),
    unary("sin", lambda n, x: np.sin(x),               lambda n, g, f, x: g * np.cos(x),
          "{G} ⊙ cos({x})", "G * cos(x)", uses="x"),
    unary("cos", lambda n, x: np.cos(x),               lambda n, g, f, x: -g * np.sin(x),
          "−{G} ⊙ sin({x})", "-G * sin(x)", uses="x"),
    # ---- linear algebra (batched over leading axes; a 1-D operand is a column) ----
    Primitive("matmul", "·", lambda n, s: matmul_shape(s[0], s[1], (n.args[0].text, n.args[1].text)), matmul,
              (matmul_vjp_left, matmul_vjp_right), ("{G}·{y}ᵀ", "{x}ᵀ·{G}"), (True, True), "xy", called=False,
              template="{x}·{y}", drawn="infix", product=True, fresh=True, accumulation=matmul_accumulation,
              unsummed=matmul_unsummed, formulas=("G @ y.T", "x.T @ G"), batch="matmul"),
    Primitive("T", "ᵀ", transpose_shape, lambda n, x: transpose(x), (lambda n, g, f, x: swap(g).reshape(x.shape),),
              ("{G}ᵀ",), (True,), "x", called=False, template="{x}ᵀ", drawn="", formulas=("G.T",), batch="transpose"),
    matrix_function("trace", "tr", trace_shape, trace, trace_vjp,
                    "{G}·I", "expand(G) * eye(x)", uses="x", latex=r"\operatorname{tr}", linear=True,
                    differential="d tr {x} = tr d{x}"),
    matrix_function("det", "det", det_shape, lambda n, x: np.linalg.det(as_matrix(x)), det_vjp,
                    "{G}·adj({x})ᵀ", "expand(G * f) * inv(x).T", uses="x", latex=r"\det",
                    differential="d det {x} = tr(adj({x})·d{x}) = det {x}·tr({x}⁻¹·d{x})",
                    exact="the cofactors adj({x})ᵀ, exact at a singular {x} too"),
    matrix_function("logdet", "log det", det_shape, logdet, logdet_vjp,
                    "{G}·{x}⁻ᵀ", "expand(G) * inv(x).T", uses="x", latex=r"\log\det", check=check_logdet,
                    differential="d log|det {x}| = tr({x}⁻¹·d{x})"),
    matrix_function("inv", "⁻¹", inv_shape, lambda n, x: np.linalg.inv(as_matrix(x)).reshape(x.shape), inv_vjp,
                    "−{f}ᵀ·{G}·{f}ᵀ", "-(f.T @ G @ f.T)", uses="f", latex=r"\operatorname{inv}",
                    check=check_inverse, differential="d({x}⁻¹) = −{x}⁻¹·d{x}·{x}⁻¹"),
    Primitive("solve", "\\", solve_shape, solve, (solve_vjp_a, solve_vjp_b),
              ("−solve({x}ᵀ, {G})·{f}ᵀ", "solve({x}ᵀ, {G})"),
              (False, True), "xyf", latex=r"\operatorname{solve}", accumulation=solve_accumulation,
              unsummed=solve_unsummed, check=check_inverse, joint=solve_gradients,
              differential="d({x}⁻¹{y}) = {x}⁻¹·(d{y} − d{x}·{f})",
              formulas=("-solve(x.T, full(G)) @ f.T", "solve(x.T, full(G))"), batch="matrix"),
    Primitive("diag", "diag", diag_shape, diag, (diag_vjp,), ("diag({G})",), (True,), "x",
              latex=r"\operatorname{diag}", formulas=("diag(full(G))",), batch="whole"),
    # ---- along an axis (shape kept) ----
    Primitive("softmax", "softmax", along_shape, softmax,
              (lambda n, g, f, x: f * (g - summed(n, g * f, x)),), ("{f} ⊙ ({G} − Σ {G} ⊙ {f})",), (False,), "xf",
              keywords=(("axis", -2),), accumulation=sum_accumulation, formulas=("f * (G - keep_sum(G * f))",),
              batch="axis"),
    Primitive("log_softmax", "log_softmax", along_shape, log_softmax,
              (lambda n, g, f, x: g - np.exp(f) * summed(n, g, x),), ("{G} − exp({f}) ⊙ Σ {G}",), (False,), "xf",
              keywords=(("axis", -2),), accumulation=sum_accumulation, formulas=("G - exp(f) * keep_sum(G)",),
              batch="axis"),
    # ---- reductions (over an axis, kept with size 1 by default, or over every axis: a scalar) ----
    reduction("sum", "Σ", reduce_sum, lambda n, g, f, x: expand(n, g, x),
              "{G} repeated along the summed axes", "expand(G)", uses="x", linear=True, batch="sum"),
    reduction("mean", "mean", mean, lambda n, g, f, x: expand(n, g / max(count(n, x), 1), x),
              "{G} / N repeated along the averaged axes", "expand(G / n)", uses="x", linear=True, batch="mean"),
    reduction("logsumexp", "logsumexp", logsumexp,
              lambda n, g, f, x: kept(n, g, x) * stable_softmax(x, resolved_axis(n, x.ndim)),
              "{G} ⊙ softmax({x})", "expand(G) * softmax(x)", uses="x", batch="logsumexp"),
    extremum("max", np.max, np.argmax, "maximiser"),
    extremum("min", np.min, np.argmin, "minimiser"),
    reduction("norm", "‖·‖", norm, norm_vjp, "{G} ⊙ {x} ⊘ {f}", "x * expand(G / f)", uses="xf",
              latex=r"\operatorname{norm}",
              differential="d‖{x}‖ = ⟨{x}, d{x}⟩ / ‖{x}‖, and at {x} = 0 the subgradient 0",
              exact="the subgradient 0 where {f} = 0"),
)}
