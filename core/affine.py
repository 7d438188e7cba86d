"""f = W·X ⊕ b, the seed's map, as the engine's default expression: `W @ X + b`, or `X + b` without W.

Conveniences for a Python user who has the three arrays at hand; everything goes through wxb.core.engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .engine import Gradients, Problem
from .expr import DEFAULT, DEFAULT_WITHOUT_W
from .operands import align_bias, as_operand
from .shapes import BiasBroadcast

if TYPE_CHECKING:
    from .gradcheck import CheckReport
    from .jacobian import JacobianStructure

Array = np.ndarray[Any, np.dtype[Any]]


def affine(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None) -> Problem:
    """The checked problem f = W @ X + b (f = X + b when W is None)."""
    if W is None:
        return Problem.build(DEFAULT_WITHOUT_W, {"X": X, "b": b})
    return Problem.build(DEFAULT, {"W": W, "X": X, "b": b})


@dataclass(frozen=True)
class Forward:
    """f = W·X ⊕ b, and how b was broadcast to make it."""

    f: Array
    broadcast: BiasBroadcast


def bias_of(problem: Problem) -> BiasBroadcast:
    """How b is stretched to f's shape in the default expression."""
    return next(item for item in problem.broadcasts() if item.name == "b")


def forward(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None) -> Forward:
    """f = W·X ⊕ b = np.matmul(W, X) + b broadcast to its shape (a 1-D b as a column); f = X ⊕ b without W."""
    problem = affine(X, b, W)
    return Forward(problem.forward(), bias_of(problem))


def backward(X: ArrayLike, b: ArrayLike, G: ArrayLike, W: ArrayLike | None = None,
             wrt: Iterable[str] | str = ("b",)) -> Gradients:
    """dL/db = Σ_broadcast G, dL/dW = Σ_batch G·Xᵀ, dL/dX = Σ_batch Wᵀ·G, for G = ∂L/∂f."""
    return affine(X, b, W).backward(G, wrt)


def expand_bias(b: ArrayLike, out_shape: tuple[int, ...]) -> Array:
    """B = b·1ᵀ: b broadcast to out_shape (a 1-D b as a column), as a read-only view."""
    bias = as_operand(b, "b")
    affine(np.zeros(out_shape), bias)
    view: Array = np.broadcast_to(align_bias(bias, tuple(out_shape)), tuple(out_shape))
    return view


# ---- The Jacobian and the gradient check of the default expression (their modules load on first use) ----

def jacobian_structure(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, wrt: str = "b") -> JacobianStructure:
    """The block structure of ∂f/∂θ in O(1) memory, e.g. ∂vec f/∂b = 1ₙ ⊗ I_m."""
    from . import jacobian

    return jacobian.structure(affine(X, b, W), wrt)


def jacobian_block(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, wrt: str = "b", k: int = 0, *,
                   limit: int = 10**7) -> Array:
    """Block k of ∂f/∂θ, e.g. ∂f[:,k]/∂b = I_m."""
    from . import jacobian

    return jacobian.block(affine(X, b, W), wrt, k, limit=limit)


def jacobian_entries(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, wrt: str = "b", *,
                     f_index: tuple[ArrayLike, ...], operand_index: tuple[ArrayLike, ...]) -> Array:
    """J[f_index + operand_index] for broadcastable integer index arrays."""
    from . import jacobian

    return jacobian.entries(affine(X, b, W), wrt, f_index=f_index, operand_index=operand_index)


def dense_jacobian(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, wrt: str = "b",
                   limit: int = 10**7) -> Array:
    """∂f/∂θ as a dense array of shape f.shape + θ.shape, refused above `limit` entries."""
    from . import jacobian

    return jacobian.dense(affine(X, b, W), wrt, limit=limit)


def gradient_check(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, G: ArrayLike | None = None,
                   wrt: Iterable[str] | None = None, *, seed: int = 0, max_entries: int = 200) -> CheckReport:
    """Analytic gradients against central finite differences of L = Σ G ⊙ f, for every operand by default."""
    from . import gradcheck

    return gradcheck.check_problem(affine(X, b, W), G, wrt, seed=seed, max_entries=max_entries)
