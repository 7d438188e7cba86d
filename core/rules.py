"""The table of primitives: for each, its forward, its VJPs (one per argument) and its rules as text.

Read it as autograd's numpy_vjps.py: one short rule per line. A VJP maps the upstream gradient g (∂L/∂ans) to the
gradient of one argument. For elementwise primitives it is written for the broadcast shape and the engine sums it
back to the argument's shape once, with `unbroadcast`; the matrix product reduces its own batch axes
(`summed_matmul`, memory-lean). In the rule texts {G} is the upstream gradient, {f} the primitive's value, {x} and
{y} its arguments.

Adding a primitive is one row here plus its test: the parser takes the functions (rows with called=True) and
their `axis=` keyword (kinds axis and reduce) from this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .broadcast import summed_matmul

if TYPE_CHECKING:
    from .expr import Node

Array = np.ndarray[Any, np.dtype[Any]]
Forward = Callable[..., Array]
VJP = Callable[..., Array]


@dataclass(frozen=True)
class Primitive:
    """One row of the table. kind: elementwise (arguments broadcast), matmul, axis (shape kept, along an axis),
    reduce (an axis or all axes summed away), transpose. linear[i]: linear in argument i, the others held fixed."""

    symbol: str
    kind: str
    forward: Forward
    vjps: tuple[VJP, ...]
    rules: tuple[str, ...]
    linear: tuple[bool, ...]
    uses: str = "xyf"
    called: bool = False

    @property
    def default_axis(self) -> int | None:
        """The axis a function of kind axis works along (−2: each column), None for every axis (reduce)."""
        return -2 if self.kind == "axis" else None


def unary(symbol: str, forward: Forward, vjp: VJP, rule: str, *, uses: str, linear: bool = False,
          called: bool = True) -> Primitive:
    """An elementwise primitive of one argument, a function by default; uses: the values its VJP reads (x, f)."""
    return Primitive(symbol, "elementwise", forward, (vjp,), (rule,), (linear,), uses, called)


def binary(symbol: str, forward: Forward, vjp_x: VJP, vjp_y: VJP, rule_x: str, rule_y: str, *, uses: str,
           linear: tuple[bool, bool] = (True, True)) -> Primitive:
    """An elementwise primitive of two arguments, broadcasting (a 1-D argument beside a matrix is a column)."""
    return Primitive(symbol, "elementwise", forward, (vjp_x, vjp_y), (rule_x, rule_y), linear, uses)


# ---- Helpers the rules share ----

def swap(a: Array) -> Array:
    """aᵀ over the last two axes (a vector or scalar is its own transpose, as NumPy's .T)."""
    return a if a.ndim < 2 else np.swapaxes(a, -1, -2)


def transpose(a: Array) -> Array:
    """aᵀ: the last two axes swapped; a 1-D operand is a column, so its transpose is a row (1, m)."""
    return a.reshape(1, -1) if a.ndim == 1 else swap(a)


def resolved_axis(node: Node, ndim: int) -> int | None:
    """The node's axis for an argument of ndim axes: softmax's default −2 is axis 0 of a vector."""
    if node.axis is None:
        return None
    if node.axis == -2 and ndim == 1 and node.default_axis:
        return 0
    return node.axis


def expand(node: Node, g: Array, x: Array) -> Array:
    """A reduced gradient g stretched back along the summed axis (or all axes) to x's shape."""
    axis = resolved_axis(node, x.ndim)
    g = g if axis is None else np.expand_dims(g, axis)
    return np.broadcast_to(g, x.shape)


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
    kept: Array = log_sum_exp_shifted(shifted(x, axis), axis) + np.where(np.isfinite(top), top, 0)
    return kept


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


def as_matrices(w: Array, x: Array, g: Array) -> tuple[Array, Array, Array]:
    """w, x and g with the axes np.matmul adds to 1-D arguments put back: w (k,) → (1,k), x (k,) → (k,1)."""
    g = g[..., np.newaxis] if x.ndim == 1 else g
    g = g[..., np.newaxis, :] if w.ndim == 1 else g
    w2 = w[np.newaxis, :] if w.ndim == 1 else w
    x2 = x[:, np.newaxis] if x.ndim == 1 else x
    return w2, x2, g


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


def softmax(node: Node, x: Array) -> Array:
    """e^x / Σ e^x along the axis (each column, by default), stably."""
    return stable_softmax(x, resolved_axis(node, x.ndim))


def log_softmax(node: Node, x: Array) -> Array:
    """x − log Σ e^x along the axis, as (x − max) − log Σ e^(x − max), so no digit of x is lost."""
    axis = resolved_axis(node, x.ndim)
    z = shifted(x, axis)
    out: Array = z - log_sum_exp_shifted(z, axis)
    return out


def logsumexp(node: Node, x: Array) -> Array:
    """log Σ e^x over the axis (all axes by default), the axis removed."""
    axis = resolved_axis(node, x.ndim)
    kept = logsumexp_keep(x, axis)
    out: Array = kept.reshape(()) if axis is None else np.squeeze(kept, axis=axis)
    return out


def power_vjp(node: Node, g: Array, x: Array) -> Array:
    """g ⊙ p·x^(p−1); for p = 0 the derivative is 0 everywhere (x⁰ = 1), also at x = 0."""
    if node.power == 0:
        zero: Array = np.zeros_like(g * x)
        return zero
    grad: Array = g * node.power * x ** (node.power - 1)
    return grad


def mean(node: Node, x: Array) -> Array:
    """Σ x / N over the axis (all axes by default); the mean of no entries is nan, as NumPy's."""
    total = np.sum(x, axis=resolved_axis(node, x.ndim))
    n = count(node, x)
    out: Array = total / n if n else np.full_like(total, np.nan, dtype=x.dtype)
    return out


def keep_axis(node: Node, g: Array, x: Array) -> Array:
    """g (of the reduced shape) with the summed axis put back with size 1, to broadcast against x."""
    axis = resolved_axis(node, x.ndim)
    return g.reshape((1,) * x.ndim) if axis is None else np.expand_dims(g, axis)


def summed(node: Node, a: Array, x: Array) -> Array:
    """Σ a along the node's axis, kept with size 1."""
    total: Array = np.sum(a, axis=resolved_axis(node, x.ndim), keepdims=True)
    return total


# ---- The table ----

PRIMITIVES: dict[str, Primitive] = {
    # ---- elementwise, two arguments (broadcasting; sums back by unbroadcast) ----
    "add": binary("+", lambda n, x, y: x + y,
                  lambda n, g, f, x, y: g,                    lambda n, g, f, x, y: g,
                  "{G}", "{G}", uses=""),
    "sub": binary("−", lambda n, x, y: x - y,
                  lambda n, g, f, x, y: g,                    lambda n, g, f, x, y: -g,
                  "{G}", "−{G}", uses=""),
    "mul": binary("⊙", lambda n, x, y: x * y,
                  lambda n, g, f, x, y: g * y,                lambda n, g, f, x, y: g * x,
                  "{G} ⊙ {y}", "{G} ⊙ {x}", uses="xy"),
    "div": binary("⊘", lambda n, x, y: x / y,
                  lambda n, g, f, x, y: g / y,                lambda n, g, f, x, y: -g * f / y,
                  "{G} ⊘ {y}", "−{G} ⊙ {f} ⊘ {y}", uses="yf", linear=(True, False)),
    # ---- elementwise, one argument ----
    "neg": unary("−", lambda n, x: -x,                        lambda n, g, f, x: -g,
                 "−{G}", uses="", linear=True, called=False),
    "pow": unary("^", lambda n, x: x ** n.power,              lambda n, g, f, x: power_vjp(n, g, x),
                 "{G} ⊙ p·{x}^(p−1)", uses="x", called=False),
    "relu": unary("relu", lambda n, x: np.maximum(x, 0),      lambda n, g, f, x: g * (x > 0),
                  "{G} ⊙ [{x} > 0]", uses="x"),
    "tanh": unary("tanh", lambda n, x: np.tanh(x),            lambda n, g, f, x: g * (1 - f * f),
                  "{G} ⊙ (1 − {f}²)", uses="f"),
    "sigmoid": unary("sigmoid", lambda n, x: sigmoid(x),      lambda n, g, f, x: g * f * (1 - f),
                     "{G} ⊙ {f} ⊙ (1 − {f})", uses="f"),
    "exp": unary("exp", lambda n, x: np.exp(x),               lambda n, g, f, x: g * f,
                 "{G} ⊙ {f}", uses="f"),
    "log": unary("log", lambda n, x: np.log(x),               lambda n, g, f, x: g / x,
                 "{G} ⊘ {x}", uses="x"),
    "sqrt": unary("sqrt", lambda n, x: np.sqrt(x),            lambda n, g, f, x: g / (2 * f),
                  "{G} ⊘ (2{f})", uses="f"),
    "abs": unary("abs", lambda n, x: np.abs(x),               lambda n, g, f, x: g * np.sign(x),
                 "{G} ⊙ sign({x})", uses="x"),
    # ---- linear algebra ----
    "matmul": Primitive("·", "matmul", lambda n, x, y: np.matmul(x, y),
                        (matmul_vjp_left, matmul_vjp_right), ("{G}·{y}ᵀ", "{x}ᵀ·{G}"), (True, True), "xy"),
    "T": Primitive("ᵀ", "transpose", lambda n, x: transpose(x), (lambda n, g, f, x: swap(g).reshape(x.shape),),
                   ("{G}ᵀ",), (True,), "x"),
    # ---- along an axis (shape kept) ----
    "softmax": Primitive("softmax", "axis", softmax,
                         (lambda n, g, f, x: f * (g - summed(n, g * f, x)),), ("{f} ⊙ ({G} − Σ {G} ⊙ {f})",),
                         (False,), "xf", called=True),
    "log_softmax": Primitive("log_softmax", "axis", log_softmax,
                             (lambda n, g, f, x: g - np.exp(f) * summed(n, g, x),), ("{G} − exp({f}) ⊙ Σ {G}",),
                             (False,), "xf", called=True),
    # ---- reductions (an axis, or every axis, summed away) ----
    "sum": Primitive("Σ", "reduce", lambda n, x: np.sum(x, axis=resolved_axis(n, x.ndim)),
                     (lambda n, g, f, x: expand(n, g, x),), ("{G} repeated along the summed axes",), (True,), "x",
                     called=True),
    "mean": Primitive("mean", "reduce", lambda n, x: mean(n, x),
                      (lambda n, g, f, x: expand(n, g / max(count(n, x), 1), x),),
                      ("{G} / N repeated along the averaged axes",), (True,), "x",
                      called=True),
    "logsumexp": Primitive("logsumexp", "reduce", logsumexp,
                           (lambda n, g, f, x: keep_axis(n, g, x) * stable_softmax(x, resolved_axis(n, x.ndim)),),
                           ("{G} ⊙ softmax({x})",), (False,), "xf", called=True),
}
