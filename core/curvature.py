"""Second derivatives of a scalar L, exact: the Hessian-vector product, the Hessian's blocks, their structure.

wxb writes the gradient of L as an expression in its own language (wxb.core.symbolic), so the second derivatives
are first derivatives of that expression, taken by the same engine:
- H·v = ∇_θ ⟨∇_θ L, v⟩: one backward pass over sum(gradient * V), never forming H;
- the block ∂²L/∂θᵢ∂θⱼ is the Jacobian of the gradient formula of θᵢ with respect to θⱼ (wxb.core.jacobian);
- its structure is read off the action formula ∇_θⱼ⟨∇_θᵢ L, V⟩ when that is linear in V as c · P @ V @ Q, whose
  matrix in vec (column-stacking) form is c · Qᵀ ⊗ P (2 · (X @ X.T) ⊗ I₃ for sum((W @ X + b - Y) ** 2) in W).
Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine import Problem
from .errors import TooLargeError, WxbError
from .expr import parse
from .notation import shape_text, subscript
from .shapes import Shape
from .symbolic import DeriveError, Term, derive, text

__all__ = ["Curvature", "DeriveError", "NoConvergenceError", "Spectrum", "action", "block", "curvature", "fresh",
           "hvp", "kron_text", "loss_expression", "spectrum"]

Array = np.ndarray[Any, np.dtype[Any]]


def fresh(stem: str, taken: set[str] | tuple[str, ...]) -> str:
    """A name not among `taken`: stem, else stem1, stem2, …"""
    if stem not in taken:
        return stem
    k = 1
    while f"{stem}{k}" in taken:
        k += 1
    return f"{stem}{k}"


def loss_expression(expression: str, loss: str | None, operands: tuple[str, ...], *, upstream: bool = False,
                    target: bool = False) -> tuple[str, str | None]:
    """The scalar L as an expression, and the name it gives the weight or target: L = f for a scalar f (loss None),
    Σ f, Σ f / N, Σ (f − T)² / N (target), Σ U ⊙ f (upstream: -G, held at its value, as U)."""
    if upstream:
        name = fresh("U", operands)  # G itself is the upstream gradient of the language, never an operand
        return f"sum({name} * ({expression}))", name
    if loss == "mse" or target:
        name = fresh("T", operands)
        return f"mean(({expression} - {name}) ** 2)", name
    if loss is None:
        return expression, None
    return f"{loss}({expression})", None


@dataclass(frozen=True)
class Curvature:
    """A scalar L over its operands, and the gradient dL/dθ of each θ in wrt as a formula of wxb's language."""

    loss: str
    operands: Mapping[str, Array]
    wrt: tuple[str, ...]
    gradients: Mapping[str, str]

    def shape(self, name: str) -> Shape:
        return tuple(self.operands[name].shape)

    def size(self, name: str) -> int:
        return math.prod(self.shape(name))

    @property
    def shapes(self) -> dict[str, Shape]:
        return {name: tuple(a.shape) for name, a in self.operands.items()}


def curvature(loss: str, operands: Mapping[str, Array], wrt: tuple[str, ...], *,
              labels: Mapping[str, str] | None = None) -> Curvature:
    """L's gradient formulas (derive), checked to evaluate to the engine's gradient at this point; a DeriveError
    where derive cannot write one. `labels` names an operand in messages (the held G as G)."""
    problem = Problem.build(loss, operands)
    if any(n != 1 for n in problem.f_shape):
        raise WxbError(f"the Hessian is of a scalar L, and {problem.expression.text} has shape "
                       f"{shape_text(problem.f_shape)}", hint="give --loss sum, mean or mse, or -G, or an "
                       "expression with one entry")
    shapes = {name: tuple(a.shape) for name, a in problem.operands.items()}
    derivation = derive(problem.expression, shapes, wrt=wrt)
    found = Curvature(loss, problem.operands, wrt, {name: derivation.text(name) for name in wrt})
    engine = problem.backward(None, wrt)
    for name in wrt:
        written = _value(found, found.gradients[name], {}, found.shape(name))
        if not np.allclose(written, engine[name], rtol=1e-7, atol=1e-9 * (1 + float(np.max(np.abs(engine[name]),
                                                                                     initial=0.0)))):
            raise _disagreement(found, name, written, np.asarray(engine[name]), labels or {})
    return found


def _disagreement(c: Curvature, name: str, written: Array, engine: Array, labels: Mapping[str, str]) -> WxbError:
    """Why the formula of dL/dθ and the engine's gradient differ here: NaN or ±inf given, a point where the formula
    does not hold (a kink: norm at 0) or where the gradient is not finite; else a bug of wxb."""
    given = [f"{labels.get(n, n)} has {_nonfinite(a)} entries" for n, a in c.operands.items() if not
             np.isfinite(a).all()]
    if given:
        return WxbError(", ".join(given) + ": the Hessian is not defined at this point",
                        hint="give finite values, or leave those entries out")
    if not np.isfinite(engine).all():
        return WxbError(f"dL/d{name} is not finite at this point ({_first(name, engine)}): the Hessian is not defined "
                        "there", hint="take the Hessian at another point, where L is smooth")
    if not np.isfinite(written).all():
        return WxbError(f"dL/d{name} = {c.gradients[name]} does not hold at this point ({_first(name, written)}, "
                        "where the gradient is finite: a kink, such as norm at 0)",
                        hint="take the Hessian at another point, where L is smooth")
    return WxbError(f"dL/d{name} = {c.gradients[name]} does not evaluate to the engine's gradient here",
                    hint="please report it; wxb hessian --vector cannot be trusted for this expression")


def _nonfinite(a: Array) -> str:
    """Which kinds of non-finite entries a holds: 'NaN', 'infinite' or 'NaN and infinite'."""
    return " and ".join(kind for kind, test in (("NaN", np.isnan), ("infinite", np.isinf)) if test(a).any())


def _first(name: str, values: Array) -> str:
    """Where values is first not finite, and what it is there: 'nan at W[0,1]'."""
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
    return f"{values[index]} at {name}[{','.join(map(str, index))}]" if index else f"{values[()]} at {name}"


def _value(c: Curvature, formula: str, extra: Mapping[str, Array], shape: Shape) -> Array:
    """A formula of the operands (and extra ones) evaluated, in `shape` (a formula constant along an axis is
    broadcast back; a 1-D operand's column is its own shape)."""
    expression = parse(formula)
    bound = {**c.operands, **extra}
    used = {name: bound[name] for name in expression.operands}
    value: Array = Problem.build(expression, used).forward()
    if value.size == math.prod(shape):
        return value.reshape(shape)
    spread: Array = np.broadcast_to(value.reshape(value.shape[-len(shape):] if len(shape) else ()), shape).copy()
    return spread


# ---- H·v: one backward pass over ⟨∇L, V⟩ ----

def _pairing(c: Curvature, vectors: Mapping[str, str]) -> str:
    """⟨∇_θ L, V⟩ = Σ_θ sum(dL/dθ * V_θ) as an expression, V_θ named by `vectors`."""
    return " + ".join(f"sum(({c.gradients[name]}) * {vectors[name]})" for name in vectors)


def pairing(c: Curvature, vectors: Mapping[str, Array]) -> tuple[Problem, tuple[str, ...]]:
    """The problem ⟨∇_θ L, v⟩ (each v bound under a fresh name), whose gradient with respect to θ is H·v, and the
    operands of wrt it depends on."""
    taken = set(c.operands)
    names: dict[str, str] = {}
    for name in vectors:
        names[name] = fresh(f"V{name}", taken)
        taken.add(names[name])
    expression = parse(_pairing(c, names))
    bound = {**c.operands, **{names[name]: np.asarray(v, dtype=float) for name, v in vectors.items()}}
    used = {name: bound[name] for name in expression.operands}
    return Problem.build(expression, used), tuple(name for name in c.wrt if name in expression.operands)


def hvp(c: Curvature, vectors: Mapping[str, Array]) -> dict[str, Array]:
    """(H·v)_θ = Σ_φ ∂²L/∂θ∂φ · v_φ for each θ in wrt, each of θ's shape; φ runs over the vectors given (the
    others are 0)."""
    problem, active = pairing(c, vectors)
    grads: Mapping[str, Array] = problem.backward(None, active).grads if active else {}
    return {name: (np.asarray(grads[name]) if name in active else np.zeros(c.shape(name))).reshape(c.shape(name))
            for name in c.wrt}


# ---- Blocks ∂²L/∂θᵢ∂θⱼ: the Jacobian of a gradient formula ----

def block(c: Curvature, first: str, second: str, *, limit: int) -> Array:
    """∂²L/∂θᵢ∂θⱼ, of shape θᵢ.shape + θⱼ.shape; refused (TooLargeError) above `limit` entries."""
    from . import jacobian

    shape = c.shape(first) + c.shape(second)
    if math.prod(shape) > limit:
        raise TooLargeError(f"∂²L/∂{first}∂{second} would have {math.prod(shape):,} entries (shape "
                            f"{shape_text(shape)}), over the limit of {limit:,}")
    expression = parse(c.gradients[first])
    if second not in expression.operands:
        return np.zeros(shape)
    gradient = Problem.build(expression, {name: c.operands[name] for name in expression.operands})
    tensor: Array = jacobian.dense(gradient, second, limit=limit)
    if math.prod(gradient.f_shape) == c.size(first):
        return np.asarray(tensor).reshape(shape)
    lead = np.asarray(tensor).reshape(gradient.f_shape[-len(c.shape(first)):] + c.shape(second)
                                      if c.shape(first) else c.shape(second))
    spread: Array = np.broadcast_to(lead, shape).copy()
    return spread


# ---- The action formula and its Kronecker form ----

def action(c: Curvature, first: str, second: str, vector: str = "V") -> tuple[str, Term]:
    """∇_θⱼ ⟨∇_θᵢ L, V⟩ = ∂²L/∂θⱼ∂θᵢ · V (V of θᵢ's shape) as a formula and its term: derive of derive."""
    name = fresh(vector, tuple(c.operands))
    expression = parse(f"sum(({c.gradients[first]}) * {name})")
    shapes = {**c.shapes, name: c.shape(first)}
    if second not in expression.operands:
        from .symbolic import ZERO

        return "0", ZERO
    term = derive(expression, shapes, wrt=[second], share=False).formulas[second]
    return text(term), term


Piece = tuple[float, Term | None, Term | None]  # c · left @ V @ right (None: the identity)


def _mentions(t: Term, name: str) -> bool:
    return (t.op == "var" and t.name == name) or any(_mentions(arg, name) for arg in t.args)


def _pieces(t: Term, v: str) -> list[Piece] | None:
    """t = Σ c · P @ V @ Q, as its pieces; None when t is not of that form (an elementwise product with V, V.T)."""
    if t.op == "var" and t.name == v:
        return [(1.0, None, None)]
    if t.op == "neg":
        inner = _pieces(t.args[0], v)
        return None if inner is None else [(-k, p, q) for k, p, q in inner]
    if t.op in ("add", "sub"):
        a, b = (_pieces(arg, v) for arg in t.args)
        if a is None or b is None:
            return None
        return a + ([(-k, p, q) for k, p, q in b] if t.op == "sub" else b)
    if t.op in ("mul", "div") and t.args[1].op == "const":
        inner = _pieces(t.args[0], v)
        k = t.args[1].value if t.op == "mul" else 1 / t.args[1].value
        return None if inner is None else [(k * c, p, q) for c, p, q in inner]
    if t.op == "mul" and t.args[0].op == "const":
        inner = _pieces(t.args[1], v)
        return None if inner is None else [(t.args[0].value * c, p, q) for c, p, q in inner]
    if t.op == "matmul":
        left, right = t.args
        if not _mentions(left, v):
            inner = _pieces(right, v)
            s, left = _unscaled(left)
            return None if inner is None else [(s * k, left if p is None else Term("matmul", (left, p)), q)
                                               for k, p, q in inner]
        if not _mentions(right, v):
            inner = _pieces(left, v)
            s, right = _unscaled(right)
            return None if inner is None else [(s * k, p, right if q is None else Term("matmul", (q, right)))
                                               for k, p, q in inner]
    return None


def _unscaled(t: Term) -> tuple[float, Term]:
    """A factor c · t as (c, t): 2 * W is (2, W)."""
    if t.op == "mul" and t.args[0].op == "const":
        k, inner = _unscaled(t.args[1])
        return t.args[0].value * k, inner
    if t.op == "neg":
        k, inner = _unscaled(t.args[0])
        return -k, inner
    return 1.0, t


def _transposed(t: Term) -> Term:
    """tᵀ with the transposes moved onto the operands ((X @ X.T)ᵀ = X @ X.T)."""
    if t.op == "T":
        return t.args[0]
    if t.op == "matmul":
        return Term("matmul", (_transposed(t.args[1]), _transposed(t.args[0])))
    if t.op in ("add", "sub"):
        return Term(t.op, (_transposed(t.args[0]), _transposed(t.args[1])))
    if t.op == "var" or t.op == "const":
        return t if t.op == "const" else Term("T", (t,))
    return Term("T", (t,))


def _factor(t: Term | None, n: int) -> str:
    if t is None:
        return f"I{subscript(n)}"
    written = text(t)
    return written if t.op in ("var", "T") else f"({written})"


def _number(k: float) -> str:
    from .symbolic import number_text

    return number_text(k)


def kron_text(term: Term, vector: str, shape: Shape) -> str | None:
    """The matrix of V ↦ term in vec (column-stacking) form: c · Qᵀ ⊗ P for term = c · P @ V @ Q (V of `shape`);
    None when term is not of that form."""
    pieces = _pieces(term, vector)
    if pieces is None or len(shape) > 2:
        return None
    m = shape[0] if shape else 1
    n = shape[1] if len(shape) == 2 else 1
    parts = []
    for k, p, q in pieces:
        if len(shape) < 2 or (n == 1 and q is None):
            if q is not None:
                return None
            body = _factor(p, m) if p is not None or m > 1 else "1"
            if p is not None and pieces == [(k, p, q)] and k == 1:
                body = text(p)
        else:
            body = f"{_factor(None if q is None else _transposed(q), n)} ⊗ {_factor(p, m)}"
            if p is None and q is None:
                body = f"I{subscript(m * n)}"
        parts.append((k, body))
    written = ""
    for i, (k, body) in enumerate(parts):
        magnitude = abs(k) if i else k
        scaled = body if magnitude == 1 else f"{_number(magnitude)} · {body}"
        if not i:
            written = ("-" + body if k == -1 else scaled)
        else:
            written += (" - " if k < 0 else " + ") + scaled
    return written


# ---- The curvature summary ----

@dataclass(frozen=True)
class Spectrum:
    """The extreme eigenvalues of H (symmetric), and what they say: definiteness and the condition number."""

    smallest: float
    largest: float
    size: int
    method: str
    nearest_zero: float | None = None  # min |λ|, where every eigenvalue is known

    @property
    def tolerance(self) -> float:
        """|λ| at most this is taken as 0: 1e-10 of the largest |λ| (relative at any scale, subnormal included)."""
        return 1e-10 * max(abs(self.smallest), abs(self.largest))

    @property
    def definiteness(self) -> str:
        """positive definite, positive semidefinite, negative (semi)definite or indefinite, at this point."""
        tol = self.tolerance
        if self.smallest > tol:
            return "positive definite"
        if self.largest < -tol:
            return "negative definite"
        if self.smallest >= -tol and self.largest > tol:
            return "positive semidefinite"
        if self.largest <= tol and self.smallest < -tol:
            return "negative semidefinite"
        if self.smallest >= -tol and self.largest <= tol:
            return "zero"
        return "indefinite"

    @property
    def singular(self) -> bool | None:
        """Whether H is singular (an eigenvalue taken as 0, as definiteness takes it); None when Lanczos found H
        indefinite (|λ|min is then not among the extremes)."""
        if self.nearest_zero is not None:
            return self.nearest_zero <= self.tolerance
        return None if self.definiteness == "indefinite" else not self.definiteness.endswith(" definite")

    @property
    def meaning(self) -> str:
        return {"positive definite": "L is locally convex here (a strict local minimum if the gradient is 0)",
                "negative definite": "L is locally concave here (a strict local maximum if the gradient is 0)",
                "positive semidefinite": "L is convex along every direction here, flat along some",
                "negative semidefinite": "L is concave along every direction here, flat along some",
                "zero": "L is flat to second order here",
                "indefinite": "L curves up along some directions and down along others (a saddle if the "
                              "gradient is 0)"}[self.definiteness]

    @property
    def condition(self) -> float | None:
        """|λ|max / |λ|min: inf when H is singular (semidefinite, or an eigenvalue within the tolerance of 0); None
        when Lanczos found H indefinite."""
        singular = self.singular
        if singular is None:
            return None
        if singular:
            return math.inf
        low = self.nearest_zero if self.nearest_zero is not None else min(abs(self.smallest), abs(self.largest))
        return max(abs(self.smallest), abs(self.largest)) / low


class NoConvergenceError(WxbError):
    """Lanczos (ARPACK) did not converge on an extreme eigenvalue of H."""


def dense_spectrum(matrix: Array, labels: Sequence[str] = ()) -> Spectrum:
    """Every eigenvalue of the symmetric H (numpy.linalg.eigvalsh), kept at its extremes; refused where H is not
    finite (its rows named by `labels`)."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        rows = [labels[int(i)] if labels else str(i) for i in np.flatnonzero(bad.any(axis=1))]
        counts = ", ".join(f"{n:,} {kind}" for kind, n in (("NaN", np.isnan(matrix).sum()),
                                                           ("infinite", np.isinf(matrix).sum())) if n)
        raise WxbError(f"H holds non-finite entries at this point ({counts}, in the rows of {', '.join(rows[:3])}"
                       f"{', …' if len(rows) > 3 else ''}): it has no eigenvalues here",
                       hint="take the Hessian at another point, where L is smooth")
    values = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    return Spectrum(float(values[0]), float(values[-1]), matrix.shape[0], "eigvalsh (dense)",
                    float(np.min(np.abs(values))))


def spectrum(c: Curvature, *, tol: float = 1e-10) -> Spectrum:
    """The extreme eigenvalues of H by Lanczos over Hessian-vector products (scipy.sparse.linalg.eigsh), H never
    formed."""
    from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh

    sizes = [c.size(name) for name in c.wrt]
    n = sum(sizes)

    def product(flat: Array) -> Array:
        parts = np.split(np.asarray(flat, dtype=float).reshape(-1), np.cumsum(sizes)[:-1])
        vectors = {name: part.reshape(c.shape(name)) for name, part in zip(c.wrt, parts, strict=True)}
        hv = np.concatenate([h.reshape(-1) for h in hvp(c, vectors).values()])
        if not np.isfinite(hv).all():
            raise WxbError("H·v is not finite at this point: H holds non-finite entries, and has no eigenvalues here",
                           hint="take the Hessian at another point, where L is smooth")
        return hv

    operator = LinearOperator((n, n), matvec=product, dtype=float)
    found: dict[str, float] = {}
    for which in ("LA", "SA"):
        try:
            found[which] = float(eigsh(operator, k=1, which=which, tol=tol, return_eigenvectors=False)[0])
        except ArpackError:  # ArpackNoConvergence among them: ARPACK's tolerance is relative, hard to meet at λ = 0
            raise NoConvergenceError(f"Lanczos did not converge on the extreme eigenvalues of H ({n:,} × {n:,}; the "
                                     f"{'largest' if which == 'LA' else 'smallest'} one)", hint="form H densely on a "
                                     "smaller problem (eigvalsh finds every eigenvalue), or take H·v") from None
    return Spectrum(found["SA"], found["LA"], n, "Lanczos on H·v (scipy eigsh)")


def structure(c: Curvature, first: str, second: str) -> tuple[str, str | None, bool]:
    """The block ∂²L/∂θᵢ∂θⱼ as its action on V (θⱼ's shape): the formula, its Kronecker form in vec form when it
    has one, and whether it is constant (the formula names no operand differentiated)."""
    vector = fresh("V", tuple(c.operands))
    formula, term = action(c, second, first, vector)
    constant = not any(_mentions(term, name) for name in c.wrt)
    if formula == "0":
        return formula, "0", True
    fake = {name: np.broadcast_to(np.zeros((), dtype=float), shape) for name, shape in c.shapes.items()}
    expression = parse(formula)
    used = {name: (np.broadcast_to(0.0, c.shape(second)) if name == vector else fake[name])
            for name in expression.operands}
    shaped = Problem.build(expression, used).f_shape
    own = c.shape(first)
    fits = shaped == own or (len(own) == 1 and shaped == (*own, 1))
    kron = kron_text(term, vector, c.shape(second)) if fits and first == second else None
    return formula, kron, constant
