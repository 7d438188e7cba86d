"""wxb's prose: shapes, reductions, broadcasts and Jacobian structures put into words for people.

The mathematics lives in the other modules of wxb.core; their dataclasses describe themselves through these
functions, so every sentence wxb writes about the maths is here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .broadcast import BiasBroadcast, Reduction
    from .jacobian import JacobianStructure

Shape = tuple[int, ...]
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def shape_text(shape: Shape) -> str:
    """A shape written compactly as in the messages: (2,), (2,1), ()."""
    return "(" + ",".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def axes_text(axes: tuple[int, ...]) -> str:
    """'axis 1' or 'axes 0, 2, 3'."""
    return ("axis " if len(axes) == 1 else "axes ") + ", ".join(str(a) for a in axes)


def count(n: int, one: str, many: str) -> str:
    """'1 axis', '3 axes'."""
    return f"{n} {one if n == 1 else many}"


def subscript(n: int) -> str:
    """n in Unicode subscript digits: 12 → ₁₂."""
    return str(n).translate(_SUBSCRIPTS)


def vec(name: str, ndim: int) -> str:
    """'vec W' for an operand with 2 or more axes, 'b' for a vector or scalar."""
    return f"vec {name}" if ndim >= 2 else name


# ---- Reductions and broadcasts ----

def reduction_text(self: Reduction) -> str:
    """The reduction in words, e.g. 'G summed over axis 1, kept as a column: dL/db = G·1'."""
    if not self.summed_axes:
        return f"dL/d{self.operand} = {self.gradient}, already {self.operand}'s shape: nothing to sum"
    head = f"{self.gradient} summed over {axes_text(self.summed_axes)}"
    matrix = _matrix_form(self)
    if matrix:
        return head + matrix
    parts = []
    if self.dropped_axes:
        parts.append(f"{axes_text(self.dropped_axes)} dropped")
    if self.kept_axes:
        parts.append(f"{axes_text(self.kept_axes)} kept with size 1")
    text = f"{head} ({', '.join(parts)})"
    if self.operand == "b" and len(self.shape) == 1 and len(self.full_shape) >= 2:
        text += f", then read as b's 1-D shape {shape_text(self.shape)}"
    return text

def _matrix_form(self: Reduction) -> str:
    """For a bias on a 2-D f, the reduction as a matrix product with a ones vector ('' otherwise)."""
    if len(self.full_shape) != 2 or not self.gradient.replace("_", "").isalnum():
        return ""
    d, g = f"dL/d{self.operand}", self.gradient
    if self.dropped_axes == () and self.kept_axes == (1,):
        return f", kept as a column: {d} = {g}·1"
    if self.dropped_axes == () and self.kept_axes == (0,):
        return f", kept as a row: {d} = 1ᵀ·{g}"
    if self.summed_axes == (0, 1):
        kept_as = "to a scalar" if self.dropped_axes == (0, 1) else f"kept as {shape_text(self.shape)}"
        return f", {kept_as}: {d} = 1ᵀ·{g}·1"
    return ""


def broadcast_text(self: BiasBroadcast) -> str:
    """E.g. 'b (2,) as a column (2,1) → (2,2): repeated along axis 1, 2 times'."""
    given = f"{self.name} {shape_text(self.bias_shape)}"
    if self.aligned_shape != self.bias_shape:
        given += f" as a column {shape_text(self.aligned_shape)}"
    head = f"{given} → {shape_text(self.out_shape)}"
    axes = self.reduction.summed_axes
    if not axes:
        return f"{head}: same shape, added entry by entry"
    if len(axes) == 1:
        return f"{head}: repeated along axis {axes[0]}, {count(self.out_shape[axes[0]], 'time', 'times')}"
    each = ", ".join(f"axis {a} ({count(self.out_shape[a], 'time', 'times')})" for a in axes)
    copies = math.prod(self.out_shape[a] for a in axes)
    return f"{head}: repeated along {each}: {count(copies, 'copy', 'copies')} of each entry"


# ---- Jacobians ----

def structure_text(self: JacobianStructure) -> str:
    """E.g. '2 blocks ∂f[:,k]/∂b, each I₂ (k = 0…1); 8 entries, 4 nonzero'."""
    nonzero = "" if self.nonzeros is None else f", {self.nonzeros:,} nonzero"
    totals = f"{self.size:,} {'entry' if self.size == 1 else 'entries'}{nonzero}"
    if self.n_blocks == 0:
        return f"0 blocks: f {shape_text(self.f_shape)} has no entries; {totals}"
    if not self.block_axes:
        rule = f" {self.block_rule}" if self.block_rule else ""
        return f"1 block ∂f/∂{self.wrt}{rule}; {totals}"
    noun = "block" if self.n_blocks == 1 else "blocks"
    if not self.block_rule:
        return f"{self.n_blocks:,} {noun} ∂f[{_block_index(self)}]/∂{self.wrt} ({_k_range(self)}); {totals}"
    return (f"{self.n_blocks:,} {noun} ∂f[{_block_index(self)}]/∂{self.wrt}, {self.block_rule} "
            f"({_k_range(self)}); {totals}")

def _block_index(self: JacobianStructure) -> str:
    """f's index with the block axes fixed: ':,k' or 'k₀,:,k₂,k₃'."""
    one = len(self.block_axes) == 1
    return ",".join(("k" if one else f"k{subscript(a)}") if a in self.block_axes else ":"
                    for a in range(len(self.f_shape)))

def _k_range(self: JacobianStructure) -> str:
    """'k = 0…1', or for several block axes the C-order numbering of the tuple."""
    last = f"0…{self.n_blocks - 1}"
    if len(self.block_axes) == 1:
        return f"k = {last}"
    ks = ", ".join(f"k{subscript(a)}" for a in self.block_axes)
    return f"k = ({ks}) in C order, {last}"


def kron_broadcast(f_shape: Shape, summed: tuple[int, ...], name: str, ndim: int) -> str:
    """∂vec f/∂vec θ for θ broadcast to f, as a Kronecker product: 1ₙ for a broadcast axis, Iₙ otherwise, last
    axis first (vec is column-major); size-1 axes vanish, neighbours of a kind merge (Iₐ ⊗ I_b = I_ab)."""
    factors: list[tuple[str, int]] = []
    for axis in reversed(range(len(f_shape))):
        kind, size = ("1" if axis in summed else "I"), f_shape[axis]
        if size == 1:
            continue
        if factors and factors[-1][0] == kind:
            factors[-1] = (kind, factors[-1][1] * size)
        else:
            factors.append((kind, size))
    rhs = " ⊗ ".join(f"{kind}{subscript(size)}" for kind, size in factors) or "1"
    vf = "vec f" if len(f_shape) >= 2 else "f"
    return f"∂{vf}/∂{vec(name, ndim)} = {rhs}"


def describe_blocks(blocks: list[np.ndarray[Any, Any]]) -> str:
    """What computed blocks show: 'each diagonal', 'all identical', 'all zero' (or '' when nothing stands out)."""
    if not blocks:
        return ""
    if all(not np.any(b) for b in blocks):
        return "all zero"
    traits = []
    if all(b.ndim == 2 and b.shape[0] == b.shape[1] and not np.any(b - np.diag(np.diag(b))) for b in blocks):
        traits.append("each diagonal")
    if len(blocks) > 1 and all(np.array_equal(blocks[0], b) for b in blocks[1:]):
        traits.append("all identical")
    return ", ".join(traits)
