"""The Jacobian ∂f/∂θ of f = W·X ⊕ b (layout f.shape + θ.shape, as jax.jacobian): its structure, blocks, entries.

Entries, never the whole matrix unless asked (and then under a size guard):
  ∂f[β,i,j]/∂b[·]      = 1 where b's broadcast puts that b entry at f[β,i,j], else 0
  ∂f[β,i,j]/∂W[γ,p,q]  = [γ is W's entry for batch β]·δ(i,p)·X[β,q,j]
  ∂f[β,i,j]/∂X[γ,p,q]  = [γ is X's entry for batch β]·W[β,i,p]·δ(j,q)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from wxb.core.affine import AffineOperands, Operand, affine_operands, wrt_operands
from wxb.core.broadcast import Shape, broadcast_axes, shape_text
from wxb.core.errors import TooLargeError, WxbError

Index = tuple[np.ndarray, ...]
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscript(n: int) -> str:
    """n in Unicode subscript digits: 12 → ₁₂."""
    return str(n).translate(_SUBSCRIPTS)


# ---- Shapes of the matrix product, with 1-D operands promoted as np.matmul does ----

@dataclass(frozen=True)
class MatmulAxes:
    """W·X seen as a batch of (m, k) @ (k, n) products; W (k,) is (1, k) and X (k,) is (k, 1)."""

    batch: Shape
    w_batch: Shape
    x_batch: Shape
    m: int
    k: int
    n: int
    w_vector: bool
    x_vector: bool


def matmul_axes(ops: AffineOperands) -> MatmulAxes:
    """The batch, W-batch, X-batch shapes and m, k, n of W·X (W must be given)."""
    w, x = ops.operand("W"), ops.X
    w2 = (1, *w.shape) if w.ndim == 1 else w.shape
    x2 = (*x.shape, 1) if x.ndim == 1 else x.shape
    batch = tuple(np.broadcast_shapes(w2[:-2], x2[:-2]))
    return MatmulAxes(batch, w2[:-2], x2[:-2], w2[-2], w2[-1], x2[-1], w.ndim == 1, x.ndim == 1)


def _jacobian_dtype(ops: AffineOperands) -> np.dtype[np.floating]:
    """The dtype of f, which the Jacobian shares."""
    arrays = [a for a in (ops.X, ops.b, ops.W) if a is not None]
    return np.result_type(*arrays)


# ---- Structure: O(1) memory ----

@dataclass(frozen=True)
class JacobianStructure:
    """The block structure of ∂f/∂θ, described without computing it (e.g. ∂vec f/∂b = 1ₙ ⊗ I_m)."""

    wrt: str
    f_shape: Shape
    operand_shape: Shape
    shape: Shape
    size: int
    nonzeros: int
    block_axes: tuple[int, ...]
    n_blocks: int
    block_shape: Shape
    kron: str
    block_rule: str = ""

    def describe(self) -> str:
        """E.g. '2 blocks ∂f[:,k]/∂b, each I₂ (k = 0…1); 8 entries, 4 nonzero'."""
        totals = f"{self.size:,} entries, {self.nonzeros:,} nonzero"
        if self.n_blocks == 0:
            return f"0 blocks: f {shape_text(self.f_shape)} has no entries; {totals}"
        if not self.block_axes:
            return f"1 block ∂f/∂{self.wrt} {self.block_rule}; {totals}"
        noun = "block" if self.n_blocks == 1 else "blocks"
        return (f"{self.n_blocks:,} {noun} ∂f[{self._block_index()}]/∂{self.wrt}, {self.block_rule} "
                f"({self._k_range()}); {totals}")

    def _block_index(self) -> str:
        """f's index with the block axes fixed: ':,k' or 'k₀,:,k₂,k₃'."""
        one = len(self.block_axes) == 1
        return ",".join(("k" if one else f"k{subscript(a)}") if a in self.block_axes else ":"
                        for a in range(len(self.f_shape)))

    def _k_range(self) -> str:
        """'k = 0…1', or for several block axes the C-order numbering of the tuple."""
        last = f"0…{self.n_blocks - 1}"
        if len(self.block_axes) == 1:
            return f"k = {last}"
        ks = ", ".join(f"k{subscript(a)}" for a in self.block_axes)
        return f"k = ({ks}) in C order, {last}"


def _kron_bias(f_shape: Shape, summed: tuple[int, ...], b_ndim: int) -> str:
    """∂vec f/∂vec b as a Kronecker product: 1ₙ for a broadcast axis, Iₙ otherwise, last axis first (vec is
    column-major); size-1 axes vanish and neighbours of a kind merge (Iₐ ⊗ I_b = I_ab, 1ₐ ⊗ 1_b = 1_ab)."""
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
    vb = "vec b" if b_ndim >= 2 else "b"
    return f"∂{vf}/∂{vb} = {rhs}"


def _bias_structure(ops: AffineOperands) -> JacobianStructure:
    """b's Jacobian: one identity block for each position along the axes b is broadcast along."""
    f_shape, b_shape = ops.f_shape, ops.b.shape
    block_axes = ops.broadcast.reduction.summed_axes
    n_blocks = math.prod(f_shape[a] for a in block_axes)
    rest = tuple(n for a, n in enumerate(f_shape) if a not in block_axes)
    r = math.prod(rest)
    if r == 1:
        rule = "each 1" if block_axes else "= 1"
    else:
        rule = f"each I{subscript(r)}" if block_axes else f"= I{subscript(r)} (the identity on f)"
        if rest + b_shape != (r, r):
            rule += f" arranged as {shape_text(rest + b_shape)}"
    return _structure("b", ops, f_shape, block_axes, n_blocks, rest, math.prod(f_shape),
                      _kron_bias(f_shape, block_axes, len(b_shape)), rule)


def _matmul_structure(ops: AffineOperands, wrt: Operand) -> JacobianStructure:
    """W's or X's Jacobian: one block per batch entry and column k of f, ∂f[β,:,k]/∂θ."""
    ax = matmul_axes(ops)
    f_shape = ops.f_shape
    nb = len(ax.batch)
    block_axes = tuple(range(nb)) + (() if ax.x_vector else (len(f_shape) - 1,))
    n_blocks = math.prod(f_shape[a] for a in block_axes)
    rest = tuple(n for a, n in enumerate(f_shape) if a not in block_axes)
    beta = "β," if nb else ""
    if wrt == "W":
        rule = f"entries ∂f[{beta}i,j]/∂W[{beta}p,q] = δ(i,p)·X[{beta}q,j]"
        kron = f"Xᵀ ⊗ I{subscript(ax.m)}" if ax.m != 1 else "Xᵀ"
        shared = broadcast_axes(ax.w_batch, ax.batch)
    else:
        rule = f"entries ∂f[{beta}i,j]/∂X[{beta}p,q] = W[{beta}i,p]·δ(j,q)"
        kron = f"I{subscript(ax.n)} ⊗ W" if ax.n != 1 else "W"
        shared = broadcast_axes(ax.x_batch, ax.batch)
    if nb:
        kron = f"∂vec f[β]/∂vec {wrt}[β] = {kron.replace('X', 'X[β]').replace('W', 'W[β]')} for each batch index β"
        summed = tuple(sorted(shared[0] + shared[1]))
        if summed:
            kron += f"; {wrt} is shared along batch {'axis' if len(summed) == 1 else 'axes'} " + \
                ", ".join(str(a) for a in summed)
    else:
        kron = f"∂vec f/∂vec {wrt} = {kron}"
    nonzeros = math.prod(f_shape) * ax.k
    return _structure(wrt, ops, f_shape, block_axes, n_blocks, rest, nonzeros, kron, rule)


def _identity_structure(ops: AffineOperands) -> JacobianStructure:
    """X's Jacobian when there is no W: f = X ⊕ b, so ∂f/∂X is the identity."""
    n = math.prod(ops.f_shape)
    vf = "vec f" if len(ops.f_shape) >= 2 else "f"
    vx = "vec X" if ops.X.ndim >= 2 else "X"
    return _structure("X", ops, ops.f_shape, (), 1, ops.f_shape, n, f"∂{vf}/∂{vx} = I{subscript(n)}",
                      f"= I{subscript(n)} (the identity on f)")


def _structure(wrt: str, ops: AffineOperands, f_shape: Shape, block_axes: tuple[int, ...], n_blocks: int,
               rest: Shape, nonzeros: int, kron: str, rule: str) -> JacobianStructure:
    """Assemble a JacobianStructure; sizes are Python ints (they may be huge)."""
    operand_shape = ops.operand(wrt_operands(wrt)[0]).shape
    shape = f_shape + operand_shape
    return JacobianStructure(wrt, f_shape, operand_shape, shape, math.prod(shape), nonzeros, block_axes, n_blocks,
                             rest + operand_shape, kron, rule)


def jacobian_structure(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None,
                       wrt: Operand = "b") -> JacobianStructure:
    """The block structure of ∂f/∂θ (shape f.shape + θ.shape) in O(1) memory, e.g. ∂vec f/∂b = 1ₙ ⊗ I_m."""
    ops = affine_operands(X, b, W)
    (name,) = wrt_operands(wrt)
    ops.operand(name)
    if name == "b":
        return _bias_structure(ops)
    if ops.W is None:
        return _identity_structure(ops)
    return _matmul_structure(ops, name)


# ---- Entries: O(number of indices) memory ----

def _normalised(index: tuple[ArrayLike, ...], shape: Shape, what: str) -> list[np.ndarray]:
    """Integer index arrays checked against shape, negative ones counted from the end."""
    if len(index) != len(shape):
        raise WxbError(f"{what} needs {len(shape)} index arrays (shape {shape_text(shape)}), got {len(index)}")
    out = []
    for axis, (idx, n) in enumerate(zip(index, shape, strict=True)):
        arr = np.asarray(idx)
        if arr.dtype.kind not in "iu":
            raise WxbError(f"{what} index on axis {axis} must be integers, not {arr.dtype}")
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise WxbError(f"{what} index out of range on axis {axis}: valid indices are {-n}…{n - 1}")
        out.append(np.where(arr < 0, arr + n, arr) if arr.size and arr.min() < 0 else arr)
    return out


def _batch_match(gamma: list[np.ndarray], beta: list[np.ndarray], own: Shape) -> np.ndarray:
    """[γ is the entry an operand with batch shape `own` contributes to batch position β]."""
    lead = len(beta) - len(own)
    hit = np.asarray(True)
    for a, n in enumerate(own):
        if n != 1:
            hit = hit & (gamma[a] == beta[lead + a])
    return hit


def _batch_source(beta: list[np.ndarray], own: Shape) -> list[np.ndarray | int]:
    """The index into an operand with batch shape `own` that batch position β reads."""
    lead = len(beta) - len(own)
    return [0 if n == 1 else beta[lead + a] for a, n in enumerate(own)]


def _bias_entries(ops: AffineOperands, fi: list[np.ndarray], oi: list[np.ndarray]) -> np.ndarray:
    """∂f[f_index]/∂b[b_index] = 1 where the broadcast b entry lands on that f entry."""
    aligned = ops.broadcast.aligned_shape
    bi = oi + [np.asarray(0)] * (len(aligned) - len(oi))
    lead = len(fi) - len(aligned)
    hit = np.asarray(True)
    for a, n in enumerate(aligned):
        if n != 1:
            hit = hit & (fi[lead + a] == bi[a])
    return hit


def _matmul_entries(ops: AffineOperands, wrt: Operand, fi: list[np.ndarray], oi: list[np.ndarray]) -> np.ndarray:
    """∂f[β,i,j]/∂W[γ,p,q] = [γ~β]·δ(i,p)·X[β,q,j] and ∂f[β,i,j]/∂X[γ,p,q] = [γ~β]·W[β,i,p]·δ(j,q)."""
    ax = matmul_axes(ops)
    zero = np.asarray(0)
    f2 = fi + ([zero] if ax.x_vector else [])
    if ax.w_vector:
        f2.insert(len(f2) - 1, zero)
    beta, i, j = f2[:-2], f2[-2], f2[-1]
    w = ops.operand("W")
    w2 = w[np.newaxis, :] if ax.w_vector else w
    x2 = ops.X[:, np.newaxis] if ax.x_vector else ops.X
    if wrt == "W":
        o2 = ([zero] if ax.w_vector else []) + oi
        gamma, p, q = o2[:-2], o2[-2], o2[-1]
        x_entry = tuple([*_batch_source(beta, ax.x_batch), q, j])
        weights: np.ndarray = (_batch_match(gamma, beta, ax.w_batch) & (i == p)) * x2[x_entry]
        return weights
    o2 = oi + ([zero] if ax.x_vector else [])
    gamma, p, q = o2[:-2], o2[-2], o2[-1]
    w_entry = tuple([*_batch_source(beta, ax.w_batch), i, p])
    inputs: np.ndarray = (_batch_match(gamma, beta, ax.x_batch) & (j == q)) * w2[w_entry]
    return inputs


def _entries(ops: AffineOperands, wrt: Operand, f_index: tuple[ArrayLike, ...],
             operand_index: tuple[ArrayLike, ...]) -> np.ndarray:
    """J[f_index + operand_index] from the entry rules, in f's dtype, shaped as the broadcast indices."""
    fi = _normalised(f_index, ops.f_shape, "f")
    oi = _normalised(operand_index, ops.operand(wrt).shape, wrt)
    shape = np.broadcast_shapes(*(a.shape for a in fi + oi))
    if wrt == "b":
        values = _bias_entries(ops, fi, oi)
    elif ops.W is None:
        values = _batch_match(oi, fi, ops.f_shape)
    else:
        values = _matmul_entries(ops, wrt, fi, oi)
    return np.broadcast_to(values, shape).astype(_jacobian_dtype(ops))


def jacobian_entries(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, wrt: Operand = "b", *,
                     f_index: tuple[ArrayLike, ...], operand_index: tuple[ArrayLike, ...]) -> np.ndarray:
    """J[f_index + operand_index] = ∂f[f_index]/∂θ[operand_index] for broadcastable integer index arrays."""
    ops = affine_operands(X, b, W)
    (name,) = wrt_operands(wrt)
    return _entries(ops, name, f_index, operand_index)


# ---- Blocks and the dense Jacobian, under a size guard ----

def _guard(what: str, shape: Shape, limit: int) -> None:
    """Refuse, before allocating, an array of more than `limit` entries."""
    size = math.prod(shape)
    if size > limit:
        raise TooLargeError(f"{what} would have {size:,} entries (shape {shape_text(shape)}), over the limit of "
                            f"{limit:,}", hint="ask for the structure or single blocks, or raise the limit")


def jacobian_block(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, wrt: Operand = "b", k: int = 0, *,
                   limit: int = 10**7) -> np.ndarray:
    """Block k: J with f's block axes fixed at their k-th position (C order), e.g. ∂f[:,k]/∂b = I_m."""
    ops = affine_operands(X, b, W)
    (name,) = wrt_operands(wrt)
    structure = jacobian_structure(ops.X, ops.b, ops.W, name)
    if not 0 <= k < structure.n_blocks:
        valid = f"0…{structure.n_blocks - 1}" if structure.n_blocks else "none: f has no entries"
        raise WxbError(f"there is no block {k} of ∂f/∂{name}: valid blocks are {valid}")
    _guard(f"block {k} of ∂f/∂{name}", structure.block_shape, limit)
    position = np.unravel_index(k, tuple(ops.f_shape[a] for a in structure.block_axes))
    fixed = dict(zip(structure.block_axes, position, strict=True))
    free = [a for a in range(len(ops.f_shape)) if a not in fixed]
    ndim = len(structure.block_shape)
    grid = [np.arange(n).reshape((-1,) + (1,) * (ndim - d - 1)) for d, n in enumerate(structure.block_shape)]
    f_index = tuple(np.asarray(fixed[a]) if a in fixed else grid[free.index(a)] for a in range(len(ops.f_shape)))
    return _entries(ops, name, f_index, tuple(grid[len(free):]))


def _dense_bias(ops: AffineOperands, J: np.ndarray) -> None:
    """J[f position, the b entry broadcast there] = 1."""
    f_size = math.prod(ops.f_shape)
    source = np.broadcast_to(np.arange(ops.b.size).reshape(ops.broadcast.aligned_shape), ops.f_shape).ravel()
    J.reshape(f_size, ops.b.size)[np.arange(f_size), source] = 1


def _dense_matmul(ops: AffineOperands, wrt: Operand, J: np.ndarray) -> None:
    """Scatter the entries X[β,q,j] (for W) or W[β,i,p] (for X) into J seen as (batch, m, n, θ-batch, ·, ·)."""
    ax = matmul_axes(ops)
    n_batch, n_w, n_x = math.prod(ax.batch), math.prod(ax.w_batch), math.prod(ax.x_batch)
    w2 = ops.operand("W").reshape((n_w, ax.m, ax.k))
    x2 = ops.X.reshape((n_x, ax.k, ax.n))
    w_of = np.broadcast_to(np.arange(n_w).reshape(ax.w_batch), ax.batch).reshape(-1, 1, 1, 1)
    x_of = np.broadcast_to(np.arange(n_x).reshape(ax.x_batch), ax.batch).reshape(-1, 1, 1, 1)
    beta = np.arange(n_batch).reshape(-1, 1, 1, 1)
    i = np.arange(ax.m).reshape(1, -1, 1, 1)
    j = np.arange(ax.n).reshape(1, 1, -1, 1)
    last = np.arange(ax.k).reshape(1, 1, 1, -1)
    if wrt == "W":
        view = J.reshape(n_batch, ax.m, ax.n, n_w, ax.m, ax.k)
        view[beta, i, j, w_of, i, last] = x2[x_of, last, j]
    else:
        view = J.reshape(n_batch, ax.m, ax.n, n_x, ax.k, ax.n)
        view[beta, i, j, x_of, last, j] = w2[w_of, i, last]


def dense_jacobian(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, wrt: Operand = "b",
                   limit: int = 10**7) -> np.ndarray:
    """J = ∂f/∂θ as a dense array of shape f.shape + θ.shape; refused (TooLargeError) above `limit` entries."""
    ops = affine_operands(X, b, W)
    (name,) = wrt_operands(wrt)
    operand = ops.operand(name)
    shape = ops.f_shape + operand.shape
    _guard(f"the dense Jacobian ∂f/∂{name}", shape, limit)
    J = np.zeros(shape, dtype=_jacobian_dtype(ops))
    if J.size == 0:
        return J
    if name == "b":
        _dense_bias(ops, J)
    elif ops.W is None:
        J.reshape(operand.size, operand.size)[np.diag_indices(operand.size)] = 1
    else:
        _dense_matmul(ops, name, J)
    return J
