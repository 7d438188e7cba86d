"""Gradient check: the analytic VJPs against central finite differences of L = Σ G ⊙ f.

L is linear in each operand when the others are held fixed, so a central difference has no truncation error
and the check measures rounding only. Differences are taken in float64 (from the operands as given), so a float32
analytic gradient is compared with an accurate reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from wxb.core.affine import (
    AffineOperands,
    Operand,
    affine_operands,
    backward,
    check_upstream,
    forward,
    wrt_operands,
)

N_DIRECTIONS = 12
TOLERANCES = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 2e-3}


@dataclass(frozen=True)
class CheckResult:
    """One operand's check: max |numeric − analytic|, that over the largest gradient magnitude, and the verdict:
    passed when max_abs_error ≤ bound = tolerance · max(1, largest gradient magnitude)."""

    operand: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool
    n_checked: int
    method: str
    bound: float


@dataclass(frozen=True)
class CheckReport:
    """The checks of every operand asked for; passed when all passed."""

    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when every operand's check passed."""
        return all(result.passed for result in self.results)


def tolerance_for(dtype: np.dtype[np.floating]) -> float:
    """The error allowed, relative to max(1, largest gradient magnitude): 1e-6 for float64, 2e-3 for float32."""
    return TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])


def _loss_along(ops: AffineOperands, G: np.ndarray, name: Operand) -> Callable[[np.ndarray], float]:
    """θ ↦ L = Σ G ⊙ f(θ) in float64, with the other operands held fixed."""
    g = G.astype(np.float64)
    x, b = ops.X.astype(np.float64), ops.b.astype(np.float64)
    w = None if ops.W is None else ops.W.astype(np.float64)

    def loss(theta: np.ndarray) -> float:
        f = forward(theta if name == "X" else x, theta if name == "b" else b, theta if name == "W" else w).f
        return float(np.sum(g * f))

    return loss


def _central_difference(loss: Callable[[np.ndarray], float], theta: np.ndarray, direction: np.ndarray) -> float:
    """(L(θ + h·v) − L(θ − h·v)) / 2h, with h scaled to θ (exact up to rounding, as L is linear in θ)."""
    scale = float(np.max(np.abs(theta), initial=0.0)) if np.all(np.isfinite(theta)) else 1.0
    h = 1e-3 * max(1.0, scale) / max(float(np.max(np.abs(direction), initial=0.0)), 1e-300)
    return (loss(theta + h * direction) - loss(theta - h * direction)) / (2 * h)


def _directions(shape: tuple[int, ...], size: int, max_entries: int, seed: int) -> tuple[list[np.ndarray], str]:
    """Every unit vector eᵢ when size ≤ max_entries, else N_DIRECTIONS random normal directions."""
    if size <= max_entries:
        return [np.eye(1, size, i).reshape(shape) for i in range(size)], "every entry"
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(N_DIRECTIONS)], f"{N_DIRECTIONS} random directions"


def check_operand(ops: AffineOperands, G: np.ndarray, name: Operand, analytic: np.ndarray, *, seed: int = 0,
                  max_entries: int = 200) -> CheckResult:
    """Compare ⟨analytic, v⟩ with the central difference of L along v, for each direction v."""
    theta = ops.operand(name).astype(np.float64)
    loss = _loss_along(ops, G, name)
    directions, method = _directions(theta.shape, theta.size, max_entries, seed)
    exact = analytic.astype(np.float64)
    numeric = np.array([_central_difference(loss, theta, v) for v in directions])
    predicted = np.array([float(np.sum(exact * v)) for v in directions])
    errors = np.abs(numeric - predicted)
    max_abs = float(np.max(errors, initial=0.0)) if not np.isnan(errors).any() else float("nan")
    scale = float(max(np.max(np.abs(numeric), initial=0.0), np.max(np.abs(predicted), initial=0.0)))
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    tolerance = tolerance_for(analytic.dtype)
    bound = tolerance * max(1.0, scale)
    return CheckResult(name, max_abs, max_rel, tolerance, bool(max_abs <= bound), len(directions), method, bound)


def gradient_check(X: ArrayLike, b: ArrayLike, W: ArrayLike | None = None, G: ArrayLike | None = None,
                   wrt: Iterable[Operand] | None = None, *, seed: int = 0, max_entries: int = 200) -> CheckReport:
    """For each θ: analytic dL/dθ vs (L(θ+hv) − L(θ−hv))/2h, L = Σ G ⊙ f, v every eᵢ or random directions."""
    ops = affine_operands(X, b, W)
    names = wrt_operands(wrt if wrt is not None else (("b",) if ops.W is None else ("b", "W", "X")))
    dtype = np.result_type(*[a for a in (ops.X, ops.b, ops.W) if a is not None])
    g = np.ones(ops.f_shape, dtype=dtype) if G is None else check_upstream(G, ops.f_shape)
    grads = backward(ops.X, ops.b, g, ops.W, wrt=names)
    analytic = {"b": grads.db, "W": grads.dW, "X": grads.dX}
    results = []
    for name in names:
        grad = analytic[name]
        assert grad is not None
        results.append(check_operand(ops, g, name, grad, seed=seed, max_entries=max_entries))
    return CheckReport(tuple(results))
