"""Judging a gradient the user derived: right, or wrong with the kind of mistake a person makes.

The claim's values and the true gradient's are given at several points (draws): the user's own numbers, if any,
then seeded generic matrices. A claim is right when it agrees with the gradient at every draw. When it does not,
each common mistake is tried in turn against the true gradient, and the first that explains every draw is the
diagnosis: the wrong shape (f's shape where the operand is broadcast: the missing sum; the transpose; another
shape), the transpose, a constant factor, right only for a symmetric argument, right at the user's numbers by
chance. Arrays in, a verdict out: no formulas are parsed and nothing is printed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .engine import Problem
from .errors import WxbError
from .expr import Expression
from .losses import upstream_gradient
from .notation import shape_text
from .shapes import aligned, broadcast_axes, unbroadcast

Array = np.ndarray[Any, np.dtype[Any]]
Point = tuple[dict[str, Array], Array, Array | None]  # operands, G, and mse's target T (which a claim may read)

RTOL = 1e-7  # the claim and the gradient are the same numbers computed in another order: far below any mistake


@dataclass(frozen=True)
class Points:
    """One claim and its operand's true gradient at each draw (the user's numbers first when `user` is True);
    `symmetric`: the same at draws where the claim's matrix operands are symmetric, when any is square."""

    claimed: Sequence[Array]
    true: Sequence[Array]
    user: bool = False
    symmetric: tuple[Sequence[Array], Sequence[Array]] | None = None
    square: tuple[str, ...] = ()  # the square operands the symmetric draws make symmetric


@dataclass(frozen=True)
class Verdict:
    """right; else kind (shape, missing-sum, transposed, factor, symmetric-only, by-chance, wrong) and a sentence
    saying what is wrong; worst: the largest disagreement |claim − gradient| at the draw where it is largest,
    `at` that draw's index (0 is the user's numbers when given) and `where` the entry."""

    right: bool
    kind: str
    message: str
    worst: float = 0.0
    at: int = 0
    where: tuple[int, ...] = ()


def close(a: Array, b: Array) -> bool:
    """a ≈ b entry by entry, relative to the larger of the two (and exact for zeros)."""
    if a.shape != b.shape:
        return False
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return bool(np.array_equal(a, b, equal_nan=True))
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return bool(np.max(np.abs(a - b), initial=0.0) <= RTOL * scale)


def as_gradient(claimed: Array, shape: tuple[int, ...]) -> Array:
    """The claim in its operand's shape when it only differs by the 1-D reading: (n,) for (n, 1) and back."""
    if claimed.shape != shape and 1 in (claimed.ndim, len(shape)) and claimed.size == int(np.prod(shape)) and \
            [n for n in claimed.shape if n != 1] == [n for n in shape if n != 1]:
        return claimed.reshape(shape)
    return claimed


def spread(claimed: Array, shape: tuple[int, ...]) -> Array | None:
    """A smaller claim broadcast to its operand's shape, as derive writes a gradient constant along an axis (a row
    sum(X, axis=1).T for a matrix W, a number for b), by wxb's rule (a 1-D claim is a column); None when it does
    not broadcast to it."""
    small = aligned(claimed.shape, shape) if claimed.ndim <= len(shape) else claimed.shape
    return np.broadcast_to(claimed.reshape(small), shape) if _broadcasts(small, shape) else None


def judge(name: str, points: Points) -> Verdict:
    """The verdict on the claim dL/d`name` from its values and the gradient's at every draw."""
    true = [np.asarray(t, dtype=np.float64) for t in points.true]
    claimed = [as_gradient(np.asarray(c, dtype=np.float64), t.shape) for c, t in zip(points.claimed, true,
                                                                                     strict=True)]
    if claimed[0].ndim == 0 and true[0].ndim:  # a number stands for its broadcast, judged as any claim is
        claimed = [np.broadcast_to(c, t.shape) for c, t in zip(claimed, true, strict=True)]
    if claimed[0].shape != true[0].shape:
        spreads = [spread(c, t.shape) for c, t in zip(claimed, true, strict=True)]
        if all(s is not None and close(s, t) for s, t in zip(spreads, true, strict=True)):
            return Verdict(True, "right", f"at {_draws(len(true), points.user)} (broadcast to {name}'s shape "
                           f"{shape_text(true[0].shape)})")
        return _wrong_shape(name, claimed, true)
    agree = [close(c, t) for c, t in zip(claimed, true, strict=True)]
    if all(agree):
        return Verdict(True, "right", f"at {_draws(len(true), points.user)}")
    # the largest disagreement at the user's numbers when it is there (what they can look at), else at a draw
    worst, at, where = _worst(claimed[:1], true[:1]) if points.user and not agree[0] else _worst(claimed, true)
    for diagnose in (_transposed, _factor, _symmetric_only, _by_chance):
        found = diagnose(name, claimed, true, agree, points)
        if found:
            kind, message = found
            return Verdict(False, kind, message, worst, at, where)
    return Verdict(False, "wrong", "it matches no common mistake (a transpose, a factor, a missing sum, a "
                   "symmetric-only rule)", worst, at, where)


def _draws(n: int, user: bool) -> str:
    generic = n - 1 if user else n
    parts = (["your numbers"] if user else []) + ([f"{generic} generic draws"] if generic else [])
    return " and ".join(parts)


def _worst(claimed: list[Array], true: list[Array]) -> tuple[float, int, tuple[int, ...]]:
    """The largest |claim − gradient|, the draw it is at and its entry."""
    gaps = [np.abs(c - t) for c, t in zip(claimed, true, strict=True)]
    at = max(range(len(gaps)), key=lambda i: float(np.nanmax(gaps[i], initial=0.0)))
    gap = gaps[at]
    if gap.size == 0:
        return 0.0, at, ()
    where = np.unravel_index(int(np.nanargmax(gap)), gap.shape) if not np.isnan(gap).all() else (0,) * gap.ndim
    return float(gap[where]), at, tuple(int(i) for i in where)


def _wrong_shape(name: str, claimed: list[Array], true: list[Array]) -> Verdict:
    """Why a claim of another shape is wrong: the missing sum over broadcast axes, the transpose, or the shape."""
    have, want = claimed[0].shape, true[0].shape
    column = aligned(want, have)  # a 1-D operand broadcast beside a matrix f is a column (wxb's rule)
    dropped, kept = broadcast_axes(column, have) if _broadcasts(column, have) else ((), ())
    summed = dropped + kept
    if summed and all(close(unbroadcast(c, column).reshape(want), t) for c, t in zip(claimed, true, strict=True)):
        axes = ", ".join(str(a) for a in summed)
        how = f"sum over axis {axes}" if len(summed) == 1 else f"sum over axes {axes}"
        return Verdict(False, "missing-sum", f"it has f's shape {shape_text(have)}, but {name} {shape_text(want)} "
                       f"is broadcast: {how} (the chain rule adds up every place {name} is used)")
    if len(have) >= 2 and have[:-2] + have[-2:][::-1] == want and all(
            close(np.swapaxes(c, -1, -2), t) for c, t in zip(claimed, true, strict=True)):
        return Verdict(False, "transposed", f"it is the transpose of the gradient: {shape_text(have)}, where a "
                       f"gradient has its operand's shape {shape_text(want)}")
    return Verdict(False, "shape", f"it has shape {shape_text(have)}, but a gradient has its operand's shape: "
                   f"{name} is {shape_text(want)}")


def _broadcasts(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    try:
        return tuple(np.broadcast_shapes(small, big)) == big and small != big
    except ValueError:
        return False


def _transposed(name: str, claimed: list[Array], true: list[Array], agree: list[bool],
                points: Points) -> tuple[str, str] | None:
    shape = true[0].shape
    if len(shape) < 2 or shape[-1] != shape[-2] or shape[-1] < 2:
        return None
    if all(close(np.swapaxes(c, -1, -2), t) for c, t in zip(claimed, true, strict=True)):
        return "transposed", "it is the transpose of the gradient (square, so the shapes agree)"
    return None


def _factor(name: str, claimed: list[Array], true: list[Array], agree: list[bool],
            points: Points) -> tuple[str, str] | None:
    """claim = k · gradient with one constant k ≠ 1 at every draw."""
    ratios = []
    for c, t in zip(claimed, true, strict=True):
        norm = float(np.vdot(t, t))
        if norm == 0.0 or not np.isfinite(norm):
            return None
        ratios.append(float(np.vdot(c, t)) / norm)
    k = ratios[0]
    if k == 0.0 or abs(k - 1.0) <= RTOL or not all(abs(r - k) <= RTOL * abs(k) for r in ratios):
        return None
    if not all(close(c, k * t) for c, t in zip(claimed, true, strict=True)):
        return None
    return "factor", f"it is off by a constant factor: {_number(k)} times the gradient"


def _number(k: float) -> str:
    """k as a person writes it: −1, 2, 1/2, 0.37."""
    fraction = Fraction(k).limit_denominator(12)
    if abs(float(fraction) - k) <= RTOL * abs(k):
        return str(fraction).replace("-", "−")
    return f"{k:.4g}".replace("-", "−")


def _symmetric_only(name: str, claimed: list[Array], true: list[Array], agree: list[bool],
                    points: Points) -> tuple[str, str] | None:
    generic = agree[1:] if points.user else agree
    if points.symmetric is None or all(generic):  # right at every generic draw: not a symmetric-only rule
        return None
    at_claimed, at_true = points.symmetric
    if all(close(as_gradient(np.asarray(c, np.float64), np.shape(t)), np.asarray(t, np.float64))
           for c, t in zip(at_claimed, at_true, strict=True)):
        which = ", ".join(points.square) or "the square operands"
        return "symmetric-only", (f"it holds only where {which} {'is' if len(points.square) == 1 else 'are'} "
                                  "symmetric; in general the gradient has both A and Aᵀ")
    return None


def _by_chance(name: str, claimed: list[Array], true: list[Array], agree: list[bool],
               points: Points) -> tuple[str, str] | None:
    if points.user and agree[0]:
        return "by-chance", ("it agrees at your numbers, but not at generic draws of the same shapes: there "
                             "by chance, not as a formula")
    return None


# ---- The points a claim is judged at ----

def satisfies(a: Array, kind: str) -> bool:
    """Whether an operand is what --assume says it is (symmetric, spd, diagonal, orthogonal), to rounding."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return False
    eye = np.eye(a.shape[-1])
    scale = max(float(np.max(np.abs(a), initial=0.0)), 1.0)
    transposed = np.swapaxes(a, -1, -2)
    if kind == "orthogonal":
        return bool(np.allclose(a @ transposed, eye, atol=1e-8))
    if kind == "diagonal":
        return bool(np.allclose(a * (1 - eye), 0, atol=1e-12 * scale))
    symmetric = bool(np.allclose(a, transposed, atol=1e-12 * scale))
    if kind == "spd":
        return symmetric and bool(np.all(np.linalg.eigvalsh(a) > 0))
    return symmetric


DRAWS = 4


def generic(shape: tuple[int, ...], rng: np.random.Generator, assume: str | None = None,
            positive: bool = False) -> Array:
    """A generic array of `shape`: no symmetry, no orthogonality, no repeated values; a square matrix well
    conditioned (U·diag(s)·Vᵀ with singular values in [1, 2]); positive entries where the domain asks for them;
    or one that satisfies the assumption."""
    if len(shape) >= 2 and shape[-1] == shape[-2] and (assume or not positive):
        n = shape[-1]
        u: Array = np.linalg.qr(rng.normal(size=(*shape[:-2], n, n)))[0]
        v: Array = np.linalg.qr(rng.normal(size=(*shape[:-2], n, n)))[0]
        s = rng.uniform(1.0, 2.0, size=(*shape[:-2], 1, n))
        if assume == "orthogonal":
            return u
        if assume == "diagonal":
            return np.eye(n) * s
        if assume == "spd":
            return (v * s) @ np.swapaxes(v, -1, -2)
        square = (u * s) @ np.swapaxes(v, -1, -2)
        return (square + np.swapaxes(square, -1, -2)) / 2 if assume == "symmetric" else square
    if positive:
        return rng.uniform(0.5, 2.0, size=shape)
    return rng.normal(size=shape)


def drawn(expression: Expression, shapes: Mapping[str, tuple[int, ...]], rng: np.random.Generator,
          assume: Mapping[str, str], positive: bool) -> dict[str, Array]:
    """One generic draw of every operand; an operand that a row reads as class labels (cross_entropy's y) is
    drawn as labels of its scores' rows."""
    operands = {name: generic(shape, rng, assume.get(name), positive) for name, shape in shapes.items()}
    for name, classes in labelled(Problem.build(expression, operands)).items():
        operands[name] = rng.integers(0, classes, size=shapes[name]).astype(np.float64)
    return operands


def labelled(problem: Problem) -> dict[str, int]:
    """The operands a row takes directly as class labels, with the number of classes (its scores' rows)."""
    from .primitives import PRIMITIVES
    from .shapes import as_matrix_shape

    found = {}
    for node in problem.order:
        for i in PRIMITIVES[node.op].labels if node.op in PRIMITIVES else ():
            if node.args[i].op == "var":
                found[node.args[i].name] = as_matrix_shape(problem.shapes[id(node.args[1 - i])])[0]
    return found


def symmetrised(operands: dict[str, Array]) -> dict[str, Array] | None:
    """The operands with every square matrix made symmetric, (A + Aᵀ)/2; None when none is square."""
    square = [name for name, a in operands.items() if a.ndim >= 2 and a.shape[-1] == a.shape[-2] > 1]
    if not square:
        return None
    return {name: (a + np.swapaxes(a, -1, -2)) / 2 if name in square else a for name, a in operands.items()}


@dataclass(frozen=True)
class Claim:
    """dL/d`name` = `formula` (the expression language, G the upstream gradient), or its values given as data."""

    name: str
    formula: Expression | None = None
    values: Array | None = None


def assess(expression: Expression, claims: Sequence[Claim], shapes: Mapping[str, tuple[int, ...]], *,
           user: Mapping[str, Array] | None = None, G: Array | None = None, loss: str | None = None,
           target: Array | None = None, assume: Mapping[str, str] | None = None, draws: int = DRAWS,
           seed: int = 0) -> dict[str, Verdict]:
    """Each claim judged at the user's numbers (when given) and at `draws` seeded generic draws of the operands'
    shapes (which honour `assume`). L is Σ G ⊙ f: G given, else from the loss (default sum); where a claim reads G
    itself, the draws draw G too, so that a formula right only for G = 1 is caught."""
    assume = dict(assume or {})
    reads_G = any(c.formula is not None and "G" in c.formula.operands for c in claims)
    points: list[Point] = []
    if user is not None:
        points.append((dict(user), _upstream(expression, user, G, loss, target),
                       None if target is None else np.asarray(target)))
    positive = False
    for k in range(draws if all(c.formula is not None for c in claims) else 0):
        rng = np.random.default_rng([seed, k])
        operands = drawn(expression, shapes, rng, assume, positive)
        problem = Problem.build(expression, operands)
        if not np.isfinite(problem.forward()).all():
            if positive:
                raise WxbError(f"f = {expression.text} is not finite at generic positive operands",
                               hint="give the operands' values, where it is")
            positive = True
            rng = np.random.default_rng([seed, k])
            operands = drawn(expression, shapes, rng, assume, True)
        drawn_G = rng.normal(size=problem.f_shape) if (reads_G or G is not None) and loss is None else None
        drawn_T = rng.normal(size=problem.f_shape) if loss == "mse" else None
        points.append((operands, _upstream(expression, operands, drawn_G, loss, drawn_T), drawn_T))
    at_symmetric = [(s, g, t) for s, g, t in ((symmetrised(ops), g, t) for ops, g, t in
                                              points[int(user is not None):]) if s is not None]
    verdicts = {}
    for claim in claims:
        try:
            claimed = [_claimed(claim, ops, g, t) for ops, g, t in points] if claim.formula is not None else \
                [np.asarray(claim.values)]
        except WxbError as exc:  # the claim does not even compute with these shapes
            verdicts[claim.name] = Verdict(False, "shape", f"it cannot be computed: {exc}")
            continue
        true = [_gradient(expression, ops, g, claim.name) for ops, g, _ in points[:len(claimed)]]
        symmetric = None
        if claim.formula is not None and at_symmetric:
            symmetric = ([_claimed(claim, s, g, t) for s, g, t in at_symmetric],
                         [_gradient(expression, s, g, claim.name) for s, g, _ in at_symmetric])
        square = tuple(n for n, shape in shapes.items() if len(shape) >= 2 and shape[-1] == shape[-2] > 1)
        verdict = judge(claim.name, Points(claimed, true, user=user is not None, symmetric=symmetric,
                                           square=square))
        if user is not None:
            verdict = differenced(verdict, expression, points[0], claim.name, claimed, true)
        verdicts[claim.name] = verdict
    return verdicts


def differenced(verdict: Verdict, expression: Expression, point: Point, name: str,
                claimed: Sequence[Array], true: Sequence[Array]) -> Verdict:
    """The verdict at the user's numbers held against central finite differences of L (check's bounds): where L
    has a kink there, a claim that differs from wxb's subgradient only there cannot be checked (not wrong); a
    right claim says when the differences agree."""
    from .gradcheck import check_operand

    operands, G, _ = point
    values = np.asarray(claimed[0], dtype=np.float64)
    if values.shape != np.shape(true[0]):
        return verdict
    problem = Problem.build(expression, operands)
    if not verdict.right:
        elsewhere = all(close(np.asarray(c, dtype=np.float64).reshape(np.shape(t)), np.asarray(t, dtype=np.float64))
                        for c, t in zip(claimed[1:], true[1:], strict=True))
        own = check_operand(problem, G, name, np.asarray(true[0]))
        if elsewhere and own.verdict == "cannot check" and "kink" in own.reason:
            return Verdict(True, "cannot check", f"at your numbers: L has a kink in {name} there, where a "
                           f"derivative may be any subgradient (wxb's differs); it agrees at the {len(true) - 1} "
                           "generic draws", verdict.worst, verdict.at, verdict.where)
        return verdict
    result = check_operand(problem, G, name, values.reshape(np.shape(true[0])))
    if result.verdict == "pass":
        return Verdict(True, verdict.kind, verdict.message + "; finite differences agree at your numbers")
    return verdict


def _upstream(expression: Expression, operands: Mapping[str, Array], G: Array | None, loss: str | None,
              target: Array | None) -> Array:
    """G = ∂L/∂f at these operands: given, from the loss, or 1 (L = Σ f)."""
    problem = Problem.build(expression, operands)
    if G is not None:
        return problem.upstream(G)
    return upstream_gradient(problem.forward(), loss, target)


def _gradient(expression: Expression, operands: Mapping[str, Array], G: Array, name: str) -> Array:
    return Problem.build(expression, operands).backward(G, [name]).grads[name]


def _claimed(claim: Claim, operands: Mapping[str, Array], G: Array, T: Array | None = None) -> Array:
    assert claim.formula is not None
    given = {**operands, "G": G, **({"T": T} if T is not None else {})}
    return Problem.build(claim.formula, {name: given[name] for name in claim.formula.operands}).forward()
