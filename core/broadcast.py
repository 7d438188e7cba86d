"""Broadcasting both ways: a bias stretched to f's shape, and a gradient summed back to an operand's shape.

`unbroadcast` is the one reduction rule (autograd's): sum the leading axes the operand lacks, and sum with
keepdims the axes where the operand has size 1 but the gradient does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import notation
from .errors import BiasEnlargesError, ShapeError
from .notation import count, shape_text

Shape = tuple[int, ...]


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
