"""The one test table of primitives: for every row of wxb.core.primitives.PRIMITIVES, its autograd oracle, its case
for derive's round trip, and what the random expression trees must know about it (where its argument must be
positive, the exponents ** draws, where it has a kink). tests/test_primitive_cases.py fails, naming the row, when
a row has no entry here or an entry has no row.

The random trees (tests/test_engine_oracle.py) draw their operations from the rows themselves: every elementwise
row of one argument (in the domains its entry allows), every elementwise row of two, every reduction (a row with
axis= and keepdims=), every function along an axis (axis= alone), and the matrix rows the generator shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np

from wxb.core.primitives import PRIMITIVES

Oracle = Callable[..., Any]
DerivedCase = tuple[str, dict[str, np.ndarray]]


# ---- The oracle's conventions, stated independently of the engine ----

def resolved(tree: Any, ndim: int) -> int | None:
    """The axis the engine is documented to use: softmax's default is −2, axis 0 for a 1-D argument."""
    if tree.axis == "default":
        if tree.op in ("softmax", "log_softmax"):
            return 0 if ndim == 1 else -2
        return None
    assert not isinstance(tree.axis, str)
    return int(tree.axis) if tree.axis is not None else None


def keeps(tree: Any, axis: int | None) -> bool:
    """The documented keepdims: as written, else kept along an axis and dropped over every axis."""
    return bool(tree.keepdims) if tree.keepdims is not None else axis is not None


def column(a: Any, other: Any) -> Any:
    """The convention: a 1-D argument beside one with 2 or more axes is a column (m, 1)."""
    return anp.reshape(a, (a.shape[0], 1)) if anp.ndim(a) == 1 and anp.ndim(other) >= 2 else a


def as_matrix(a: Any) -> Any:
    """The convention for matrix arguments: a 1-D operand is a column (m, 1)."""
    return anp.reshape(a, (-1, 1)) if anp.ndim(a) == 1 else a


def lse_keep(x: Any, axis: int | None) -> Any:
    """log Σ e^x, the naive way (values here are moderate), the axis kept."""
    return anp.log(anp.sum(anp.exp(x), axis=axis, keepdims=True))


def oracle_trace(x: Any) -> Any:
    """Σᵢ Xᵢᵢ over the last two axes, as a masked sum (independent of np.trace)."""
    m = as_matrix(x)
    return anp.sum(m * np.eye(m.shape[-2], m.shape[-1]), axis=(-2, -1))


def oracle_diag(x: Any) -> Any:
    """A vector to its diagonal matrix; a (batch of) matrix to its diagonal, as masked sums."""
    if anp.ndim(x) == 1:
        return anp.reshape(x, (-1, 1)) * np.eye(x.shape[0])
    k = min(x.shape[-2:])
    return anp.sum(x[..., :k, :k] * np.eye(k), axis=-1)


def oracle_solve(a: Any, b: Any) -> Any:
    """A⁻¹B with the batch axes broadcast by adding zeros (autograd sums them back); a 1-D B is a column."""
    b2 = as_matrix(b)
    batch = np.broadcast_shapes(a.shape[:-2], b2.shape[:-2])
    out = anp.linalg.solve(a + np.zeros((*batch, *a.shape[-2:])), b2 + np.zeros((*batch, *b2.shape[-2:])))
    return out[..., 0] if anp.ndim(b) == 1 else out


def oracle_vec(x: Any) -> Any:
    """The columns of x stacked into one column (C order on xᵀ, independent of Fortran-order reshapes)."""
    return anp.reshape(anp.transpose(as_matrix(x)), (-1, 1))


def oracle_unvec(v: Any, x: Any) -> Any:
    """The column v refilled column by column into x's shape."""
    m, n = as_matrix(x).shape
    return anp.reshape(anp.transpose(anp.reshape(v, (n, m))), x.shape)


def grid(g: Any, m: int, n: int) -> Any:
    """G as its m×n grid of blocks, G4[i, k, j, l] = G_ij[k, l]."""
    r, c = as_matrix(g).shape
    return anp.reshape(as_matrix(g), (m, r // m, n, c // n))


def oracle_blockdot(g: Any, b: Any) -> Any:
    """⟨G_ij, B⟩ for each block: the blocks times B broadcast, summed over each block's two axes."""
    p, q = as_matrix(b).shape
    r, c = as_matrix(g).shape
    return anp.sum(grid(g, r // p, c // q) * anp.reshape(as_matrix(b), (1, p, 1, q)), axis=(1, 3))


def oracle_blocksum(g: Any, a: Any) -> Any:
    """Σ_ij A_ij·G_ij: the blocks weighted by A, summed over the grid's two axes."""
    m, n = as_matrix(a).shape
    return anp.sum(grid(g, m, n) * anp.reshape(as_matrix(a), (m, 1, n, 1)), axis=(0, 2))


def onehot(y: Any, classes: int) -> Any:
    """T (C, n): T[y_k, k] = 1."""
    return (np.arange(classes).reshape(-1, 1) == np.reshape(y, (1, -1))).astype(float)


def oracle_cross_entropy(z: Any, y: Any) -> Any:
    """−log softmax(z[:, k])[y_k] for each column k, the naive way, as the row (1, n)."""
    m = as_matrix(z)
    return lse_keep(m, 0) - anp.sum(onehot(y, m.shape[0]) * m, axis=0, keepdims=True)


def reduce(function: Callable[[Any, int | None, bool], Any]) -> Oracle:
    """An oracle reduction over the tree's axis, keeping it as the engine documents."""
    def apply(tree: Any, x: Any) -> Any:
        axis = resolved(tree, anp.ndim(x))
        return function(x, axis, keeps(tree, axis))
    return apply


def along(log: bool) -> Oracle:
    """softmax or log_softmax along the tree's axis."""
    def apply(tree: Any, x: Any) -> Any:
        axis = resolved(tree, anp.ndim(x))
        return x - lse_keep(x, axis) if log else anp.exp(x - lse_keep(x, axis))
    return apply


def transposed(x: Any) -> Any:
    """xᵀ over the last two axes; a 1-D operand is a column, so its transpose is a row (1, m)."""
    if anp.ndim(x) == 1:
        return anp.reshape(x, (1, -1))
    return anp.swapaxes(x, -1, -2) if anp.ndim(x) >= 2 else x


# ---- The table ----

@dataclass(frozen=True)
class Entry:
    """One row's tests. oracle(tree, *args): its value with autograd.numpy (tree gives axis, keepdims, power).
    derive: an expression and operands whose derived formulas must equal backward (None for a row with no formula).
    domains: where the random trees draw an elementwise row: 'real' (any argument), 'positive' (its last
    argument > 0: log's, a denominator); () for not at all, with the reason in `undrawn`. powers: the exponents
    drawn for ** in each domain. kink: where the oracle skips an example, 'argument' (within 1e-3 of 0),
    'value' (the value within 1e-3 of 0), 'top tie' or 'bottom tie' (the two largest, or smallest, entries
    within 1e-3). empty: a reduction defined over zero entries (drawn over an empty axis too). formula_args: the
    arguments at which the row's formula templates, evaluated with NumPy, must equal autograd's VJP of the oracle
    (on the plain tree: no axis=, no keepdims=, power 1)."""

    oracle: Oracle
    derive: DerivedCase | None
    domains: tuple[str, ...] = ("real",)
    powers: dict[str, tuple[float, ...]] = field(default_factory=dict)
    kink: str = ""
    empty: bool = False
    undrawn: str = ""
    formula_args: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class Plain:
    """The oracle's tree for a row called plainly, f(x): no axis=, no keepdims=, power 1."""

    op: str
    axis: str = "default"
    keepdims: None = None
    power: float = 1.0


RNG = np.random.default_rng(7)
M = RNG.uniform(-2, 2, (3, 4))
P = RNG.uniform(0.5, 2, (3, 4))
SQUARE = RNG.uniform(-1, 1, (3, 3)) + 3 * np.eye(3)
ROW = RNG.uniform(-1, 1, (1, 4))
COLUMN = RNG.uniform(-1, 1, 3)
OTHER = RNG.uniform(-1, 1, (3, 4))
WIDE = RNG.uniform(-1, 1, (2, 3))
LABELS = np.array([[0.0, 2.0, 1.0, 2.0]])  # class labels of M's 3 rows, one per column
STACKED = RNG.uniform(-1, 1, (12, 1))  # a column of M's size
BLOCKS = RNG.uniform(-1, 1, (6, 12))  # kron(WIDE, M)'s shape: a 2×3 grid of M-shaped blocks
UNIT = RNG.uniform(-0.9, 0.9, (3, 4))  # inside arcsin's and arccos's domain, away from tan's poles


def of_x(expression: str, x: np.ndarray = M) -> DerivedCase:
    """A derive case of one operand X."""
    return expression, {"X": x}


CASES: dict[str, Entry] = {
    "add": Entry(lambda t, x, y: column(x, y) + column(y, x), ("X + b", {"X": M, "b": COLUMN})),
    "sub": Entry(lambda t, x, y: column(x, y) - column(y, x), ("X - b", {"X": M, "b": ROW})),
    "mul": Entry(lambda t, x, y: column(x, y) * column(y, x), ("X * Y", {"X": M, "Y": OTHER})),
    "div": Entry(lambda t, x, y: column(x, y) / column(y, x), ("X / Y", {"X": M, "Y": P}), domains=("positive",)),
    "neg": Entry(lambda t, x: -x, of_x("-X")),
    "pow": Entry(lambda t, x: x ** t.power, of_x("X ** 3"), domains=("real", "positive"),
                 powers={"real": (1.0, 2.0, 3.0), "positive": (0.5, -1.0, 1.5, -0.5)}),
    "relu": Entry(lambda t, x: anp.maximum(x, 0.0), of_x("relu(X)"), kink="argument"),
    "tanh": Entry(lambda t, x: anp.tanh(x), of_x("tanh(X)")),
    "sigmoid": Entry(lambda t, x: 1.0 / (1.0 + anp.exp(-x)), of_x("sigmoid(X)")),
    "softplus": Entry(lambda t, x: anp.log(1.0 + anp.exp(x)), of_x("softplus(X)"), formula_args=(M,)),
    "exp": Entry(lambda t, x: anp.exp(x), of_x("exp(X)")),
    "log": Entry(lambda t, x: anp.log(x), of_x("log(X)", P), domains=("positive",)),
    "log1p": Entry(lambda t, x: anp.log1p(x), of_x("log1p(X)", P), domains=("positive",), formula_args=(P,)),
    "sqrt": Entry(lambda t, x: anp.sqrt(x), of_x("sqrt(X)", P), domains=("positive",)),
    "abs": Entry(lambda t, x: anp.abs(x), of_x("abs(X)"), kink="argument"),
    "sign": Entry(lambda t, x: anp.sign(x), of_x("sign(X) * X"), domains=(), kink="argument",
                  undrawn="flat on each side of 0: drawn, it would zero every gradient beneath it"),
    "step": Entry(lambda t, x: anp.where(x > 0, 1.0, 0.0), of_x("step(X) * X"), domains=(), kink="argument",
                  undrawn="flat on each side of 0: drawn, it would zero every gradient beneath it"),
    "sin": Entry(lambda t, x: anp.sin(x), of_x("sin(X)"), formula_args=(M,)),
    "cos": Entry(lambda t, x: anp.cos(x), of_x("cos(X)"), formula_args=(M,)),
    "tan": Entry(lambda t, x: anp.tan(x), of_x("tan(X)", UNIT), domains=(), formula_args=(UNIT,),
                 undrawn="poles at ±π/2: a random tree's argument may sit on one"),
    "arctan": Entry(lambda t, x: anp.arctan(x), of_x("arctan(X)"), formula_args=(M,)),
    "arcsin": Entry(lambda t, x: anp.arcsin(x), of_x("arcsin(X)", UNIT), domains=(), formula_args=(UNIT,),
                    undrawn="defined on [−1, 1] only: a random tree's argument leaves it"),
    "arccos": Entry(lambda t, x: anp.arccos(x), of_x("arccos(X)", UNIT), domains=(), formula_args=(UNIT,),
                    undrawn="defined on [−1, 1] only: a random tree's argument leaves it"),
    "sinh": Entry(lambda t, x: anp.sinh(x), of_x("sinh(X)"), formula_args=(M,)),
    "cosh": Entry(lambda t, x: anp.cosh(x), of_x("cosh(X)"), formula_args=(M,)),
    "matmul": Entry(lambda t, x, y: anp.matmul(as_matrix(x), y), ("W @ X", {"W": WIDE, "X": M})),
    "T": Entry(lambda t, x: transposed(x), of_x("X.T")),
    "trace": Entry(lambda t, x: oracle_trace(x), of_x("trace(X)", SQUARE), formula_args=(SQUARE,)),
    "det": Entry(lambda t, x: anp.linalg.det(as_matrix(x)), of_x("det(X)", SQUARE), formula_args=(SQUARE,)),
    "logdet": Entry(lambda t, x: anp.linalg.slogdet(as_matrix(x))[1], of_x("logdet(X)", SQUARE),
                    formula_args=(SQUARE,)),
    "inv": Entry(lambda t, x: anp.reshape(anp.linalg.inv(as_matrix(x)), x.shape), of_x("inv(X)", SQUARE),
                 formula_args=(SQUARE,)),
    "solve": Entry(lambda t, a, b: oracle_solve(as_matrix(a), b), ("solve(A, B)", {"A": SQUARE, "B": M}),
                   formula_args=(SQUARE, M)),
    "diag": Entry(lambda t, x: oracle_diag(x), of_x("diag(X)", SQUARE), formula_args=(SQUARE,)),
    "eye": Entry(lambda t, x: 0 * as_matrix(x)[:, :1] + np.eye(x.shape[0]), of_x("eye(X) * X", SQUARE),
                 formula_args=(SQUARE,), undrawn="a constant of its argument's size: drawn, it would only cut the "
                 "tree's gradient off"),
    "kron": Entry(lambda t, x, y: anp.kron(as_matrix(x), as_matrix(y)), ("kron(A, B)", {"A": WIDE, "B": COLUMN}),
                  formula_args=(WIDE, M),
                  undrawn="its value has the product of its arguments' sizes: the random trees shape matrix rows "
                  "by hand (test_engine_oracle.SHAPED)"),
    "blockdot": Entry(lambda t, g, b: oracle_blockdot(g, b), ("blockdot(X, B)", {"X": BLOCKS, "B": M}),
                      formula_args=(BLOCKS, M), undrawn="needs a first argument made of blocks of the second's shape"),
    "blocksum": Entry(lambda t, g, a: oracle_blocksum(g, a), ("blocksum(X, A)", {"X": BLOCKS, "A": WIDE}),
                      formula_args=(BLOCKS, WIDE), undrawn="needs a first argument made of blocks of the second's "
                      "grid"),
    "vec": Entry(lambda t, x: oracle_vec(x), of_x("vec(X)"), formula_args=(M,),
                 undrawn="reshapes to one column: the random trees shape matrix rows by hand"),
    "unvec": Entry(lambda t, v, x: oracle_unvec(v, x), ("unvec(v, X)", {"v": STACKED, "X": M}),
                   formula_args=(STACKED, M), undrawn="needs a column of its second argument's size"),
    "cross_entropy": Entry(lambda t, z, y: oracle_cross_entropy(z, y), ("cross_entropy(Z, y)", {"Z": M, "y": LABELS}),
                           formula_args=(M, LABELS),
                           undrawn="its second argument holds class labels, which random operands are not"),
    "onehot": Entry(lambda t, y, z: onehot(y, as_matrix(z).shape[0]) + 0 * z, ("onehot(y, Z) * Z",
                                                                              {"Z": M, "y": LABELS}),
                    formula_args=(LABELS, M),
                    undrawn="its first argument holds class labels, which random operands are not"),
    "softmax": Entry(along(log=False), of_x("softmax(X)")),
    "log_softmax": Entry(along(log=True), of_x("log_softmax(X, axis=1)")),
    "sum": Entry(reduce(lambda x, axis, keep: anp.sum(x, axis=axis, keepdims=keep)), of_x("sum(X, axis=0)"),
                 empty=True),
    "mean": Entry(reduce(lambda x, axis, keep: anp.mean(x, axis=axis, keepdims=keep)), of_x("mean(X, axis=1)")),
    "logsumexp": Entry(reduce(lambda x, axis, keep: anp.log(anp.sum(anp.exp(x), axis=axis, keepdims=keep))),
                       of_x("logsumexp(X)")),
    "max": Entry(reduce(lambda x, axis, keep: anp.max(x, axis=axis, keepdims=keep)), None, kink="top tie"),
    "min": Entry(reduce(lambda x, axis, keep: anp.min(x, axis=axis, keepdims=keep)), None, kink="bottom tie"),
    "norm": Entry(reduce(lambda x, axis, keep: anp.sqrt(anp.sum(x * x, axis=axis, keepdims=keep))), of_x("norm(X)"),
                  kink="value", formula_args=(M,)),
}


# ---- What the random trees draw, from the rows and their entries ----

def keyword_names(name: str) -> set[str]:
    return {keyword for keyword, _ in PRIMITIVES[name].keywords}


def drawn_elementwise(arity: int, domain: str) -> tuple[str, ...]:
    """The elementwise rows of this arity that the random trees draw in this domain."""
    return tuple(name for name, row in PRIMITIVES.items()
                 if row.elementwise and row.arity == arity and name in CASES and domain in CASES[name].domains)


UNARY = drawn_elementwise(1, "real")
POSITIVE = drawn_elementwise(1, "positive")
BINARY = tuple(dict.fromkeys((*drawn_elementwise(2, "real"), *drawn_elementwise(2, "positive"))))
REDUCTIONS = tuple(name for name, row in PRIMITIVES.items() if {"axis", "keepdims"} <= keyword_names(name))
ALONG = tuple(name for name, row in PRIMITIVES.items() if keyword_names(name) == {"axis"})
EMPTY_REDUCTIONS = tuple(name for name in REDUCTIONS if name in CASES and CASES[name].empty)
PRODUCTS = tuple(name for name, row in PRIMITIVES.items() if row.product)


def kinked(kind: str) -> tuple[str, ...]:
    """The rows whose entry names this kind of kink."""
    return tuple(name for name, entry in CASES.items() if entry.kink == kind)
