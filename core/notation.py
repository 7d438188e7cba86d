"""wxb's prose: shapes, reductions, broadcasts and Jacobian structures put into words for people.

The mathematics lives in the other modules of wxb.core; their dataclasses describe themselves through these
functions, so every sentence wxb writes about the maths is here. The functions read what they describe through
the small protocols below, so this module imports none of the modules that use it.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

Shape = tuple[int, ...]


class ReductionFacts(Protocol):
    """What a sentence about a gradient's reduction reads (wxb.core.shapes.Reduction has it)."""

    @property
    def operand(self) -> str: ...
    @property
    def shape(self) -> Shape: ...
    @property
    def full_shape(self) -> Shape: ...
    @property
    def dropped_axes(self) -> tuple[int, ...]: ...
    @property
    def kept_axes(self) -> tuple[int, ...]: ...
    @property
    def gradient(self) -> str: ...

    @property
    def summed_axes(self) -> tuple[int, ...]: ...


class BroadcastFacts(Protocol):
    """What a sentence about a broadcast reads (wxb.core.shapes.BiasBroadcast has it)."""

    @property
    def name(self) -> str: ...
    @property
    def bias_shape(self) -> Shape: ...
    @property
    def aligned_shape(self) -> Shape: ...
    @property
    def out_shape(self) -> Shape: ...

    @property
    def reduction(self) -> ReductionFacts: ...


class StructureFacts(Protocol):
    """What a sentence about a Jacobian's structure reads (wxb.core.jacobian.JacobianStructure has it)."""

    @property
    def wrt(self) -> str: ...
    @property
    def f_shape(self) -> Shape: ...
    @property
    def size(self) -> int: ...
    @property
    def nonzeros(self) -> int | None: ...
    @property
    def block_axes(self) -> tuple[int, ...]: ...
    @property
    def n_blocks(self) -> int: ...
    @property
    def block_rule(self) -> str: ...
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

def reduction_text(facts: ReductionFacts) -> str:
    """The reduction in words, e.g. 'G summed over axis 1, kept as a column: dL/db = G·1'."""
    if not facts.summed_axes:
        return f"dL/d{facts.operand} = {facts.gradient}, already {facts.operand}'s shape: nothing to sum"
    head = f"{facts.gradient} summed over {axes_text(facts.summed_axes)}"
    matrix = _matrix_form(facts)
    if matrix:
        return head + matrix
    parts = []
    if facts.dropped_axes:
        parts.append(f"{axes_text(facts.dropped_axes)} dropped")
    if facts.kept_axes:
        parts.append(f"{axes_text(facts.kept_axes)} kept with size 1")
    text = f"{head} ({', '.join(parts)})"
    if facts.operand == "b" and len(facts.shape) == 1 and len(facts.full_shape) >= 2:
        text += f", then read as b's 1-D shape {shape_text(facts.shape)}"
    return text

def _matrix_form(facts: ReductionFacts) -> str:
    """For a bias on a 2-D f, the reduction as a matrix product with a ones vector ('' otherwise)."""
    if len(facts.full_shape) != 2 or not facts.gradient.replace("_", "").isalnum():
        return ""
    d, g = f"dL/d{facts.operand}", facts.gradient
    if facts.dropped_axes == () and facts.kept_axes == (1,):
        return f", kept as a column: {d} = {g}·1"
    if facts.dropped_axes == () and facts.kept_axes == (0,):
        return f", kept as a row: {d} = 1ᵀ·{g}"
    if facts.summed_axes == (0, 1):
        kept_as = "to a scalar" if facts.dropped_axes == (0, 1) else f"kept as {shape_text(facts.shape)}"
        return f", {kept_as}: {d} = 1ᵀ·{g}·1"
    return ""


def broadcast_text(facts: BroadcastFacts) -> str:
    """E.g. 'b (2,) as a column (2,1) → (2,2): repeated along axis 1, 2 times'."""
    given = f"{facts.name} {shape_text(facts.bias_shape)}"
    if facts.aligned_shape != facts.bias_shape:
        given += f" as a column {shape_text(facts.aligned_shape)}"
    head = f"{given} → {shape_text(facts.out_shape)}"
    axes = facts.reduction.summed_axes
    if not axes:
        return f"{head}: same shape, added entry by entry"
    if len(axes) == 1:
        return f"{head}: repeated along axis {axes[0]}, {count(facts.out_shape[axes[0]], 'time', 'times')}"
    each = ", ".join(f"axis {a} ({count(facts.out_shape[a], 'time', 'times')})" for a in axes)
    copies = math.prod(facts.out_shape[a] for a in axes)
    return f"{head}: repeated along {each}: {count(copies, 'copy', 'copies')} of each entry"


# ---- Jacobians ----

def structure_text(facts: StructureFacts) -> str:
    """E.g. '2 blocks ∂f[:,k]/∂b, each I₂ (k = 0…1); 8 entries, 4 nonzero'."""
    nonzero = "" if facts.nonzeros is None else f", {facts.nonzeros:,} nonzero"
    totals = f"{facts.size:,} {'entry' if facts.size == 1 else 'entries'}{nonzero}"
    if facts.n_blocks == 0:
        return f"0 blocks: f {shape_text(facts.f_shape)} has no entries; {totals}"
    if not facts.block_axes:
        rule = f" {facts.block_rule}" if facts.block_rule else ""
        return f"1 block ∂f/∂{facts.wrt}{rule}; {totals}"
    noun = "block" if facts.n_blocks == 1 else "blocks"
    if not facts.block_rule:
        return f"{facts.n_blocks:,} {noun} ∂f[{_block_index(facts)}]/∂{facts.wrt} ({_k_range(facts)}); {totals}"
    return (f"{facts.n_blocks:,} {noun} ∂f[{_block_index(facts)}]/∂{facts.wrt}, {facts.block_rule} "
            f"({_k_range(facts)}); {totals}")

def _block_index(facts: StructureFacts) -> str:
    """f's index with the block axes fixed: ':,k' or 'k₀,:,k₂,k₃'."""
    one = len(facts.block_axes) == 1
    return ",".join(("k" if one else f"k{subscript(a)}") if a in facts.block_axes else ":"
                    for a in range(len(facts.f_shape)))

def _k_range(facts: StructureFacts) -> str:
    """'k = 0…1', or for several block axes the C-order numbering of the tuple."""
    last = f"0…{facts.n_blocks - 1}"
    if len(facts.block_axes) == 1:
        return f"k = {last}"
    ks = ", ".join(f"k{subscript(a)}" for a in facts.block_axes)
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
