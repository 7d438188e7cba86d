"""The Kronecker rows: kron (A ⊗ B), vec (the columns stacked, the Matrix Cookbook's vec) and its inverse unvec,
on matrices only (a 1-D operand is a column; a batch of matrices is refused).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import ShapeError
from ..nodes import Node
from ..notation import shape_text
from ..shapes import Array, Shape, as_matrix, as_matrix_shape, matrix_arg
from .batch import WHOLE
from .row import Primitive


def plain_matrix(node: Node, shape: Shape, index: int) -> Shape:
    """An argument's shape as one matrix (1-D: a column), refused for a scalar or a batch of matrices."""
    if len(shape) > 2:
        raise ShapeError(f"{node.text}: {node.args[index].text} has shape {shape_text(shape)}; {node.op} takes a "
                         "matrix (a 1-D operand is a column), not a batch of them")
    return matrix_arg(node, shape, index)


def kron_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """A ⊗ B: A (m, n) and B (p, q) give (mp, nq)."""
    (m, n), (p, q) = plain_matrix(node, shapes[0], 0), plain_matrix(node, shapes[1], 1)
    return (m * p, n * q)


def vec_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """vec X: X (m, n) gives the column (mn, 1)."""
    m, n = plain_matrix(node, shapes[0], 0)
    return (m * n, 1)


def unvec_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """unvec(v, X): a column v (or 1-D) of X's size gives X's shape."""
    v, x = shapes
    plain_matrix(node, x, 1)
    if len(v) > 2 or (len(v) == 2 and v[1] != 1) or math.prod(v) != math.prod(x):
        raise ShapeError(f"{node.text}: {node.args[0].text} {shape_text(v)} is not a column of "
                         f"{math.prod(x)} entries, the size of {node.args[1].text} {shape_text(x)}: unvec "
                         "reshapes a column (as vec writes it) to the second argument's shape")
    return x


def kron(node: Node, a: Array, b: Array) -> Array:
    """A ⊗ B = [A_ij·B] (np.kron on matrices; a 1-D operand is a column)."""
    out: Array = np.kron(as_matrix(a), as_matrix(b))
    return out


def kron_blocks(g: Array, a: Array, b: Array) -> Array:
    """G (mp, nq) as its blocks G4[i, k, j, l] = G[i·p + k, j·q + l]."""
    return g.reshape(as_matrix(a).shape[0], as_matrix(b).shape[0], -1, as_matrix(b).shape[1])


def kron_vjp_left(node: Node, g: Array, ans: Array, a: Array, b: Array) -> Array:
    """∂L/∂A_ij = ⟨G_ij, B⟩, each p×q block of G against B."""
    grad: Array = np.einsum("ikjl,kl->ij", kron_blocks(g, a, b), as_matrix(b)).reshape(a.shape)
    return grad


def kron_vjp_right(node: Node, g: Array, ans: Array, a: Array, b: Array) -> Array:
    """∂L/∂B = Σ_ij A_ij·G_ij, the blocks of G weighted by A."""
    grad: Array = np.einsum("ikjl,ij->kl", kron_blocks(g, a, b), as_matrix(a)).reshape(b.shape)
    return grad


def kron_jvp_left(node: Node, t: Array, ans: Array, a: Array, b: Array) -> Array:
    """d(A ⊗ B) along dA = dA ⊗ B."""
    return kron(node, t, b)


def kron_jvp_right(node: Node, t: Array, ans: Array, a: Array, b: Array) -> Array:
    """d(A ⊗ B) along dB = A ⊗ dB."""
    return kron(node, a, t)


def vec(node: Node, x: Array) -> Array:
    """vec X: the columns of X stacked, one column (mn, 1) (the Matrix Cookbook's vec, Fortran order)."""
    out: Array = as_matrix(x).T.reshape(-1, 1)
    return out


def unvec(node: Node, v: Array, x: Array) -> Array:
    """unvec(v, X): the column v refilled column by column into X's shape (vec's inverse: unvec(vec X, X) = X)."""
    m, n = as_matrix_shape(x.shape)
    out: Array = v.reshape(n, m).T.reshape(x.shape)
    return out


def vec_vjp(node: Node, g: Array, ans: Array, x: Array) -> Array:
    """∂L/∂X = unvec(G, X): G refilled into X's shape."""
    return unvec(node, g, x)


def unvec_vjp_left(node: Node, g: Array, ans: Array, v: Array, x: Array) -> Array:
    """∂L/∂v = vec G (in v's own shape)."""
    grad: Array = vec(node, g).reshape(v.shape)
    return grad


def unvec_shape_only(node: Node, g: Array, ans: Array, v: Array, x: Array) -> Array:
    """unvec reads only X's shape: its VJP for X is 0, and so is its tangent along dX (g: G or dX)."""
    return np.zeros(x.shape, dtype=g.dtype)


def vec_jvp(node: Node, t: Array, ans: Array, x: Array) -> Array:
    """d vec X = vec dX."""
    return vec(node, t)


def unvec_jvp_left(node: Node, t: Array, ans: Array, v: Array, x: Array) -> Array:
    """d unvec(v, X) along dv = unvec(dv, X)."""
    return unvec(node, t, x)


ROWS: tuple[Primitive, ...] = (
    Primitive("kron", "⊗", kron_shape, kron, (kron_vjp_left, kron_vjp_right),
              ("⟨{G}_ij, {y}⟩ for each block {G}_ij of {G}", "Σ_ij {x}_ij·{G}_ij"), (True, True), "xy",
              differential="d({x} ⊗ {y}) = d{x} ⊗ {y} + {x} ⊗ d{y}",
              no_formula="its gradient contracts each block of G with the other factor (G reshaped to (m, p, n, q) "
                         "and two axes swapped), which wxb's language cannot write", batch=WHOLE,
              example="X='1 2; 3 4' Y='0 1; 1 0' --format json", jvps=(kron_jvp_left, kron_jvp_right),
              numpy="_kron({x}, {y})"),
    Primitive("vec", "vec", vec_shape, vec, (vec_vjp,), ("unvec({G}, {x})",), (True,), "x",
              formulas=("unvec(full(G), x)",), differential="d vec {x} = vec d{x}", batch=WHOLE,
              jvps=(vec_jvp,), numpy='np.reshape({x}, (-1, 1), order="F")'),
    Primitive("unvec", "unvec", unvec_shape, unvec, (unvec_vjp_left, unvec_shape_only),
              ("vec({G})", "0 (unvec reads only {y}'s shape)"), (True, False), "xy",
              formulas=("vec(full(G))", "0"), batch=WHOLE, example="X=4 Y=2x2",
              jvps=(unvec_jvp_left, unvec_shape_only), numpy='np.reshape({x}, np.shape({y}), order="F")'),
)
