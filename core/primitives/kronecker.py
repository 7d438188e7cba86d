"""The Kronecker rows: kron (A ⊗ B), vec (the columns stacked, the Matrix Cookbook's vec) and its inverse unvec,
and kron's two adjoints, blockdot and blocksum, in which derive writes kron's gradients (each is the other's and
kron's gradient, so the language is closed under differentiation); on matrices only (a 1-D operand is a column;
a batch of matrices is refused).
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


def block_shape(node: Node, shapes: Sequence[Shape]) -> tuple[Shape, Shape]:
    """G's shape and the factor's, for the adjoints of kron: the factor's sizes must divide G's."""
    g, factor = plain_matrix(node, shapes[0], 0), plain_matrix(node, shapes[1], 1)
    if 0 in factor or g[0] % factor[0] or g[1] % factor[1]:
        raise ShapeError(f"{node.text}: {node.args[0].text} {shape_text(shapes[0])} is not a grid of "
                         f"{shape_text(factor)} blocks, the shape of {node.args[1].text}: {node.op}'s first "
                         "argument needs rows and columns that are multiples of its second's (as kron writes it)")
    return g, factor


def blockdot_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """blockdot(G, B): G (mp, nq) in p×q blocks, B (p, q), gives (m, n)."""
    (r, c), (p, q) = block_shape(node, shapes)
    return (r // p, c // q)


def blocksum_shape(node: Node, shapes: Sequence[Shape]) -> Shape:
    """blocksum(G, A): G (mp, nq) in m×n blocks of p×q, A (m, n), gives (p, q)."""
    (r, c), (m, n) = block_shape(node, shapes)
    return (r // m, c // n)


def blocks_of(g: Array, m: int, n: int) -> Array:
    """G as an m×n grid of blocks, G4[i, k, j, l] = G_ij[k, l]."""
    r, c = as_matrix_shape(g.shape)
    return as_matrix(g).reshape(m, r // m, n, c // n)


def blockdot(node: Node, g: Array, b: Array) -> Array:
    """blockdot(G, B)_ij = ⟨G_ij, B⟩ for each p×q block G_ij of G: kron's gradient in its left factor."""
    p, q = as_matrix_shape(b.shape)
    r, c = as_matrix_shape(g.shape)
    out: Array = np.einsum("ikjl,kl->ij", blocks_of(g, r // p, c // q), as_matrix(b))
    return out


def blocksum(node: Node, g: Array, a: Array) -> Array:
    """blocksum(G, A) = Σ_ij A_ij·G_ij over the m×n grid of blocks of G: kron's gradient in its right factor."""
    m, n = as_matrix_shape(a.shape)
    out: Array = np.einsum("ikjl,ij->kl", blocks_of(g, m, n), as_matrix(a))
    return out


def blockdot_vjp_g(node: Node, h: Array, ans: Array, g: Array, b: Array) -> Array:
    """∂L/∂G = H ⊗ B: each block of G meets B, weighted by its entry of H."""
    grad: Array = kron(node, h, b).reshape(g.shape)
    return grad


def blockdot_vjp_b(node: Node, h: Array, ans: Array, g: Array, b: Array) -> Array:
    """∂L/∂B = Σ_ij H_ij·G_ij = blocksum(G, H)."""
    grad: Array = blocksum(node, g, h).reshape(b.shape)
    return grad


def blocksum_vjp_g(node: Node, h: Array, ans: Array, g: Array, a: Array) -> Array:
    """∂L/∂G = A ⊗ H."""
    grad: Array = kron(node, a, h).reshape(g.shape)
    return grad


def blocksum_vjp_a(node: Node, h: Array, ans: Array, g: Array, a: Array) -> Array:
    """∂L/∂A_ij = ⟨G_ij, H⟩ = blockdot(G, H)."""
    grad: Array = blockdot(node, g, h).reshape(a.shape)
    return grad


def blockdot_jvp_g(node: Node, t: Array, ans: Array, g: Array, b: Array) -> Array:
    return blockdot(node, t, b)


def blockdot_jvp_b(node: Node, t: Array, ans: Array, g: Array, b: Array) -> Array:
    return blockdot(node, g, t)


def blocksum_jvp_g(node: Node, t: Array, ans: Array, g: Array, a: Array) -> Array:
    return blocksum(node, t, a)


def blocksum_jvp_a(node: Node, t: Array, ans: Array, g: Array, a: Array) -> Array:
    return blocksum(node, g, t)

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
              formulas=("blockdot(full(G), y)", "blocksum(full(G), x)"), batch=WHOLE,
              example="X='1 2; 3 4' Y='0 1; 1 0' --format json", jvps=(kron_jvp_left, kron_jvp_right),
              numpy="_kron({x}, {y})"),
    Primitive("blockdot", "blockdot", blockdot_shape, blockdot, (blockdot_vjp_g, blockdot_vjp_b),
              ("{G} ⊗ {y}", "Σ_ij {G}_ij·{x}_ij (blocksum)"), (True, True), "xy",
              differential="⟨d{x}_ij, {y}⟩ + ⟨{x}_ij, d{y}⟩ for each block {x}_ij of {x}",
              formulas=("kron(full(G), y)", "blocksum(x, full(G))"), batch=WHOLE, example="X=6x4 Y=3x2",
              jvps=(blockdot_jvp_g, blockdot_jvp_b), numpy="_blockdot({x}, {y})"),
    Primitive("blocksum", "blocksum", blocksum_shape, blocksum, (blocksum_vjp_g, blocksum_vjp_a),
              ("{y} ⊗ {G}", "⟨{x}_ij, {G}⟩ for each block {x}_ij of {x} (blockdot)"), (True, True), "xy",
              differential="Σ_ij {y}_ij·d{x}_ij + Σ_ij d{y}_ij·{x}_ij",
              formulas=("kron(y, full(G))", "blockdot(x, full(G))"), batch=WHOLE, example="X=6x4 Y=2x2",
              jvps=(blocksum_jvp_g, blocksum_jvp_a), numpy="_blocksum({x}, {y})"),
    Primitive("vec", "vec", vec_shape, vec, (vec_vjp,), ("unvec({G}, {x})",), (True,), "x",
              formulas=("unvec(full(G), x)",), differential="d vec {x} = vec d{x}", batch=WHOLE,
              jvps=(vec_jvp,), numpy='np.reshape({x}, (-1, 1), order="F")'),
    Primitive("unvec", "unvec", unvec_shape, unvec, (unvec_vjp_left, unvec_shape_only),
              ("vec({G})", "0 (unvec reads only {y}'s shape)"), (True, False), "xy",
              formulas=("vec(full(G))", "0"), batch=WHOLE, example="X=4 Y=2x2",
              jvps=(unvec_jvp_left, unvec_shape_only), numpy='np.reshape({x}, np.shape({y}), order="F")'),
)
