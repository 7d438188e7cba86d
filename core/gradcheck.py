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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .engine import Problem, rounding_scale
from .errors import WxbError
from .primitives import PRIMITIVES

Array = np.ndarray[Any, np.dtype[Any]]
N_DIRECTIONS = 12
LARGE = 100_000  # entries: an operand this large is checked along fewer random directions
N_LARGE_DIRECTIONS = 4
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


def _directions(shape: tuple[int, ...], size: int, max_entries: int, seed: int) -> tuple[Iterator[Array], int, str]:
    """Every unit vector eᵢ when size ≤ max_entries, else N_DIRECTIONS random normal directions (N_LARGE_DIRECTIONS
    for a large operand: each costs full evaluations of L, and one random direction already sees any error with
    probability 1); made one at a time, so a large operand holds one direction in memory, not all of them."""
    if size <= max_entries:
        return (np.eye(1, size, i).reshape(shape) for i in range(size)), size, "every entry"
    rng = np.random.default_rng(seed)
    n = N_LARGE_DIRECTIONS if size > LARGE else N_DIRECTIONS
    return (rng.standard_normal(shape) for _ in range(n)), n, f"{n} random directions"


class Baseline:
    """What every operand's check shares: the problem in float64, G, the rounding scale of one evaluation of L
    (and the size of L's terms), and for each operand the sums it is a term of and the upstream gradient where
    it is used. One backward pass that keeps every value, made once."""

    def __init__(self, problem: Problem, G: Array) -> None:
        operands = {key: np.asarray(value, dtype=np.float64) for key, value in problem.operands.items()}
        self.source = problem
        self.problem = replace(problem, operands=operands, dtype=np.dtype(np.float64))
        self.G = np.asarray(G, dtype=np.float64)
        grads = self.problem.backward(self.G, keep=True)
        summed = float(np.sum(np.abs(self.G * grads.values[id(problem.root)])))
        eps64 = float(np.finfo(np.float64).eps)
        relative, underflow = rounding_scale(self.problem, grads)
        self.noise = relative + underflow + eps64 * summed * max(math.log2(max(self.G.size, 1)), 1.0)
        self.terms = (relative + eps64 * summed) / eps64
        self.finite = math.isfinite(summed)
        self.nan_given = any(bool(np.isnan(a).any()) for a in operands.values()) or bool(np.isnan(self.G).any())
        self.unchecked = "" if self.nan_given else _not_finite(problem, self.finite, summed)
        self.sums = {name: self._sums(name, grads) for name in operands}
        self.upstream = {name: self._upstream(name, grads) for name in operands}

    def _upstream(self, name: str, grads: Any) -> float:
        """The largest upstream gradient arriving where θ is used: the scale of the analytic gradient's terms."""
        sizes = [float(np.max(np.abs(grads.adjoints[id(user)]), initial=0.0))
                 for user, _ in self.problem.uses(self.problem.operand_node(name)) if id(user) in grads.adjoints]
        return max((size for size in sizes if math.isfinite(size)), default=0.0)

    def _sums(self, name: str, grads: Any) -> list[tuple[Array, tuple[int, ...]]]:
        """The values of the sums and differences θ is a term of, with θ's shape as it broadcasts there."""
        from .engine import aligned

        own = self.problem.operands[name].shape
        return [(np.asarray(grads.values[id(user)]), aligned(own, self.problem.shape(user.args[1 - index])))
                for user, index in self.problem.uses(self.problem.operand_node(name))
                if PRIMITIVES[user.op].additive and id(user) in grads.values]


@dataclass(frozen=True)
class Difference:
    """One direction's comparison: the analytic and numeric derivatives, the error, the bound's parts, the
    gradient's natural size along v (L's terms over θ's size), and whether L has a kink there."""

    predicted: float
    numeric: float
    error: float
    tolerance_part: float
    rounding: float
    truncation: float
    analytic_part: float = 0.0
    natural: float = 0.0
    kink: bool = False

    @property
    def bound(self) -> float:
        return self.tolerance_part + self.rounding + self.truncation + self.analytic_part

    @property
    def fuzz(self) -> float:
        """What the finite difference itself cannot resolve: rounding plus truncation."""
        return self.rounding + self.truncation


class Step(NamedTuple):
    """A central difference at step h, and its truncation estimated against step 2h."""

    slope: float
    truncation: float
    h: float


class Probe:
    """L = Σ G ⊙ f as a function of one operand θ, in float64, with the rounding scale of one evaluation."""

    def __init__(self, base: Baseline, name: str) -> None:
        from .engine import Evaluation

        self.shared, self.problem, self.G, self.name = base, base.problem, base.G, name
        self.theta = base.problem.operands[name]
        self.eps = float(np.finfo(base.source.dtype).eps)
        self.noise, self.terms, self.finite = base.noise, base.terms, base.finite
        self.linear = base.source.linear_in(name)
        self.sums, self.upstream = base.sums[name], base.upstream[name]
        self.at_theta: float | None = None
        moving = self.problem.depends_on({name})
        fixed = {id(arg) for node in self.problem.order if id(node) in moving for arg in node.args
                 if id(arg) not in moving}
        self.known = Evaluation.run(self.problem, fixed).values  # what θ does not move: computed once

    def added_to(self, v: Array) -> float:
        """The largest magnitude, where v moves θ, of a sum θ is a term of (0 when there is none)."""
        sizes = []
        for value, shape in self.sums:
            reach = np.broadcast_to(v.reshape(shape) != 0, value.shape)
            size = float(np.max(np.abs(value[reach]), initial=0.0))
            if math.isfinite(size):
                sizes.append(size)
        return max(sizes, default=0.0)

    def loss(self, theta: Array) -> float:
        """L with θ replaced (only what θ moves is computed again)."""
        from .engine import Evaluation

        moved = replace(self.problem, operands={**self.problem.operands, self.name: theta})
        f = Evaluation.run(moved, {id(moved.root)}, self.known).value(moved.root)
        return float(np.sum(self.G * f))

    def slope(self, v: Array, h: float) -> float:
        """(L(θ + h·v) − L(θ − h·v)) / 2h."""
        return (self.loss(self.theta + h * v) - self.loss(self.theta - h * v)) / (2 * h)

    def base(self, v: Array) -> float:
        """The size a step along v is measured against: the entries of θ it moves, or, where θ is added to
        something larger, that sum's size there; for entries that are 0, 1 clamped to the range of θ's other
        entries (all tiny: the largest; all huge: the smallest)."""
        reach = float(np.max(np.abs(self.theta[v != 0]), initial=0.0))
        if not math.isfinite(reach):
            reach = 1.0
        if reach < np.finfo(np.float64).tiny:  # a subnormal entry: a step its size would underflow
            reach = 0.0
        return max(reach, self.added_to(v)) or self.fallback

    @property
    def fallback(self) -> float:
        """The scale of a zero entry: 1, unless every other entry of θ lies below 1 or above it."""
        sizes = np.abs(self.theta[np.isfinite(self.theta) & (np.abs(self.theta) >= np.finfo(np.float64).tiny)])
        if not sizes.size:
            return 1.0
        return float(min(max(1.0, sizes.min()), sizes.max()))

    def compare(self, v: Array, predicted: float, tolerance: float) -> Difference:
        """The central difference along v with a step chosen for it, and the bound it is held to."""
        unit = float(np.max(np.abs(v)))
        base = self.base(v)
        h = np.cbrt(np.finfo(np.float64).eps) * base / unit
        step = self.straight(v, h, base, unit, predicted) if self.linear else self.curved(v, h, predicted, tolerance)
        rounding = 2 * self.noise / step.h
        error = abs(step.slope - predicted)
        scale = max(abs(step.slope), abs(predicted)) if math.isfinite(step.slope) else abs(predicted)
        natural = self.terms / base * unit
        analytic = 4 * self.eps * max(natural, self.upstream * unit)
        diff = Difference(predicted, step.slope, error, tolerance * scale, rounding, step.truncation, analytic,
                          natural)
        if error > diff.bound and not self.linear and self.kinked(v, step, diff.bound):
            return replace(diff, kink=True)
        return diff

    def straight(self, v: Array, h: float, base: float, unit: float, predicted: float) -> Step:
        """L linear in θ: no truncation, so the step grows until rounding is negligible (and L stays finite)."""
        resolved = 1e-9 * abs(predicted)  # rounding negligible at this fraction of the slope
        h = max(h, 1e-3 * base / unit, self.noise / resolved if resolved else 0.0)
        h = min(h, 1e300 / unit)
        slope = self.slope(v, h)
        while not math.isfinite(slope) and h > base and math.isfinite(predicted):
            h /= 1e4
            slope = self.slope(v, h)
        return Step(slope, 0.0, h)

    def estimate(self, v: Array, h: float) -> Step:
        """The slope at step h and its truncation, |D(2h) − D(h)|."""
        slope = self.slope(v, h)
        return Step(slope, abs(self.slope(v, 2 * h) - slope), h)

    def curved(self, v: Array, h: float, predicted: float, tolerance: float) -> Step:
        """L not linear in θ: from step h, move tenfold towards the step where truncation plus rounding (2ε_L/h)
        is least. Larger while rounding dominates (the total falls steadily); smaller while truncation does, past
        steps where a saturated L makes the estimate worse, until rounding takes over; the best step wins."""
        best = self.estimate(v, h)
        total = best.truncation + 2 * self.noise / best.h
        shrinking = best.truncation > 2 * self.noise / best.h
        step = best
        for _ in range(8):
            if best.slope == predicted or total <= tolerance * abs(predicted):
                break
            step = self.estimate(v, step.h * (0.1 if shrinking else 10.0))
            candidate = step.truncation + 2 * self.noise / step.h
            if math.isfinite(step.slope) and candidate < total:
                best, total = step, candidate
            elif not shrinking or not math.isfinite(step.slope):
                break
            if shrinking and step.truncation <= 2 * self.noise / step.h:
                break
        return best

    def kinked(self, v: Array, step: Step, bound: float) -> bool:
        """True when the one-sided slopes at θ disagree by far more than the bound: L has a kink there."""
        if self.at_theta is None:
            self.at_theta = self.loss(self.theta)
        ahead = (self.loss(self.theta + step.h * v) - self.at_theta) / step.h
        behind = (self.at_theta - self.loss(self.theta - step.h * v)) / step.h
        return abs(ahead - behind) > 10 * bound or self.jumped(v, step.h)

    def jumped(self, v: Array, h: float) -> bool:
        """True when L is not continuous at θ (sign at 0): its change across θ does not shrink with the step."""
        wide = abs(self.loss(self.theta + h * v) - self.loss(self.theta - h * v))
        narrow = abs(self.loss(self.theta + h / 100 * v) - self.loss(self.theta - h / 100 * v))
        return bool(wide > 0 and narrow > 0.5 * wide)


def check_operand(problem: Problem, G: Array, name: str, analytic: Array, *, seed: int = 0,
                  max_entries: int = 200, base: Baseline | None = None) -> CheckResult:
    """Compare ⟨analytic, v⟩ with the central difference of L along v, for each direction v."""
    probe = Probe(base if base is not None else Baseline(problem, G), name)
    directions, count, method = _directions(probe.theta.shape, probe.theta.size, max_entries, seed)
    tolerance = tolerance_for(analytic.dtype)
    if probe.shared.nan_given:
        return CheckResult(name, math.nan, math.nan, tolerance, False, count, method, math.nan, "fail",
                           "NaN in the operands or in G: no gradient can be confirmed")
    if probe.shared.unchecked:
        return CheckResult(name, math.nan, math.nan, tolerance, True, count, method, math.nan,
                           "cannot check", probe.shared.unchecked)
    exact = analytic.astype(np.float64)
    if not np.isfinite(exact).all() and not np.isnan(exact).any():
        return CheckResult(name, math.nan, math.nan, tolerance, True, count, method, math.nan,
                           "cannot check", f"dL/d{name} overflows {analytic.dtype} here, so there is no finite "
                           "slope to compare with")
    try:
        diffs = [probe.compare(v, float(np.sum(exact[v != 0] * v[v != 0])), tolerance) for v in directions]
    except WxbError as refused:  # a row refuses the stepped operand (class labels, arcsin's edge): no difference
        return CheckResult(name, math.nan, math.nan, tolerance, True, count, method, math.nan, "cannot check",
                           f"a finite-difference step along {name} leaves what the expression accepts ({refused})")
    return _verdict(name, diffs, tolerance, method)


def _not_finite(problem: Problem, loss_finite: bool, loss: float = 0.0) -> str:
    """Why f (in the problem's own dtype) or L is not finite from finite operands, so that there is nothing to
    compare ('' when both are finite)."""
    f = np.asarray(problem.forward())
    if loss_finite and np.isfinite(f).all():
        return ""
    if np.isnan(f).any() or math.isnan(loss):
        return (f"f has NaN entries here (an invalid operation such as 0/0 or ∞ − ∞ in {problem.dtype}), so L "
                "has no finite differences to compare with")
    return (f"f is infinite here (an overflow or a pole in {problem.dtype}), so L has no finite differences to "
            "compare with")


def _verdict(name: str, diffs: list[Difference], tolerance: float, method: str) -> CheckResult:
    """pass, fail or cannot check, from every direction's difference."""
    n = len(diffs)
    if not diffs:
        return CheckResult(name, 0.0, 0.0, tolerance, True, 0, method, 0.0)
    if any(math.isnan(d.predicted) for d in diffs):
        return CheckResult(name, math.nan, math.nan, tolerance, False, n, method, math.nan, "fail",
                           "the gradient is NaN where f is finite")
    if any(not math.isfinite(d.numeric) or not math.isfinite(d.bound) for d in diffs):
        return CheckResult(name, math.nan, math.nan, tolerance, True, n, method, math.nan, "cannot check",
                           "the finite differences of L are not finite here (a step underflows or overflows)")
    worst = max(diffs, key=lambda d: d.error / d.bound if d.bound else (math.inf if d.error else 0.0))
    max_abs = max(d.error for d in diffs)
    scale = max(max(abs(d.predicted), abs(d.numeric)) for d in diffs)
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    failing = [d for d in diffs if d.error > d.bound]
    # The error and bound reported belong together: a failure's worst direction, else the largest of each (every
    # error within its own bound, so the largest error stays within the largest bound).
    if failing:
        max_abs, bound = worst.error, worst.bound
        max_rel = max_abs / scale if scale > 0 else math.inf
    else:
        bound = max(d.bound for d in diffs)
    if failing and all(d.kink for d in failing):
        return CheckResult(name, max_abs, max_rel, tolerance, True, n, method, bound, "cannot check",
                           f"L has a kink or a jump at this {name} (relu or abs at 0, sign at 0, say): its slope "
                           "differs on either side or L itself does, so no finite difference can check the "
                           "derivative there")
    if failing:
        return CheckResult(name, max_abs, max_rel, tolerance, False, n, method, bound, "fail",
                           "the analytic gradient disagrees with the finite differences")
    if max_abs == 0 and scale == 0:  # L did not move along any direction, and the gradient says so exactly
        return CheckResult(name, 0.0, 0.0, tolerance, True, n, method, bound)
    fuzz = max(d.fuzz for d in diffs)
    natural = max(d.natural for d in diffs)
    if fuzz > RESOLUTION * max(scale, natural) or not math.isfinite(fuzz):
        why = (f"rounding in L (±{_short(max(d.rounding for d in diffs))} on the slope) swamps the finite "
               f"difference of a gradient of size {_short(scale)}")
        if max(d.truncation for d in diffs) > max(d.rounding for d in diffs):
            why = f"L curves too sharply along {name} for a finite difference to resolve its slope"
        return CheckResult(name, max_abs, max_rel, tolerance, True, n, method, bound, "cannot check", why)
    return CheckResult(name, max_abs, max_rel, tolerance, True, n, method, bound)


def _short(x: float) -> str:
    return f"{x:.2g}"


def check_problem(problem: Problem, G: ArrayLike | None = None, wrt: Iterable[str] | str | None = None, *,
                  seed: int = 0, max_entries: int = 200) -> CheckReport:
    """For each operand θ: analytic dL/dθ vs (L(θ+hv) − L(θ−hv))/2h, L = Σ G ⊙ f (G = 1 when not given)."""
    g = np.ones(problem.f_shape, dtype=problem.dtype) if G is None else problem.upstream(G)
    names = problem.wrt_names(wrt)
    with np.errstate(all="ignore"):
        grads = problem.backward(g, names)
        base = Baseline(problem, g)
        return CheckReport(tuple(check_operand(problem, g, name, grads[name], seed=seed, max_entries=max_entries,
                                               base=base) for name in names))

