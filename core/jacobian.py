"""The Jacobian ∂f/∂θ of an expression (layout f.shape + θ.shape, as jax.jacobian): structure, blocks, entries.

Where f depends on θ through one chain of rules whose structure is known, the Jacobian is described without
computing it, from the rule at θ (a broadcast: 1ₙ ⊗ I_m; a matrix product: Xᵀ ⊗ I_m or Iₙ ⊗ W) times the diagonal
factors of the elementwise rules above it (relu(W @ X + b) w.r.t. b: diag(vec relu′(z))·(1ₙ ⊗ I_m)); its entries
then cost O(number asked for). Otherwise its blocks ∂f[:,k]/∂θ are computed exactly, one VJP per row, and
described by what they show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import notation
from .chain import Chain, MatmulAxes, Memo, chain, chain_scale, node_value, remembered
from .engine import Evaluation, Problem, reverse
from .errors import TooLargeError, WxbError
from .notation import shape_text, subscript
from .reverse import needed_values
from .shapes import Shape, aligned, broadcast_axes

__all__ = ["DENSE_LIMIT", "Chain", "JacobianStructure", "MatmulAxes", "Memo", "block", "chain", "chain_scale", "dense",
           "entries", "matrix_view", "node_value", "structure"]

Array = np.ndarray[Any, np.dtype[Any]]
DENSE_LIMIT = 10**7


def matrix_view(tensor: Array, f_shape: Shape, operand_shape: Shape) -> Array:
    """A Jacobian tensor (f part + operand.shape) as the matrix ∂vec f/∂vec θ, vec stacking columns (column-major)."""
    rows, cols = math.prod(f_shape), math.prod(operand_shape)
    lead = tensor.ndim - len(operand_shape)
    f_part = tuple(range(lead - 1, -1, -1))
    op_part = tuple(range(tensor.ndim - 1, lead - 1, -1))
    return np.ascontiguousarray(tensor.transpose(f_part + op_part)).reshape(rows, cols)


@dataclass(frozen=True)
class JacobianStructure:
    """The block structure of ∂f/∂θ, described without computing it (e.g. ∂vec f/∂b = 1ₙ ⊗ I_m)."""

    wrt: str
    f_shape: Shape
    operand_shape: Shape
    shape: Shape
    size: int
    nonzeros: int | None
    block_axes: tuple[int, ...]
    n_blocks: int
    block_shape: Shape
    kron: str
    block_rule: str = ""

    def describe(self) -> str:
        """E.g. '2 blocks ∂f[:,k]/∂b, each I₂ (k = 0…1); 8 entries, 4 nonzero'."""
        return notation.structure_text(self)


# ---- Structure: O(1) memory for a chain ----

def structure(problem: Problem, name: str, *, memo: Memo | None = None) -> JacobianStructure:
    """The block structure of ∂f/∂θ (shape f.shape + θ.shape), e.g. ∂vec f/∂b = 1ₙ ⊗ I_m."""
    problem.wrt_names([name])
    link = chain(problem, name)
    if link is None:
        return _computed_structure(problem, name)
    base = _matmul_structure(problem, link) if link.kind == "matmul" else _broadcast_structure(problem, link)
    scale = chain_scale(problem, link, memo)
    nonzeros = _nonzeros(problem, link, scale, memo)
    if not link.factors:
        return replace(base, nonzeros=nonzeros)
    lhs, rhs = base.kron.split(" = ", 1) if " = " in base.kron else ("", base.kron)
    diag = "·".join(link.factors)
    kron = f"{lhs} = {diag}·({rhs})" if lhs else f"{diag}·({rhs})"
    rule = f"{base.block_rule}, rows scaled by {diag}"
    return JacobianStructure(name, base.f_shape, base.operand_shape, base.shape, base.size, nonzeros,
                             base.block_axes, base.n_blocks, base.block_shape, kron, rule)


def _nonzeros(problem: Problem, link: Chain, scale: Array | None, memo: Memo | None) -> int:
    """The exact number of nonzero entries: the rule's pattern, less the zeros of the other factor of a product
    and of the diagonal scale."""
    live = None if scale is None else np.broadcast_to(scale != 0, problem.f_shape)
    if link.kind == "broadcast":
        return math.prod(problem.f_shape) if live is None else int(np.count_nonzero(live))
    w_node, x_node = link.first.args
    ax = MatmulAxes.of(problem.shape(w_node), problem.shape(x_node))
    other = x_node if link.index == 0 else w_node
    value = node_value(problem, other, memo)
    rows = None if live is None else live.reshape((*ax.batch, ax.m, ax.n))
    if link.index == 0:  # ∂f[β,i,j]/∂W[·,i,q] = X[β,q,j]: a column of X per column of f
        x2 = value[:, np.newaxis] if ax.x_vector else value
        per_column = np.broadcast_to(np.count_nonzero(x2, axis=-2), (*ax.batch, ax.n))
        live_rows = ax.m if rows is None else np.count_nonzero(rows, axis=-2)
        return int(np.sum(per_column * live_rows))
    w2 = value[:, np.newaxis] if ax.w_vector else value  # ∂f[β,i,j]/∂X[·,p,j] = W[β,i,p]: a row of W per row of f
    per_row = np.broadcast_to(np.count_nonzero(w2, axis=-1), (*ax.batch, ax.m))
    live_columns = ax.n if rows is None else np.count_nonzero(rows, axis=-1)
    return int(np.sum(per_row * live_columns))


def _broadcast_structure(problem: Problem, link: Chain) -> JacobianStructure:
    """θ at an elementwise rule: one identity block per position along the axes θ is broadcast along."""
    f_shape, own = problem.f_shape, problem.operands[link.name].shape
    other = problem.shape(link.first.args[1 - link.index]) if len(link.first.args) == 2 else own
    dropped, kept = broadcast_axes(aligned(own, other), f_shape)
    block_axes = tuple(sorted(dropped + kept))
    n_blocks = math.prod(f_shape[a] for a in block_axes)
    rest = tuple(n for a, n in enumerate(f_shape) if a not in block_axes)
    r = math.prod(rest)
    if r == 1:
        rule = "each 1" if block_axes else "= 1"
    else:
        rule = f"each I{subscript(r)}" if block_axes else f"= I{subscript(r)} (the identity on f)"
        if rest + own != (r, r):
            rule += f" arranged as {shape_text(rest + own)}"
    kron = notation.kron_broadcast(f_shape, block_axes, link.name, len(own))
    return _assemble(link.name, f_shape, own, block_axes, n_blocks, rest, math.prod(f_shape), kron, rule)


def _matmul_structure(problem: Problem, link: Chain) -> JacobianStructure:
    """θ at a matrix product: one block per batch entry and column k of f, ∂f[β,:,k]/∂θ."""
    w_shape, x_shape = (problem.shape(a) for a in link.first.args)
    ax = MatmulAxes.of(w_shape, x_shape)
    f_shape, name = problem.f_shape, link.name
    nb = len(ax.batch)
    block_axes = tuple(range(nb)) + (() if ax.x_vector else (len(f_shape) - 1,))
    n_blocks = math.prod(f_shape[a] for a in block_axes)
    rest = tuple(n for a, n in enumerate(f_shape) if a not in block_axes)
    beta = "β," if nb else ""
    w_beta, x_beta = ("β," if any(n > 1 for n in batch) else "" for batch in (ax.w_batch, ax.x_batch))
    w_text, x_text = (problem.label(a) for a in link.first.args)
    w_at, x_at = (f"{text}[β]" if own else text for text, own in ((w_text, w_beta), (x_text, x_beta)))
    if link.index == 0:
        rule = (f"entries ∂f[{beta}i,j]/∂{name}[p] = δ(i,p)·{x_text}[{x_beta}0,j] ({name} a column)" if ax.w_vector
                else f"entries ∂f[{beta}i,j]/∂{name}[{w_beta}p,q] = δ(i,p)·{x_text}[{x_beta}q,j]")
        kron = f"{x_at}ᵀ ⊗ I{subscript(ax.m)}" if ax.m != 1 else f"{x_at}ᵀ"
        shared, own_at = broadcast_axes(ax.w_batch, ax.batch), w_at
    else:
        rule = f"entries ∂f[{beta}i,j]/∂{name}[{x_beta}p,q] = {w_text}[{w_beta}i,p]·δ(j,q)"
        kron = f"I{subscript(ax.n)} ⊗ {w_at}" if ax.n != 1 else w_at
        shared, own_at = broadcast_axes(ax.x_batch, ax.batch), x_at
    if nb:
        kron = f"∂vec f[β]/∂vec {own_at} = {kron} for each batch index β"
        summed = tuple(sorted(shared[0] + shared[1]))
        if summed:
            kron += f"; {name} is shared along batch {'axis' if len(summed) == 1 else 'axes'} " + \
                ", ".join(str(a) for a in summed)
    else:
        kron = f"∂vec f/∂{notation.vec(name, len(problem.operands[name].shape))} = {kron}"
    own = problem.operands[name].shape
    return _assemble(name, f_shape, own, block_axes, n_blocks, rest, math.prod(f_shape) * ax.k, kron, rule)


def _assemble(name: str, f_shape: Shape, own: Shape, block_axes: tuple[int, ...], n_blocks: int, rest: Shape,
              nonzeros: int | None, kron: str, rule: str) -> JacobianStructure:
    """A JacobianStructure; sizes are Python ints (they may be huge)."""
    shape = f_shape + own
    return JacobianStructure(name, f_shape, own, shape, math.prod(shape), nonzeros, block_axes, n_blocks,
                             rest + own, kron, rule)


def _computed_structure(problem: Problem, name: str) -> JacobianStructure:
    """No chain: blocks ∂f[β,:,k]/∂θ (each column of each batch entry), computed from VJPs; no closed form."""
    f_shape, own = problem.f_shape, problem.operands[name].shape
    block_axes = tuple(a for a in range(len(f_shape)) if a != len(f_shape) - 2) if len(f_shape) >= 2 else ()
    n_blocks = math.prod(f_shape[a] for a in block_axes) if block_axes else 1
    rest = tuple(n for a, n in enumerate(f_shape) if a not in block_axes)
    return _assemble(name, f_shape, own, block_axes, n_blocks, rest, None, "", "")


# ---- Entries of a chain: O(number of indices) memory ----

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


def _broadcast_entries(problem: Problem, link: Chain, fi: list[Array], oi: list[Array], memo: Memo | None) -> Array:
    """∂f[f_index]/∂θ[θ_index] = 1 where θ's broadcast puts that θ entry at that f entry."""
    own = problem.operands[link.name].shape
    other = problem.shape(link.first.args[1 - link.index]) if len(link.first.args) == 2 else own
    shape = aligned(own, other)
    ti = oi + [np.asarray(0)] * (len(shape) - len(oi))
    lead = len(fi) - len(shape)
    hit = np.asarray(True)
    for a, n in enumerate(shape):
        if n != 1:
            hit = hit & (fi[lead + a] == ti[a])
    return hit


def _matmul_entries(problem: Problem, link: Chain, fi: list[Array], oi: list[Array], memo: Memo | None) -> Array:
    """∂f[β,i,j]/∂W[γ,p,q] = [γ~β]·δ(i,p)·X[β,q,j] and ∂f[β,i,j]/∂X[γ,p,q] = [γ~β]·W[β,i,p]·δ(j,q)."""
    w_node, x_node = link.first.args
    ax = MatmulAxes.of(problem.shape(w_node), problem.shape(x_node))
    other = x_node if link.index == 0 else w_node
    value = node_value(problem, other, memo)
    zero = np.asarray(0)
    f2 = fi + ([zero] if ax.x_vector else [])
    beta, i, j = f2[:-2], f2[-2], f2[-1]
    if link.index == 0:
        x2 = value[:, np.newaxis] if ax.x_vector else value
        o2 = oi + ([zero] if ax.w_vector else [])
        gamma, p, q = o2[:-2], o2[-2], o2[-1]
        weights: Array = (_batch_match(gamma, beta, ax.w_batch) & (i == p)) * x2[tuple([*_batch_source(
            beta, ax.x_batch), q, j])]
        return weights
    w2 = value[:, np.newaxis] if ax.w_vector else value
    o2 = oi + ([zero] if ax.x_vector else [])
    gamma, p, q = o2[:-2], o2[-2], o2[-1]
    inputs: Array = (_batch_match(gamma, beta, ax.x_batch) & (j == q)) * w2[tuple([*_batch_source(
        beta, ax.w_batch), i, p])]
    return inputs


def entries(problem: Problem, name: str, *, f_index: tuple[ArrayLike, ...],
            operand_index: tuple[ArrayLike, ...], memo: Memo | None = None) -> Array:
    """J[f_index + θ_index] = ∂f[f_index]/∂θ[θ_index] for broadcastable integer index arrays (θ with a chain)."""
    link = chain(problem, name)
    if link is None:
        raise WxbError(f"∂f/∂{name} of {problem.expression.text} has no entry rule: ask for its blocks")
    fi = _normalised(f_index, problem.f_shape, "f")
    oi = _normalised(operand_index, problem.operands[name].shape, name)
    shape = np.broadcast_shapes(*(a.shape for a in fi + oi))
    values = (_matmul_entries if link.kind == "matmul" else _broadcast_entries)(problem, link, fi, oi, memo)
    scale = chain_scale(problem, link, memo)
    if scale is not None:
        values = values * scale[tuple(fi)]
    return np.broadcast_to(values, shape).astype(problem.dtype)


# ---- Blocks and the dense Jacobian, under a size guard ----

def _guard(what: str, shape: Shape, limit: int) -> None:
    """Refuse, before allocating, an array of more than `limit` entries."""
    size = math.prod(shape)
    if size > limit:
        raise TooLargeError(f"{what} would have {size:,} entries (shape {shape_text(shape)}), over the limit of "
                            f"{limit:,}", hint="ask for the structure or single blocks, or raise the limit")


def _rows_by_vjp(problem: Problem, name: str, rows: Array, memo: Memo | None) -> Array:
    """The rows ∂f[r]/∂θ for the flat (C-order) f positions `rows`, one VJP each: exact for any expression. The
    forward values the VJPs read are computed once for all rows (once per problem with a memo)."""
    values = remembered(problem, memo, f"vjp values {name}",
                         lambda: Evaluation.run(problem, needed_values(problem, problem.depends_on({name}))).values)
    out = np.zeros((len(rows), *problem.operands[name].shape), dtype=problem.dtype)
    for i, r in enumerate(rows):
        G = np.zeros(problem.f_shape, dtype=problem.dtype)
        G.reshape(-1)[r] = 1
        out[i] = reverse(problem, G, (name,), known=values)[name]
    return out


def block(problem: Problem, name: str, k: int = 0, *, limit: int = DENSE_LIMIT, memo: Memo | None = None) -> Array:
    """Block k: J with f's block axes fixed at their k-th position (C order), e.g. ∂f[:,k]/∂b = I_m."""
    s = structure(problem, name, memo=memo)
    if not 0 <= k < s.n_blocks:
        valid = f"0…{s.n_blocks - 1}" if s.n_blocks else "none: f has no entries"
        raise WxbError(f"there is no block {k} of ∂f/∂{name}: valid blocks are {valid}")
    _guard(f"block {k} of ∂f/∂{name}", s.block_shape, limit)
    f_shape = problem.f_shape
    position = np.unravel_index(k, tuple(f_shape[a] for a in s.block_axes))
    fixed = dict(zip(s.block_axes, position, strict=True))
    free = [a for a in range(len(f_shape)) if a not in fixed]
    ndim = len(s.block_shape)
    grid = [np.arange(n).reshape((-1,) + (1,) * (ndim - d - 1)) for d, n in enumerate(s.block_shape)]
    f_index = tuple(np.asarray(fixed[a]) if a in fixed else grid[free.index(a)] for a in range(len(f_shape)))
    if s.kron:
        return entries(problem, name, f_index=f_index, operand_index=tuple(grid[len(free):]), memo=memo)
    rest = tuple(f_shape[a] for a in free)
    flat = np.ravel_multi_index(np.broadcast_arrays(*f_index[:len(f_shape)]), f_shape) if f_shape else np.zeros(
        (), dtype=np.intp)
    rows = _rows_by_vjp(problem, name, np.asarray(flat).reshape(-1), memo)
    shaped: Array = rows.reshape(rest + problem.operands[name].shape)
    return shaped


def dense(problem: Problem, name: str, *, limit: int = DENSE_LIMIT, memo: Memo | None = None) -> Array:
    """J = ∂f/∂θ as a dense array of shape f.shape + θ.shape; refused (TooLargeError) above `limit` entries."""
    problem.wrt_names([name])
    own = problem.operands[name].shape
    shape = problem.f_shape + own
    _guard(f"the dense Jacobian ∂f/∂{name}", shape, limit)
    if math.prod(shape) == 0:
        return np.zeros(shape, dtype=problem.dtype)
    if chain(problem, name) is not None:
        nf = len(problem.f_shape)
        grids = np.indices(shape, sparse=True)
        return entries(problem, name, f_index=tuple(grids[:nf]), operand_index=tuple(grids[nf:]), memo=memo)
    rows = _rows_by_vjp(problem, name, np.arange(math.prod(problem.f_shape)), memo)
    full: Array = rows.reshape(shape)
    return full
