"""What the Jacobian views show, computed here: the first blocks as matrices, and a sparsity picture sampled from
the entry rules or the blocks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import core
from ..model import Blocks, Spy

Array = np.ndarray[Any, np.dtype[Any]]


PREVIEW_BLOCKS = 3

def preview_blocks(problem: core.Problem, structure: Any, count: int = PREVIEW_BLOCKS, *,
                   memo: Any = None) -> Blocks:
    """The first `count` blocks as matrices ∂f[slice]/∂vec θ (under the size guard)."""
    from ...core import jacobian as jac
    from ...core import notation

    shown = min(structure.n_blocks, count)
    limit = 10**7 if structure.kron else 10**5
    try:
        tensors = [jac.block(problem, structure.wrt, k, limit=limit, memo=memo) for k in range(shown)]
    except core.TooLargeError as exc:
        return Blocks([], "", str(exc), shown)
    matrices = [jac.matrix_view(t, t.shape[: t.ndim - len(structure.operand_shape)], structure.operand_shape)
                for t in tensors]
    return Blocks(matrices, "" if structure.kron else notation.describe_blocks(matrices), "", shown)


SPY_HEIGHT, SPY_WIDTH = 16, 48


def sparsity(problem: core.Problem, structure: Any, blocks: Blocks, width: int, memo: Any = None) -> Spy | None:
    """The sparsity pattern of ∂vec f/∂vec θ in at most SPY_HEIGHT × SPY_WIDTH cells (and width − 4), read from
    the entry rules of a closed form, or from the computed blocks; sampled at random when too big to read all.
    memo: the values the Jacobian's structure and blocks already computed (core.jacobian.Memo)."""
    from ...core import jacobian as jac
    from .render import spy_grid

    rows, cols = math.prod(structure.f_shape), math.prod(structure.operand_shape)
    if rows == 0 or cols == 0:
        return Spy("(the Jacobian is empty: nothing to draw)", None)
    window = rows
    if structure.n_blocks > blocks.asked:
        window = min(rows, blocks.asked * max(rows // structure.n_blocks, 1))
    if structure.kron:
        def entries(r: Array, c: Array) -> Array:
            both = np.broadcast_shapes(r.shape, c.shape)
            f_index = _unravel(np.broadcast_to(r, both), structure.f_shape)
            op_index = _unravel(np.broadcast_to(c, both), structure.operand_shape)
            return np.broadcast_to(jac.entries(problem, structure.wrt, f_index=f_index, operand_index=op_index,
                                               memo=memo), both)
    elif blocks.matrices and len(structure.f_shape) <= 2:
        stacked = np.concatenate(blocks.matrices)
        window = min(window, stacked.shape[0])

        def entries(r: Array, c: Array) -> Array:
            found: Array = stacked[r, c]
            return found
    else:
        return None
    height = min(SPY_HEIGHT, window)
    across = min(SPY_WIDTH, cols, max(width - 4, 8))
    grid, sampled = spy_grid(window, cols, entries, height=height, width=across)
    cell_rows, cell_cols = -(-window // height), -(-cols // across)
    scale = "one entry per cell" if cell_rows == 1 and cell_cols == 1 else f"each cell {cell_rows}×{cell_cols} entries"
    part = f"rows 0…{window - 1} of " if window < rows else ""
    how = ", sampled at random" if sampled else ""
    vec = "vec " if len(structure.operand_shape) >= 2 else ""
    return Spy(f"sparsity of {part}∂vec f/∂{vec}{structure.wrt} ({rows}×{cols}): {scale}{how}", grid)

def _unravel(flat: Array, shape: tuple[int, ...]) -> tuple[Array, ...]:
    """Column-major (vec) positions as index arrays into shape; a scalar has no axes to index."""
    return tuple(np.unravel_index(flat, shape, order="F")) if shape else ()
