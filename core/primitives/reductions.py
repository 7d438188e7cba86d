"""The rows along an axis: reductions (the axis kept with size 1 by default, or every axis: a scalar) and the
functions along an axis that keep the shape (softmax, log_softmax).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError, WxbError
from ..nodes import Keyword, Node
from ..notation import shape_text
from ..shapes import Array, Shape, along_shape, as_matrix, keeps, matrix_arg, reduced_shape, resolved_axis
from .batch import ALONG_AXIS, REDUCE, WHOLE, Batch, Combine
from .row import JVP, VJP, Forward, Kink, Primitive, ShapeRule, count, expand, kept, sum_accumulation, unkept


def nonempty_reduced_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """max and min: a reduction that needs at least one entry along the reduced axes."""
    out = reduced_shape(node, shapes)
    axis = resolved_axis(node, len(shapes[0]))
    n = math.prod(shapes[0]) if axis is None else shapes[0][axis]
    if n == 0:
        raise ShapeError(f"{node.text}: {node.args[0].text} {shape_text(shapes[0])} has no entries to take the "
                         f"{node.op} of" + ("" if axis is None else f" along axis {node.axis}"))
    return out


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


# ---- Tangent rules: d f along the tangent t of the argument ----

def along_axis(node: Node, a: Array, x: Array) -> Array:
    """Σ a along the node's axis (every axis by default), kept or dropped as the node's value is."""
    return unkept(node, summed(node, a, x), x)


def mean_jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
    """d mean x = mean dx (0 over no entries, as the VJP)."""
    out: Array = along_axis(node, t, x) / max(count(node, x), 1)
    return out


def extreme_jvp(choose: Callable[..., Array]) -> JVP:
    """d max x = dx at the first maximiser (minimiser: choose is argmin), as the VJP gives it the whole gradient."""
    def jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
        return along_axis(node, np.where(first_extreme(choose, node, x), t, 0), x)
    return jvp


def norm_jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
    """d‖x‖ = ⟨x, dx⟩ / ‖x‖, and 0 where ‖x‖ = 0 (the VJP's subgradient 0)."""
    f = kept(node, ans, x)
    return along_axis(node, np.where(f == 0, 0, x / np.where(f == 0, 1, f)) * t, x)


def tied(node: Node, args: Sequence[Array], value: Array) -> int:
    """How many slices along the axis hold their max (or min) value more than once."""
    x = args[0]
    hits = np.sum(x == kept(node, value, x), axis=resolved_axis(node, x.ndim))
    return int(np.count_nonzero(hits > 1))


def at_zero_norm(node: Node, args: Sequence[Array], value: Array) -> int:
    """How many norms are 0 (the cone's tip, where the norm has no derivative)."""
    return int(np.count_nonzero(value == 0))


# ---- Softmax cross-entropy with integer class labels: classes along axis 0, samples as columns ----

def labelled_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """Z (C, n) (1-D: one sample) and its labels y, a row (1, n) or a 1-D vector (n,): one label per column (one
    sample's may be a number)."""
    z = matrix_arg(node, shapes[0], 0)
    y = shapes[1]
    if len(z) > 2 or not (y in ((z[1],), (1, z[1])) or (y == () and z[1] == 1)):
        raise ShapeError(f"{node.text}: {node.args[0].text} {shape_text(shapes[0])} and {node.args[1].text} "
                         f"{shape_text(y)} do not fit: {node.op} takes scores (C, n), classes along axis 0 and one "
                         f"sample per column, and a row (1, n) or a 1-D vector of n integer labels")
    return z


def cross_entropy_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """−log softmax(Z[:, k])[y_k]: one loss per sample, the row (1, n)."""
    return (1, labelled_shape(node, shapes)[1])


def onehot_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """onehot(y, Z): Z's shape."""
    labelled_shape(node, shapes[::-1])
    return shapes[1]


def scores_dtype(*dtypes: np.dtype[Any]) -> np.dtype[Any]:
    """The scores' floating dtype (the labels, integers or floats, do not widen it)."""
    return np.result_type(dtypes[0], np.float16)


def labels_dtype(*dtypes: np.dtype[Any]) -> np.dtype[Any]:
    """onehot(y, Z): Z's floating dtype."""
    return np.result_type(dtypes[1], np.float16)


def check_labels(node: Node, labels: Array, classes: int, at: int) -> None:
    """Every label an integer from 0 to C − 1, else one error naming the node, the label and where it is."""
    flat = labels.reshape(-1)
    wrong = ~np.isfinite(flat) | (flat != np.round(flat)) | (flat < 0) | (flat >= classes)
    if np.any(wrong):
        k = int(np.argmax(wrong))
        raise WxbError(f"{node.text}: {node.args[at].text} has {float(flat[k])!r} at column {k}, not a class label "
                       f"of {node.args[1 - at].text} (an integer from 0 to {classes - 1})",
                       hint=f"labels count classes from 0, one per row of {node.args[1 - at].text}")


def onehot_matrix(labels: Array, classes: int, dtype: np.dtype[Any]) -> Array:
    """T (C, n) with T[y_k, k] = 1 and 0 elsewhere."""
    rows = np.arange(classes).reshape(-1, 1)
    out: Array = (rows == labels.reshape(1, -1)).astype(dtype)
    return out


def cross_entropy(node: Node, z: Array, y: Array) -> Array:
    """logsumexp(Z[:, k]) − Z[y_k, k] for each column k, stably (the max taken out first)."""
    m = as_matrix(z)
    picked = np.sum(np.where(onehot_matrix(y, m.shape[0], np.dtype(bool)), m, 0), axis=0, keepdims=True)
    out: Array = logsumexp_keep(m, 0) - picked
    return out


def cross_entropy_vjp_z(node: Node, g: Array, ans: Array, z: Array, y: Array) -> Array:
    """∂L/∂Z = (softmax(Z) − onehot(y)) ⊙ G, G one value per column."""
    m = as_matrix(z)
    grad: Array = ((stable_softmax(m, 0) - onehot_matrix(y, m.shape[0], m.dtype)) * g).reshape(z.shape)
    return grad


def cross_entropy_jvp_z(node: Node, t: Array, ans: Array, z: Array, y: Array) -> Array:
    """d cross_entropy along dZ = Σ_classes (softmax(Z) − onehot(y)) ⊙ dZ, one value per column."""
    m = as_matrix(z)
    out: Array = np.sum((stable_softmax(m, 0) - onehot_matrix(y, m.shape[0], m.dtype)) * as_matrix(t), axis=0,
                        keepdims=True)
    return out


def check_cross_entropy(node: Node, args: Sequence[Array], value: Array) -> None:
    """cross_entropy: its labels (the second argument) must be class labels of Z."""
    check_labels(node, args[1], as_matrix(args[0]).shape[0], 1)


def check_onehot(node: Node, args: Sequence[Array], value: Array) -> None:
    """onehot: its labels (the first argument) must be class labels of Z."""
    check_labels(node, args[0], as_matrix(args[1]).shape[0], 0)


def cross_entropy_vjp_y(node: Node, g: Array, ans: Array, z: Array, y: Array) -> Array:
    """The labels are class indices (the value is piecewise constant in them): 0."""
    return np.zeros(y.shape, dtype=g.dtype)


def onehot_vjp_labels(node: Node, g: Array, ans: Array, y: Array, z: Array) -> Array:
    """The labels are class indices (the value is piecewise constant in them): 0."""
    return np.zeros(y.shape, dtype=g.dtype)


def onehot_vjp_scores(node: Node, g: Array, ans: Array, y: Array, z: Array) -> Array:
    """onehot reads only Z's shape: 0."""
    return np.zeros(z.shape, dtype=g.dtype)


def flat_jvp(node: Node, t: Array, ans: Array, *args: Array) -> Array:
    """A value that is piecewise constant in this argument: its tangent is 0."""
    return np.zeros(ans.shape, dtype=t.dtype)


AXIS = (("axis", None), ("keepdims", True))


def reduction(name: str, symbol: str, forward: Forward, vjp: VJP, jvp: JVP, rule: str, formula: str, *, uses: str,
              linear: bool = False, latex: str = "", shape: ShapeRule = reduced_shape,
              keywords: tuple[tuple[str, Keyword], ...] = AXIS, differential: str = "",
              no_formula: str = "", batch: Batch = REDUCE, exact: str = "", kink: Kink | None = None,
              numpy: str = "", reads: tuple[str] | tuple[()] = ()) -> Primitive:
    """A reduction over an axis (kept with size 1 by default) or over every axis (a scalar); numpy: its NumPy
    spelling (default np.name(x, axis=…, keepdims=…))."""
    return Primitive(name, symbol, shape, forward, (vjp,), (rule,), (linear,), uses, keywords=keywords,
                     latex=latex, accumulation=sum_accumulation, differential=differential,
                     formulas=(formula,) if formula else (), no_formula=no_formula, batch=batch, exact=exact,
                     jvps=(jvp,), kink=kink, numpy=numpy or f"np.{name}({{x}}{{kw}})", reads=reads)


def extremum(name: str, value: Callable[..., Array], index: Callable[..., Array], which: str) -> Primitive:
    """max or min: over an axis or every axis; the whole gradient goes to the first {which} in C order."""
    return reduction(name, name, lambda n, x: extreme(value, n, x),
                     lambda n, g, f, x: kept(n, g, x) * first_extreme(index, n, x), extreme_jvp(index),
                     f"{{G}} at the first {which} of {{x}}, 0 elsewhere", "", uses="x", shape=nonempty_reduced_shape,
                     latex=rf"\{name}", differential=f"d {name} {{x}} = d{{x}} at its {which} (on a tie, the first "
                     "in C order)", no_formula=f"the gradient of {name} goes to the first {which} of each slice, "
                     "which no formula of wxb's language selects",
                     kink=Kink(tied, f"on a tie in {{x}}, the whole derivative from the first {which} (C order)"))


# ---- How the blocks of a reduction over the batch combine (streaming, wxb.core.chunks) ----

def merge_logsumexp(values: list[Array], counts: list[int], total: int) -> Array:
    """log Σ_b e^(v_b), with the running maximum taken out first."""
    stacked = np.stack(values)
    top = np.max(stacked, axis=0)
    top = np.where(np.isfinite(top), top, 0)
    merged: Array = np.log(np.sum(np.exp(stacked - top), axis=0)) + top
    return merged


SUM_BLOCKS = Combine(lambda v, n, total: sum(v[1:], start=v[0]), lambda v, whole, n, total: 1.0)
MEAN_BLOCKS = Combine(lambda v, n, total: sum((x * (k / total) for x, k in zip(v, n, strict=True)),
                                              start=np.zeros_like(v[0])),
                      lambda v, whole, n, total: n / total)
LOGSUMEXP_BLOCKS = Combine(merge_logsumexp, lambda v, whole, n, total: np.exp(v - whole), reads_values=True)


ROWS: tuple[Primitive, ...] = (
    Primitive("softmax", "softmax", along_shape, softmax,
              (lambda n, g, f, x: f * (g - summed(n, g * f, x)),), ("{f} ⊙ ({G} − Σ {G} ⊙ {f})",), (False,), "xf",
              keywords=(("axis", -2),), accumulation=sum_accumulation, formulas=("f * (G - keep_sum(G * f))",),
              batch=ALONG_AXIS, jvps=(lambda n, t, f, x: f * (t - summed(n, t * f, x)),),
              numpy="_softmax({x}{kw})"),
    Primitive("log_softmax", "log_softmax", along_shape, log_softmax,
              (lambda n, g, f, x: g - np.exp(f) * summed(n, g, x),), ("{G} − exp({f}) ⊙ Σ {G}",), (False,), "xf",
              keywords=(("axis", -2),), accumulation=sum_accumulation, formulas=("G - exp(f) * keep_sum(G)",),
              batch=ALONG_AXIS, jvps=(lambda n, t, f, x: t - summed(n, np.exp(f) * t, x),),
              numpy="_log_softmax({x}{kw})"),
    reduction("sum", "Σ", reduce_sum, lambda n, g, f, x: expand(n, g, x), lambda n, t, f, x: reduce_sum(n, t),
              "{G} repeated along the summed axes", "expand(G)", uses="x", reads=("",), linear=True,
              batch=REDUCE.summing(SUM_BLOCKS)),
    reduction("mean", "mean", mean, lambda n, g, f, x: expand(n, g / max(count(n, x), 1), x), mean_jvp,
              "{G} / N repeated along the averaged axes", "expand(G / n)", uses="x", reads=("",), linear=True,
              batch=REDUCE.summing(MEAN_BLOCKS)),
    reduction("logsumexp", "logsumexp", logsumexp,
              lambda n, g, f, x: kept(n, g, x) * stable_softmax(x, resolved_axis(n, x.ndim)),
              lambda n, t, f, x: along_axis(n, stable_softmax(x, resolved_axis(n, x.ndim)) * t, x),
              "{G} ⊙ softmax({x})", "expand(G) * softmax(x)", uses="x",
              batch=REDUCE.summing(LOGSUMEXP_BLOCKS), numpy="_logsumexp({x}{kw})"),
    extremum("max", np.max, np.argmax, "maximiser"),
    extremum("min", np.min, np.argmin, "minimiser"),
    reduction("norm", "‖·‖", norm, norm_vjp, norm_jvp, "{G} ⊙ {x} ⊘ {f}", "x * expand(G / f)", uses="xf",
              latex=r"\operatorname{norm}",
              differential="d‖{x}‖ = ⟨{x}, d{x}⟩ / ‖{x}‖, and at {x} = 0 the subgradient 0",
              exact="the subgradient 0 where {f} = 0", kink=Kink(at_zero_norm, "the derivative 0 where ‖{x}‖ = 0"),
              numpy="_norm({x}{kw})"),
    Primitive("cross_entropy", "cross_entropy", cross_entropy_shape, cross_entropy,
              (cross_entropy_vjp_z, cross_entropy_vjp_y), ("{G} ⊙ (softmax({x}) − onehot({y}))",
                                                  "0 (the labels are class indices)"), (False, False), "xy",
              dtype=scores_dtype, accumulation=sum_accumulation, check=check_cross_entropy,
              differential="d cross_entropy = Σ_classes (softmax({x}) − onehot({y})) ⊙ d{x}",
              formulas=("G * (softmax(x) - onehot(y, x))", "0"), batch=WHOLE, example="X=3x2 Y=2",
              jvps=(cross_entropy_jvp_z, flat_jvp), numpy="_cross_entropy({x}, {y})", labels=(1,)),
    Primitive("onehot", "onehot", onehot_shape, lambda n, y, z: onehot_matrix(y, as_matrix(z).shape[0],
                                                                              labels_dtype(y.dtype, z.dtype)
                                                                              ).reshape(z.shape),
              (onehot_vjp_labels, onehot_vjp_scores), ("0 (the labels are class indices)", "0 (onehot reads only "
                                                                                     "{y}'s shape)"),
              (False, False), "xy", dtype=labels_dtype, check=check_onehot, formulas=("0", "0"), batch=WHOLE,
              example="X=2 Y=3x2", jvps=(flat_jvp, flat_jvp), numpy="_onehot({x}, {y})", labels=(0,)),
)
