"""The linear-algebra rows: the matrix product, the transpose and the functions of square matrices, batched over
leading axes as np.matmul is (a 1-D operand is a column on either side).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError, SingularMatrixError
from ..nodes import Node
from ..notation import shape_text
from ..shapes import (
    Array,
    Shape,
    as_matrix,
    as_matrix_shape,
    broadcast_conflict,
    matmul_shape,
    matrix_arg,
    square_arg,
    summed_matmul,
    transpose_shape,
    unbroadcast,
)
from .batch import MATMUL, MATRIX, TRANSPOSE, WHOLE
from .row import JVP, VJP, Forward, Primitive, ShapeRule, solve_accumulation, swap, transpose


def trace_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """tr X: the batch axes (the last two summed along their diagonal)."""
    return matrix_arg(node, shapes[0])[:-2]


def det_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """det X and log |det X|: the batch axes of square matrices."""
    return square_arg(node, shapes[0])[:-2]


def inv_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """X⁻¹: X's shape (square matrices; a 1-D operand of one entry is a 1×1 column)."""
    square_arg(node, shapes[0])
    return shapes[0]


def solve_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """A⁻¹B: A square (..., n, n), B (..., n, k) or (n,) (a column), batch axes broadcast; B's shape back."""
    a = square_arg(node, shapes[0])
    b = matrix_arg(node, shapes[1], 1)
    if b[-2] != a[-1]:
        raise ShapeError(f"{node.text}: {node.args[0].text} {shape_text(shapes[0])} and {node.args[1].text} "
                         f"{shape_text(shapes[1])} do not fit: A⁻¹B needs B with {a[-1]} rows, not {b[-2]}")
    conflict = broadcast_conflict(a[:-2], b[:-2])
    if conflict is not None:
        axis, s, n = conflict
        raise ShapeError(f"{node.text}: the batch axes of {node.args[0].text} {shape_text(shapes[0])} and "
                         f"{node.args[1].text} {shape_text(shapes[1])} do not broadcast on batch axis {axis} "
                         f"({s} and {n})")
    batch = tuple(np.broadcast_shapes(a[:-2], b[:-2]))
    return (*batch, b[-2]) if len(shapes[1]) == 1 else (*batch, *b[-2:])


def diag_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """diag: a vector (n,) → the matrix (n, n); a matrix (..., m, n) → its diagonal (..., min(m, n))."""
    (x,) = shapes
    if not x:
        raise ShapeError(f"{node.text}: {node.args[0].text} is a scalar (shape ()); diag needs a vector or a matrix")
    return (x[0], x[0]) if len(x) == 1 else (*x[:-2], min(x[-2:]))


def eye_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """eye: the identity (n, n) of a vector (n,) or of a square matrix (n, n)."""
    (x,) = shapes
    if len(x) == 1 or (len(x) == 2 and x[0] == x[1]):
        return (x[0], x[0])
    raise ShapeError(f"{node.text}: {node.args[0].text} has shape {shape_text(x)}; eye takes a square matrix or a "
                     "vector, and gives the identity of its size")


def as_matrices(w: Array, x: Array, g: Array) -> tuple[Array, Array, Array]:
    """w, x as matrices (1-D: a column) and g with the axis np.matmul drops for a 1-D x put back."""
    return as_matrix(w), as_matrix(x), (g[..., np.newaxis] if x.ndim == 1 else g)


def matmul(node: Node, w: Array, x: Array) -> Array:
    """W·X with a 1-D W a column (m, 1); a 1-D X is a column as np.matmul has it."""
    out: Array = np.matmul(as_matrix(w), x)
    return out


def matmul_vjp_left(node: Node, g: Array, ans: Array, w: Array, x: Array) -> Array:
    """∂L/∂W = G·Xᵀ, summed over the batch axes W was broadcast along."""
    w2, x2, g2 = as_matrices(w, x, g)
    grad: Array = summed_matmul(g2, swap(x2), w2.shape[:-2]).reshape(w.shape)
    return grad


def matmul_vjp_right(node: Node, g: Array, ans: Array, w: Array, x: Array) -> Array:
    """∂L/∂X = Wᵀ·G, summed over the batch axes X was broadcast along."""
    w2, x2, g2 = as_matrices(w, x, g)
    grad: Array = summed_matmul(swap(w2), g2, x2.shape[:-2]).reshape(x.shape)
    return grad


def matmul_unsummed(index: int, shapes: Sequence[Shape], g_shape: Shape) -> Shape:
    """The shape of G·Xᵀ (or Wᵀ·G) per batch entry, before the batch axes are summed to the argument's shape."""
    w2, x2 = as_matrix_shape(shapes[0]), as_matrix_shape(shapes[1])
    g2 = g_shape + ((1,) if len(shapes[1]) == 1 else ())
    own = shapes[index]
    other = x2 if index == 0 else w2
    return tuple(np.broadcast_shapes(g2[:-2], other[:-2])) + (own[-2:] if len(own) >= 2 else own)


def matmul_accumulation(shapes: Sequence[Shape]) -> float:
    """A product over k collects k + 1 roundings."""
    return float(as_matrix_shape(shapes[1])[-2] + 1)


def singular_error(node: Node, a: Array) -> SingularMatrixError:
    """The error for a singular matrix a, the first argument of node: its text, shape and condition number."""
    return SingularMatrixError(f"{node.text}: {node.args[0].text} {shape_text(a.shape)} is singular to working "
                               f"precision ({a.dtype}: {condition_text(a)})",
                               hint="a singular matrix has no inverse or log-determinant; check the operand, or "
                                    "add a small multiple of the identity")


def condition_text(a: Array) -> str:
    """κ(a) as the bound 1/ε it exceeds: beyond 1/ε its digits are rounding noise that differs between BLAS builds.
    Only a matrix refused for another reason (a solution that overflows) shows its own, to two digits."""
    with np.errstate(all="ignore"):
        cond = float(np.max(np.linalg.cond(as_matrix(a))))
    bound = 1 / float(np.finfo(a.dtype).eps)
    if not math.isfinite(cond) or cond > bound:
        return f"condition number above 1/ε = {bound:.2g}"
    return f"condition number {cond:.2g}"


def finite(a: Array) -> Any:
    """True when every entry of a is finite (a 0-d array, not a float: a lazy backend may keep it lazy)."""
    return np.all(np.isfinite(a))


def check_inverse(node: Node, args: Sequence[Array], value: Array) -> None:
    """inv and solve: refuse a finite matrix whose result is not finite, or (inv) whose 1-norm condition number
    ‖X‖₁‖X⁻¹‖₁ (exact, from the inverse at hand) exceeds 1/ε."""
    if not (finite(args[0]) and all(finite(a) for a in args[1:])):
        return
    if not finite(value):
        raise singular_error(node, args[0])
    if len(args) == 1 and value.size:
        with np.errstate(all="ignore"):
            cond = np.linalg.norm(as_matrix(args[0]), 1, axis=(-2, -1)) * np.linalg.norm(as_matrix(value), 1,
                                                                                           axis=(-2, -1))
        if np.any(cond * np.finfo(value.dtype).eps > 1):
            raise singular_error(node, args[0])


def check_logdet(node: Node, args: Sequence[Array], value: Array) -> None:
    """logdet: refuse a finite matrix whose determinant is 0 (log |det| = −∞)."""
    if finite(args[0]) and np.any(np.isneginf(value)):
        raise singular_error(node, args[0])


def trace(node: Node, x: Array) -> Array:
    """tr X = Σᵢ Xᵢᵢ over the last two axes (a 1-D operand is a column)."""
    out: Array = np.trace(as_matrix(x), axis1=-2, axis2=-1)
    return out


def trace_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = G·I (the identity of X's last two axes, for each batch entry)."""
    m = as_matrix(x)
    grad: Array = (g[..., np.newaxis, np.newaxis] * np.eye(m.shape[-2], m.shape[-1], dtype=x.dtype))
    out: Array = grad.reshape(x.shape)
    return out


def logdet(node: Node, x: Array) -> Array:
    """log |det X| (NumPy's slogdet): finite for a negative determinant too."""
    _, value = np.linalg.slogdet(as_matrix(x))
    out: Array = value
    return out


def cofactors(x: Array) -> Array:
    """The cofactor matrix adj(X)ᵀ (= det X · X⁻ᵀ where X is invertible), exact for a singular X too, from the
    SVD X = U·S·Vᵀ: adj(X)ᵀ = det(U)·det(V)·U·diag(∏_{j≠i} s_j)·Vᵀ."""
    if x.shape[-1] == 0:
        return x
    u, s, vt = np.linalg.svd(x)
    ones = np.ones_like(s[..., :1])
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(s[..., 1:], axis=-1)], axis=-1), axis=-1), axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    out: Array = sign[..., np.newaxis, np.newaxis] * np.matmul(u * (before * after)[..., np.newaxis, :], vt)
    return out


def det_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = G·adj(X)ᵀ = G·det X·X⁻ᵀ (the cofactors: exact at a singular X too)."""
    grad: Array = g[..., np.newaxis, np.newaxis] * cofactors(as_matrix(x))
    out: Array = grad.reshape(x.shape)
    return out


def logdet_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = G·X⁻ᵀ."""
    grad: Array = g[..., np.newaxis, np.newaxis] * swap(np.linalg.inv(as_matrix(x)))
    out: Array = grad.reshape(x.shape)
    return out


def inv_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """G_X = −X⁻ᵀ·G·X⁻ᵀ (ans = X⁻¹)."""
    f = as_matrix(ans)
    grad: Array = -np.matmul(np.matmul(swap(f), as_matrix(g)), swap(f))
    out: Array = grad.reshape(ans.shape)
    return out


def solve(node: Node, a: Array, b: Array) -> Array:
    """X = A⁻¹B by LU, never forming A⁻¹ (a 1-D B is a column, and so is X)."""
    out: Array = np.linalg.solve(as_matrix(a), as_matrix(b))
    return out[..., 0] if b.ndim == 1 else out


def solve_gradients(node: Node, g: Array, ans: Array | None, args: Sequence[Array | None],
                    wanted: Sequence[bool]) -> list[Array | None]:
    """G_B = solve(Aᵀ, G) and G_A = −G_B·Xᵀ (X = A⁻¹B), each summed over the batch axes it was broadcast along;
    one solve serves both."""
    a, b = args
    assert a is not None and b is not None and ans is not None
    a2, b2 = as_matrix(a), as_matrix(b)
    g2, f2 = (g[..., np.newaxis], ans[..., np.newaxis]) if b.ndim == 1 else (g, ans)
    gb: Array = np.linalg.solve(swap(a2), g2)
    grad_a = -summed_matmul(gb, swap(f2), a2.shape[:-2]).reshape(a.shape) if wanted[0] else None
    grad_b = unbroadcast(gb, b2.shape).reshape(b.shape) if wanted[1] else None
    return [grad_a, grad_b]


def solve_vjp_a(node: Node, g: Array, ans: Array, a: Array, b: Array) -> Array:
    """∂L/∂A = −solve(Aᵀ, G)·Xᵀ."""
    grad = solve_gradients(node, g, ans, (a, b), (True, False))[0]
    assert grad is not None
    return grad


def solve_vjp_b(node: Node, g: Array, ans: Array, a: Array, b: Array) -> Array:
    """∂L/∂B = solve(Aᵀ, G)."""
    grad = solve_gradients(node, g, ans, (a, b), (False, True))[1]
    assert grad is not None
    return grad


def solve_unsummed(index: int, shapes: Sequence[Shape], g_shape: Shape) -> Shape:
    """The shape of a solve's gradient per batch entry, before the batch axes are summed to the argument's."""
    a, b = as_matrix_shape(shapes[0]), as_matrix_shape(shapes[1])
    batch = tuple(np.broadcast_shapes(a[:-2], b[:-2]))
    own = shapes[index]
    return (*batch, *own[-2:]) if len(own) >= 2 else own


def diag(node: Node, x: Array) -> Array:
    """diag: a vector (n,) → the diagonal matrix (n, n); a matrix → its diagonal (each of a batch)."""
    if x.ndim == 1:
        out: Array = x[:, np.newaxis] * np.eye(x.shape[0], dtype=x.dtype)
        return out
    return np.diagonal(x, axis1=-2, axis2=-1)


def eye(node: Node, x: Array) -> Array:
    """The identity of x's size (x a vector, or a square matrix), in x's floating dtype."""
    return np.eye(x.shape[0], dtype=np.result_type(x.dtype, np.float16))


def eye_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """The identity does not depend on the values of x: 0."""
    return np.zeros(x.shape, dtype=g.dtype)


def diag_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """From a vector: G_x = diag(G); from a matrix: G_X = G on the diagonal, 0 elsewhere."""
    if x.ndim == 1:
        return np.diagonal(g)
    m, n = x.shape[-2:]
    eye = np.eye(m, n, dtype=g.dtype)
    grad: Array = g[..., np.newaxis, :] * eye if n <= m else g[..., :, np.newaxis] * eye
    return grad


# ---- Tangent rules: d f along the tangent t of one argument ----

def matmul_jvp_left(node: Node, t: Array, ans: Array, w: Array, x: Array) -> Array:
    """d(W·X) = dW·X."""
    return matmul(node, t, x)


def matmul_jvp_right(node: Node, t: Array, ans: Array, w: Array, x: Array) -> Array:
    """d(W·X) = W·dX."""
    return matmul(node, w, t)


def trace_jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
    """d tr X = tr dX."""
    return trace(node, t)


def det_jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
    """d det X = tr(adj(X)·dX) = Σ adj(X)ᵀ ⊙ dX (the cofactors: exact at a singular X too, as the VJP)."""
    out: Array = np.sum(cofactors(as_matrix(x)) * as_matrix(t), axis=(-2, -1))
    return out


def logdet_jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
    """d log|det X| = tr(X⁻¹·dX) = Σ X⁻ᵀ ⊙ dX."""
    out: Array = np.sum(swap(np.linalg.inv(as_matrix(x))) * as_matrix(t), axis=(-2, -1))
    return out


def inv_jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
    """d(X⁻¹) = −X⁻¹·dX·X⁻¹ (ans = X⁻¹)."""
    f = as_matrix(ans)
    out: Array = -np.matmul(np.matmul(f, as_matrix(t)), f).reshape(ans.shape)
    return out


def solve_jvp_a(node: Node, t: Array, ans: Array, a: Array, b: Array) -> Array:
    """d(A⁻¹B) along dA = −A⁻¹·dA·X (X = A⁻¹B; a 1-D B is a column, and so is X)."""
    return solve(node, a, -matmul(node, t, ans))


def solve_jvp_b(node: Node, t: Array, ans: Array, a: Array, b: Array) -> Array:
    """d(A⁻¹B) along dB = A⁻¹·dB."""
    return solve(node, a, t)


def matrix_function(name: str, symbol: str, shape: ShapeRule, forward: Forward, vjp: VJP, jvp: JVP, rule: str,
                    formula: str, *, uses: str, latex: str = "", linear: bool = False, differential: str = "",
                    check: Callable[[Node, Sequence[Array], Array], None] | None = None, exact: str = "",
                    folds: tuple[tuple[str, str], ...] = (), numpy: str = "") -> Primitive:
    """A function of the last two axes (batched over the leading ones, as @ is); numpy: its NumPy spelling."""
    return Primitive(name, symbol, shape, forward, (vjp,), (rule,), (linear,), uses, latex=latex,
                     accumulation=solve_accumulation, check=check, differential=differential, formulas=(formula,),
                     batch=MATRIX, exact=exact, jvps=(jvp,), folds=folds, numpy=numpy)



ROWS: tuple[Primitive, ...] = (
    Primitive("matmul", "·", lambda n, s: matmul_shape(s[0], s[1], (n.args[0].text, n.args[1].text)), matmul,
              (matmul_vjp_left, matmul_vjp_right), ("{G}·{y}ᵀ", "{x}ᵀ·{G}"), (True, True), "xy", called=False,
              template="{x}·{y}", drawn="infix", product=True, fresh=True, accumulation=matmul_accumulation,
              unsummed=matmul_unsummed, formulas=("G @ y.T", "x.T @ G"), batch=MATMUL,
              jvps=(matmul_jvp_left, matmul_jvp_right), reads=("y", "x")),
    Primitive("T", "ᵀ", transpose_shape, lambda n, x: transpose(x), (lambda n, g, f, x: swap(g).reshape(x.shape),),
              ("{G}ᵀ",), (True,), "x", called=False, template="{x}ᵀ", drawn="", formulas=("G.T",), batch=TRANSPOSE,
              reads=("",),
              jvps=(lambda n, t, f, x: transpose(t),)),
    matrix_function("trace", "tr", trace_shape, trace, trace_vjp, trace_jvp,
                    "{G}·I", "expand(G) * eye(x)", uses="x", latex=r"\operatorname{tr}", linear=True,
                    differential="d tr {x} = tr d{x}", numpy="np.trace({x}, axis1=-2, axis2=-1)"),
    matrix_function("det", "det", det_shape, lambda n, x: np.linalg.det(as_matrix(x)), det_vjp, det_jvp,
                    "{G}·adj({x})ᵀ", "expand(G * f) * inv(x).T", uses="x", latex=r"\det",
                    differential="d det {x} = tr(adj({x})·d{x}) = det {x}·tr({x}⁻¹·d{x})",
                    exact="the cofactors adj({x})ᵀ, exact at a singular {x} too", numpy="np.linalg.det({x})"),
    matrix_function("logdet", "log det", det_shape, logdet, logdet_vjp, logdet_jvp,
                    "{G}·{x}⁻ᵀ", "expand(G) * inv(x).T", uses="x", latex=r"\log\det", check=check_logdet,
                    differential="d log|det {x}| = tr({x}⁻¹·d{x})", numpy="np.linalg.slogdet({x})[1]"),
    matrix_function("inv", "⁻¹", inv_shape, lambda n, x: np.linalg.inv(as_matrix(x)).reshape(x.shape), inv_vjp,
                    inv_jvp,
                    "−{f}ᵀ·{G}·{f}ᵀ", "-(f.T @ G @ f.T)", uses="f", latex=r"\operatorname{inv}",
                    check=check_inverse, differential="d({x}⁻¹) = −{x}⁻¹·d{x}·{x}⁻¹", folds=(("inv", ""),),
                    numpy="np.linalg.inv({x})"),
    Primitive("solve", "\\", solve_shape, solve, (solve_vjp_a, solve_vjp_b),
              ("−solve({x}ᵀ, {G})·{f}ᵀ", "solve({x}ᵀ, {G})"),
              (False, True), "xyf", latex=r"\operatorname{solve}", accumulation=solve_accumulation,
              unsummed=solve_unsummed, check=check_inverse, joint=solve_gradients,
              differential="d({x}⁻¹{y}) = {x}⁻¹·(d{y} − d{x}·{f})",
              formulas=("-solve(x.T, full(G)) @ f.T", "solve(x.T, full(G))"), batch=MATRIX,
              numpy="np.linalg.solve({x}, {y})", jvps=(solve_jvp_a, solve_jvp_b)),
    Primitive("diag", "diag", diag_shape, diag, (diag_vjp,), ("diag({G})",), (True,), "x",
              latex=r"\operatorname{diag}", formulas=("diag(full(G))",), batch=WHOLE, numpy="_diag({x})",
              jvps=(lambda n, t, f, x: diag(n, t),)),
    Primitive("eye", "I", eye_shape, eye, (eye_vjp,), ("0 (I does not depend on {x}'s values)",), (False,), "x",
              latex="I", formulas=("0",), batch=WHOLE, numpy="np.eye(np.shape({x})[-1])",
              jvps=(lambda n, t, f, x: np.zeros(f.shape, dtype=np.result_type(t.dtype, np.float16)),)),
)
