"""Gradient check: the analytic VJPs against central finite differences of L = Σ G ⊙ f, honest about rounding.

Each direction v gets its own step h and its own bound. The bound adds three parts:
- the tolerance of the analytic gradient's dtype, relative to the larger of the two values;
- the rounding of the two evaluations of L, which no step removes: ε_L / h, where ε_L bounds the rounding error
  of one evaluation of L (ε times each node's |adjoint ⊙ value|, times how many roundings it collects);
- for an L not linear in θ, the truncation of the central difference, estimated by comparing steps h and 2h.
Where L is linear in θ the difference has no truncation error, so the step grows until rounding is negligible.
A check whose rounding and truncation bound leaves nothing to compare is not a failure: its verdict says it
cannot check, and why. NaN never passes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from wxb.core.engine import Problem, rounding_scale

Array = np.ndarray[Any, np.dtype[Any]]
N_DIRECTIONS = 12
TOLERANCES = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 2e-3}
RESOLUTION = 0.1  # a check means something when rounding and truncation stay under 10% of the gradient's scale


@dataclass(frozen=True)
class CheckResult:
    """One operand's check. verdict: 'pass', 'fail' or 'cannot check' (reason says why). bound: the limit the
    worst direction's error was held to; max_rel_error: max_abs_error over the gradient's scale."""

    operand: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool
    n_checked: int
    method: str
    bound: float
    verdict: str = "pass"
    reason: str = ""


@dataclass(frozen=True)
class CheckReport:
    """The checks of every operand asked for; passed unless one failed ('cannot check' is not a failure)."""

    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when no operand's check failed."""
        return all(result.passed for result in self.results)


def tolerance_for(dtype: np.dtype[Any]) -> float:
    """The relative error allowed the analytic gradient: 1e-6 for float64, 2e-3 for float32."""
    return TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])


def _directions(shape: tuple[int, ...], size: int, max_entries: int, seed: int) -> tuple[list[Array], str]:
    """Every unit vector eᵢ when size ≤ max_entries, else N_DIRECTIONS random normal directions."""
    if size <= max_entries:
        return [np.eye(1, size, i).reshape(shape) for i in range(size)], "every entry"
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(N_DIRECTIONS)], f"{N_DIRECTIONS} random directions"


@dataclass(frozen=True)
class Difference:
    """One direction's comparison: the analytic and numeric derivatives, the error and the bound's parts."""

    predicted: float
    numeric: float
    error: float
    tolerance_part: float
    rounding: float
    truncation: float

    @property
    def bound(self) -> float:
        return self.tolerance_part + self.rounding + self.truncation


class Probe:
    """L = Σ G ⊙ f as a function of one operand θ, in float64, with the rounding scale of one evaluation."""

    def __init__(self, problem: Problem, G: Array, name: str) -> None:
        operands = {key: np.asarray(value, dtype=np.float64) for key, value in problem.operands.items()}
        self.problem = replace(problem, operands=operands, dtype=np.dtype(np.float64))
        self.G = np.asarray(G, dtype=np.float64)
        self.name = name
        self.theta = operands[name]
        grads = self.problem.backward(self.G, keep=True)
        summed = float(np.sum(np.abs(self.G * grads.values.get(id(problem.root), self.problem.forward()))))
        self.noise = rounding_scale(self.problem, grads) + np.finfo(np.float64).eps * summed * max(
            math.log2(max(self.G.size, 1)), 1.0)
        self.finite = math.isfinite(summed)
        self.linear = problem.linear_in(name)
        self.added_to = self._added_to(problem, grads)

    def _added_to(self, problem: Problem, grads: Any) -> float:
        """The largest magnitude of a sum or difference θ is a term of (0 when there is none)."""
        sums = [node for node in problem.order if node.op in ("add", "sub")
                and any(arg.op == "var" and arg.name == self.name for arg in node.args)]
        sizes = [float(np.max(np.abs(grads.values[id(node)]), initial=0.0)) for node in sums
                 if id(node) in grads.values]
        finite = [size for size in sizes if math.isfinite(size)]
        return max(finite, default=0.0)

    def loss(self, theta: Array) -> float:
        """L with θ replaced."""
        moved = replace(self.problem, operands={**self.problem.operands, self.name: theta})
        return float(np.sum(self.G * moved.forward()))

    def slope(self, v: Array, h: float) -> float:
        """(L(θ + h·v) − L(θ − h·v)) / 2h."""
        return (self.loss(self.theta + h * v) - self.loss(self.theta - h * v)) / (2 * h)

    def compare(self, v: Array, predicted: float, tolerance: float) -> Difference:
        """The central difference along v with a step chosen for it, and the bound it is held to."""
        unit = float(np.max(np.abs(v)))
        h = np.cbrt(np.finfo(np.float64).eps) * self.base(v) / unit
        truncation = 0.0
        if self.linear:
            h = max(h, 1e-3 * self.base(v) / unit, self.noise / (1e-9 * abs(predicted)) if predicted else 0.0)
            h = min(h, 1e300 / unit)
            numeric = self.slope(v, h)
            while not math.isfinite(numeric) and h > self.base(v) and math.isfinite(predicted):
                h /= 1e4
                numeric = self.slope(v, h)
        else:
            numeric, truncation, h = self.curved(v, h, predicted, tolerance)
        rounding = 2 * self.noise / h
        error = abs(numeric - predicted)
        scale = max(abs(numeric), abs(predicted)) if math.isfinite(numeric) else abs(predicted)
        return Difference(predicted, numeric, error, tolerance * scale, rounding, truncation)

    def base(self, v: Array) -> float:
        """The size a step along v is measured against: the entries of θ it moves, or, where θ is added to
        something larger, that sum's size (a tiny bias beside a large product is stepped at the product's scale)."""
        reach = float(np.max(np.abs(self.theta[v != 0]), initial=0.0))
        if not math.isfinite(reach):
            reach = 1.0
        return max(reach, self.added_to) or float(np.max(np.abs(self.theta), initial=0.0)) or 1.0

    def curved(self, v: Array, h: float, predicted: float, tolerance: float) -> tuple[float, float, float]:
        """For an L not linear in θ: the slope at step h, its truncation estimated from step 2h; the step grows
        tenfold while rounding (2ε_L/h) dominates and the sum of both shrinks."""
        slope = self.slope(v, h)
        truncation = abs(self.slope(v, 2 * h) - slope)
        for _ in range(8):
            rounding = 2 * self.noise / h
            if slope == predicted or rounding <= 4 * truncation or rounding <= tolerance * abs(predicted):
                break
            wider = 10 * h
            slope2 = self.slope(v, wider)
            truncation2 = abs(self.slope(v, 2 * wider) - slope2)
            if not math.isfinite(slope2) or truncation2 + 2 * self.noise / wider >= truncation + rounding:
                break
            slope, truncation, h = slope2, truncation2, wider
        return slope, truncation, h


def check_operand(problem: Problem, G: Array, name: str, analytic: Array, *, seed: int = 0,
                  max_entries: int = 200) -> CheckResult:
    """Compare ⟨analytic, v⟩ with the central difference of L along v, for each direction v."""
    probe = Probe(problem, G, name)
    directions, method = _directions(probe.theta.shape, probe.theta.size, max_entries, seed)
    tolerance = tolerance_for(analytic.dtype)
    given = [a for a in problem.operands.values() if np.isnan(np.sum(a, dtype=np.float64))]
    if not probe.finite and not given and not np.isnan(probe.G).any():
        return CheckResult(name, math.nan, math.nan, tolerance, True, len(directions), method, math.nan,
                           "cannot check", "L = Σ G ⊙ f is not finite here (an overflow), so it has no finite "
                           "differences to compare with")
    exact = analytic.astype(np.float64)
    diffs = [probe.compare(v, float(np.sum(exact * v)), tolerance) for v in directions]
    return _verdict(name, diffs, tolerance, method)


def _verdict(name: str, diffs: list[Difference], tolerance: float, method: str) -> CheckResult:
    """pass, fail or cannot check, from every direction's difference."""
    n = len(diffs)
    if not diffs:
        return CheckResult(name, 0.0, 0.0, tolerance, True, 0, method, 0.0)
    if any(math.isnan(d.predicted) or math.isnan(d.numeric) for d in diffs):
        return CheckResult(name, math.nan, math.nan, tolerance, False, n, method, math.nan, "fail",
                           "NaN in the gradient or in L")
    worst = max(diffs, key=lambda d: d.error / d.bound if d.bound else (math.inf if d.error else 0.0))
    max_abs = max(d.error for d in diffs)
    scale = max(max(abs(d.predicted), abs(d.numeric)) for d in diffs)
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    if any(d.error > d.bound for d in diffs):
        return CheckResult(name, max_abs, max_rel, tolerance, False, n, method, worst.bound, "fail",
                           "the analytic gradient disagrees with the finite differences")
    fuzz = max(d.rounding + d.truncation for d in diffs)
    if scale == 0 and max_abs == 0:
        return CheckResult(name, 0.0, 0.0, tolerance, True, n, method, worst.bound)
    if fuzz > RESOLUTION * scale or not math.isfinite(fuzz):
        why = (f"rounding in L (±{_short(max(d.rounding for d in diffs))} on the slope) swamps the finite "
               f"difference of a gradient of size {_short(scale)}")
        if max(d.truncation for d in diffs) > max(d.rounding for d in diffs):
            why = f"L curves too sharply along {name} for a finite difference to resolve its slope"
        return CheckResult(name, max_abs, max_rel, tolerance, True, n, method, worst.bound, "cannot check", why)
    return CheckResult(name, max_abs, max_rel, tolerance, True, n, method, worst.bound)


def _short(x: float) -> str:
    return f"{x:.2g}"


def check_problem(problem: Problem, G: ArrayLike | None = None, wrt: Iterable[str] | str | None = None, *,
                  seed: int = 0, max_entries: int = 200) -> CheckReport:
    """For each operand θ: analytic dL/dθ vs (L(θ+hv) − L(θ−hv))/2h, L = Σ G ⊙ f (G = 1 when not given)."""
    g = np.ones(problem.f_shape, dtype=problem.dtype) if G is None else problem.upstream(G)
    names = problem.wrt_names(wrt)
    with np.errstate(all="ignore"):
        grads = problem.backward(g, names)
        return CheckReport(tuple(check_operand(problem, g, name, grads[name], seed=seed, max_entries=max_entries)
                                 for name in names))

