"""Shapes: broadcasting both ways, and the one home of "a 1-D operand is a column".

A 1-D operand is a column (m, 1): beside a matrix (`aligned`), under `.T`, on either side of `@` and as the matrix
of the square-matrix rows (`as_matrix_shape`, `as_matrix`). `unbroadcast` is the one reduction rule (autograd's):
sum the leading axes the operand lacks, and sum with keepdims the axes where the operand has size 1 but the
gradient does not. The shape rules shared by several families of primitives live here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import notation
from .errors import BiasEnlargesError, ShapeError
from .nodes import Node
from .notation import count, shape_text

Array = np.ndarray[Any, np.dtype[Any]]



def broadcast_conflict(small: Shape, large: Shape) -> tuple[int, int, int] | None:
    """The first axis (numbered in the longer shape) where the two shapes cannot broadcast, with both sizes."""
    ndim = max(len(small), len(large))
    padded_small = (1,) * (ndim - len(small)) + small
    padded_large = (1,) * (ndim - len(large)) + large
    for axis, (s, n) in enumerate(zip(padded_small, padded_large, strict=True)):
        if s != n and s != 1 and n != 1:
            return axis, s, n
    return None


def same_column(shape: Shape, of: Shape) -> bool:
    """True when one shape is (n,) and the other (n, 1): a 1-D value is a column, so the two hold the same thing."""
    one, two = sorted((shape, of), key=len)
    return len(one) == 1 and two == (*one, 1)


def broadcast_axes(shape: Shape, full_shape: Shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(dropped, kept): axes of full_shape that an operand of `shape` was broadcast along, leading and size-1."""
    lead = len(full_shape) - len(shape)
    mismatch = [a for a, n in enumerate(shape) if lead < 0 or (n != 1 and n != full_shape[lead + a])]
    if mismatch:
        raise ShapeError(f"a gradient of shape {shape_text(full_shape)} does not reduce to shape {shape_text(shape)}")
    dropped = tuple(range(lead))
    kept = tuple(lead + a for a, n in enumerate(shape) if n == 1 and full_shape[lead + a] != 1)
    return dropped, kept


def unbroadcast(grad: np.ndarray, shape: Shape) -> np.ndarray:
    """Σ of grad over the axes an operand of `shape` was broadcast along: leading axes dropped, size-1 axes kept."""
    dropped, kept = broadcast_axes(tuple(shape), grad.shape)
    if not dropped and not kept:
        return grad
    reduced: np.ndarray = grad.sum(axis=dropped + kept, keepdims=True).reshape(shape)
    return reduced


def summed_matmul(a: np.ndarray, b: np.ndarray, batch: Shape) -> np.ndarray:
    """unbroadcast(a @ b, batch + (p, q)) for a (..., p, j) and b (..., j, q), without a @ b for every batch entry.

    Σ_s a_s·b_s = [a_s1 a_s2 …]·[b_s1; b_s2; …]: the batch axes being summed join the contraction, so memory stays
    O(size of a, b and the result). Where only one factor varies along a summed axis, it is summed first."""
    if a.size == 0 or b.size == 0:  # an empty product sums nothing (and Dask cannot reshape empty axes apart)
        zeros: np.ndarray = np.zeros_like(a, shape=(*batch, a.shape[-2], b.shape[-1]))
        return zeros
    full = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    nd = len(full)
    target = (1,) * (nd - len(batch)) + tuple(batch)
    a = a.reshape((1,) * (nd + 2 - a.ndim) + a.shape)
    b = b.reshape((1,) * (nd + 2 - b.ndim) + b.shape)
    summed = [axis for axis in range(nd) if target[axis] == 1 and full[axis] != 1]
    only_a = tuple(axis for axis in summed if b.shape[axis] == 1)
    only_b = tuple(axis for axis in summed if a.shape[axis] == 1)
    lhs: np.ndarray = a.sum(axis=only_a, keepdims=True) if only_a else a
    rhs: np.ndarray = b.sum(axis=only_b, keepdims=True) if only_b else b
    both = [axis for axis in summed if axis not in only_a + only_b]
    kept = [axis for axis in range(nd) if axis not in both]
    joined = math.prod(full[axis] for axis in both)
    lhs_kept, rhs_kept = [lhs.shape[axis] for axis in kept], [rhs.shape[axis] for axis in kept]
    lhs = lhs.transpose([*kept, nd, *both, nd + 1]).reshape([*lhs_kept, lhs.shape[-2], joined * lhs.shape[-1]])
    rhs = rhs.transpose([*kept, *both, nd, nd + 1]).reshape([*rhs_kept, joined * rhs.shape[-2], rhs.shape[-1]])
    product: np.ndarray = np.matmul(lhs, rhs)
    return product.reshape(tuple(batch) + product.shape[-2:])


@dataclass(frozen=True)
class Reduction:
    """How a gradient of full_shape reduces to an operand's shape: dL/dθ = Σ over summed_axes of the gradient."""

    operand: str
    shape: Shape
    full_shape: Shape
    dropped_axes: tuple[int, ...]
    kept_axes: tuple[int, ...]
    gradient: str = "G"

    @classmethod
    def between(cls, operand: str, shape: Shape, full_shape: Shape, *, aligned_shape: Shape | None = None,
                gradient: str = "G") -> Reduction:
        """The reduction of a full_shape gradient to `shape` (read as aligned_shape, e.g. a 1-D bias as a column)."""
        dropped, kept = broadcast_axes(aligned_shape if aligned_shape is not None else shape, full_shape)
        return cls(operand, tuple(shape), tuple(full_shape), dropped, kept, gradient)

    @property
    def summed_axes(self) -> tuple[int, ...]:
        """Every axis of full_shape that is summed: the dropped ones then the kept ones."""
        return tuple(sorted(self.dropped_axes + self.kept_axes))

    def describe(self) -> str:
        """The reduction in words, e.g. 'G summed over axis 1, kept as a column: dL/db = G·1'."""
        return notation.reduction_text(self)


@dataclass(frozen=True)
class BiasBroadcast:
    """How b is stretched to f's shape: B = b·1ᵀ for a column bias, in general np.broadcast_to(b, f.shape)."""

    bias_shape: Shape
    aligned_shape: Shape
    out_shape: Shape
    reduction: Reduction
    name: str = "b"
    row_reading_differs: bool = False  # NumPy's reading (a row) would broadcast too, to other numbers

    def describe(self) -> str:
        """E.g. 'b (2,) as a column (2,1) → (2,2): repeated along axis 1, 2 times'."""
        return notation.broadcast_text(self)


def check_fits(name: str, shape: Shape, into: str, into_shape: Shape, *, label: str | None = None,
               hint: str | None = None) -> Shape:
    """Refuse `shape` unless it broadcasts to into_shape without changing it; returns into_shape."""
    label = label or f"{name} {shape_text(shape)}"
    conflict = broadcast_conflict(shape, into_shape)
    if conflict is not None:
        axis, s, n = conflict
        where = axis - (max(len(shape), len(into_shape)) - len(into_shape))
        raise ShapeError(
            f"{label} does not broadcast to {into} {shape_text(into_shape)}: "
            f"on axis {where} of {into}, {name} has size {s} but {into} has size {n}",
            hint=hint,
        )
    out = np.broadcast_shapes(shape, into_shape)
    if out != into_shape:
        if len(shape) > len(into_shape):
            why = f"{name} has {count(len(shape), 'axis', 'axes')} but {into} has {len(into_shape)}"
        else:
            axis = next(a for a in range(len(out)) if out[a] != into_shape[a])
            why = f"on axis {axis}, {name} has size {out[axis]} but {into} has size {into_shape[axis]} (an outer sum)"
        raise BiasEnlargesError(
            f"{label} would enlarge {into} {shape_text(into_shape)} to {shape_text(out)}: {why}; "
            f"{name} must broadcast to {into}'s shape without changing it",
            hint=hint,
        )
    return into_shape


def bias_broadcast(shape: Shape, out_shape: Shape, *, name: str = "b", other: Shape | None = None) -> BiasBroadcast:
    """How an operand of `shape` is stretched to out_shape (already checked to fit): a 1-D operand beside an
    array of 2 or more axes (`other`, by default out_shape) is a column."""
    beside = tuple(out_shape if other is None else other)
    aligned = (shape[0], 1) if len(shape) == 1 and len(beside) >= 2 else tuple(shape)
    reduction = Reduction.between(name, tuple(shape), tuple(out_shape), aligned_shape=aligned)
    differs = row_reading_differs(tuple(shape), beside)
    return BiasBroadcast(tuple(shape), aligned, tuple(out_shape), reduction, name, differs)


def row_reading_differs(shape: Shape, beside: Shape) -> bool:
    """True when a 1-D operand (m,), m > 1, read as a column (m, 1) beside `beside` (2 or more axes), would also
    broadcast as NumPy reads it (along the last axis, a row (1, m)): then the two readings give other numbers."""
    if len(shape) != 1 or shape[0] == 1 or len(beside) < 2:
        return False
    column = (shape[0], 1)
    return broadcast_conflict(column, beside) is None and broadcast_conflict(shape, beside) is None


# ---- The 1-D column rule, axes, matrices ----



Shape = tuple[int, ...]


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
