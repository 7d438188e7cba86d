"""Property tests for wxb.core over random broadcast-compatible problems.

The oracles: central finite differences, the dense Jacobian (Jᵀ·vec G = VJP), and the dense Jacobian itself
checked column by column against f evaluated at unit operands (f is linear in each operand).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxb.core import (
    backward,
    dense_jacobian,
    expand_bias,
    forward,
    gradient_check,
    jacobian_block,
    jacobian_entries,
    jacobian_structure,
    loss_value,
    unbroadcast,
    upstream_gradient,
)
from wxb.core.shapes import summed_matmul

SIZES = st.integers(0, 3)
BATCH_SIZES = st.sampled_from([0, 1, 2, 3, 2, 3])  # empty batches now and then, mostly real ones
DTYPES = st.sampled_from([np.float64, np.float32])


@dataclass
class Problem:
    X: np.ndarray
    b: np.ndarray
    W: np.ndarray | None
    G: np.ndarray

    @property
    def operands(self) -> tuple[str, ...]:
        return ("X", "b") if self.W is None else ("W", "X", "b")

    def operand(self, name: str) -> np.ndarray:
        value = {"b": self.b, "W": self.W, "X": self.X}[name]
        assert value is not None
        return value


@st.composite
def reduced_shape(draw: st.DrawFn, full: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to `full` without enlarging it: a suffix of full with some sizes set to 1."""
    ndim = draw(st.integers(0, len(full)))
    suffix = full[len(full) - ndim:]
    return tuple(1 if draw(st.booleans()) else n for n in suffix)


@st.composite
def bias_shapes(draw: st.DrawFn, f_shape: tuple[int, ...]) -> tuple[int, ...]:
    """A bias for f: 1-D (a column, length m or 1) when f has 2+ axes, else any NumPy-broadcastable shape."""
    if len(f_shape) >= 2 and draw(st.booleans()):
        return (draw(st.sampled_from([f_shape[-2], 1])),)
    shape = draw(reduced_shape(f_shape))
    return (1, *shape) if len(shape) == 1 and len(f_shape) >= 2 else shape  # a 1-D suffix is a row: (1, n)


def as_matrix(a: np.ndarray) -> np.ndarray:
    """The convention: a 1-D operand is a column, also as the left operand of @."""
    return a.reshape(-1, 1) if a.ndim == 1 else a


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    dtype = draw(DTYPES)
    if draw(st.booleans()):
        batch = tuple(draw(st.lists(BATCH_SIZES, max_size=2)))
        m, k, n = draw(SIZES), draw(SIZES), draw(SIZES)
        w_batch = draw(reduced_shape(batch))
        w_column = not w_batch and draw(st.booleans())  # a 1-D W is a column (m,): X then has one row
        k = 1 if w_column else k
        w_shape = (m,) if w_column else (*w_batch, m, k)
        x_shape = (*draw(reduced_shape(batch)), k, n)
        if len(x_shape) == 2 and draw(st.booleans()):
            x_shape = (k,)
        f_shape = np.matmul(as_matrix(np.zeros(w_shape)), np.zeros(x_shape)).shape
    else:
        w_shape = None
        f_shape = x_shape = tuple(draw(st.lists(SIZES, max_size=4)))
    b_shape = draw(bias_shapes(f_shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def values(shape: tuple[int, ...]) -> np.ndarray:
        return rng.uniform(-10, 10, shape).astype(dtype)

    return Problem(values(x_shape), values(b_shape), None if w_shape is None else values(w_shape), values(f_shape))


def tolerance(dtype: np.dtype) -> float:
    return 1e-4 if dtype == np.float32 else 1e-10


def unit(shape: tuple[int, ...], flat_index: int, dtype: np.dtype) -> np.ndarray:
    e = np.zeros(int(np.prod(shape)), dtype=dtype)
    e[flat_index] = 1
    return e.reshape(shape)


# ---- forward ----

@given(problems())
def test_forward_is_numpy_matmul_plus_the_column_aligned_bias(p: Problem) -> None:
    fw = forward(p.X, p.b, p.W)
    wx = p.X if p.W is None else np.matmul(as_matrix(p.W), p.X)
    bias = p.b.reshape(-1, 1) if p.b.ndim == 1 and wx.ndim >= 2 else p.b
    assert fw.f.shape == wx.shape
    assert fw.f.dtype == p.X.dtype
    np.testing.assert_array_equal(fw.f, wx + bias)
    np.testing.assert_array_equal(expand_bias(p.b, wx.shape), np.broadcast_to(bias, wx.shape))


# ---- backward ----

@given(problems())
def test_gradients_have_the_operands_exact_shapes_and_dtype(p: Problem) -> None:
    grads = backward(p.X, p.b, p.G, p.W, wrt=p.operands)
    assert grads.db is not None and grads.db.shape == p.b.shape and grads.db.dtype == p.b.dtype
    assert grads.dX is not None and grads.dX.shape == p.X.shape and grads.dX.dtype == p.X.dtype
    if p.W is not None:
        assert grads.dW is not None and grads.dW.shape == p.W.shape
    assert set(grads.reductions) == set(p.operands)
    for name, reduction in grads.reductions.items():
        assert reduction.shape == p.operand(name).shape
        assert reduction.describe()


@given(problems())
def test_gradients_agree_with_finite_differences(p: Problem) -> None:
    report = gradient_check(p.X, p.b, p.W, p.G, wrt=p.operands, max_entries=30)
    assert report.passed, report
    assert [r.operand for r in report.results] == list(p.operands)


@given(problems())
def test_vjp_equals_dense_jacobian_transpose_times_g(p: Problem) -> None:
    grads = backward(p.X, p.b, p.G, p.W, wrt=p.operands)
    for name in p.operands:
        operand = p.operand(name)
        J = dense_jacobian(p.X, p.b, p.W, wrt=name).astype(np.float64)
        expected = (J.reshape(p.G.size, operand.size).T @ p.G.astype(np.float64).ravel()).reshape(operand.shape)
        got = {"b": grads.db, "W": grads.dW, "X": grads.dX}[name]
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance(p.X.dtype) * scale * 10)


@given(problems())
def test_dense_jacobian_columns_are_f_at_unit_operands(p: Problem) -> None:
    """f is linear in each operand, so column e of ∂f/∂θ is f(θ = eₑ) with the bias term (or W·X) left out."""
    for name in p.operands:
        operand = p.operand(name)
        J = dense_jacobian(p.X, p.b, p.W, wrt=name)
        assert J.shape == p.G.shape + operand.shape and J.dtype == p.X.dtype
        columns = J.reshape((*p.G.shape, operand.size))
        for e in range(operand.size):
            E = unit(operand.shape, e, operand.dtype)
            if name == "b":
                column = expand_bias(E, p.G.shape)
            elif name == "W":
                column = np.matmul(as_matrix(E), p.X)
            else:
                column = E if p.W is None else np.matmul(as_matrix(p.W), E)
            np.testing.assert_array_equal(columns[..., e], column)


# ---- Jacobian structure, blocks, entries ----

@given(problems())
def test_structure_and_blocks_agree_with_the_dense_jacobian(p: Problem) -> None:
    for name in p.operands:
        J = dense_jacobian(p.X, p.b, p.W, wrt=name)
        s = jacobian_structure(p.X, p.b, p.W, wrt=name)
        assert s.shape == J.shape and s.size == J.size and s.f_shape == p.G.shape
        assert s.nonzeros >= np.count_nonzero(J)
        if name == "b":
            assert s.nonzeros == np.count_nonzero(J)
        block_sizes = tuple(s.f_shape[a] for a in s.block_axes)
        assert s.n_blocks == int(np.prod(block_sizes))
        for k in range(s.n_blocks):
            index: list[object] = [slice(None)] * len(s.f_shape)
            for axis, position in zip(s.block_axes, np.unravel_index(k, block_sizes), strict=True):
                index[axis] = position
            block = jacobian_block(p.X, p.b, p.W, wrt=name, k=k)
            assert block.shape == s.block_shape
            np.testing.assert_array_equal(block, J[tuple(index)])


@given(problems(), st.integers(0, 2**32 - 1), st.integers(1, 20))
def test_entries_agree_with_the_dense_jacobian(p: Problem, seed: int, count: int) -> None:
    rng = np.random.default_rng(seed)
    for name in p.operands:
        J = dense_jacobian(p.X, p.b, p.W, wrt=name)
        if J.size == 0:
            continue
        f_index = tuple(rng.integers(-n, n, count) for n in p.G.shape)
        operand_index = tuple(rng.integers(-n, n, count) for n in p.operand(name).shape)
        got = jacobian_entries(p.X, p.b, p.W, wrt=name, f_index=f_index, operand_index=operand_index)
        np.testing.assert_array_equal(got, J[f_index + operand_index])


@given(SIZES, SIZES, SIZES, st.integers(0, 2**32 - 1))
def test_kronecker_forms_of_a_matrix_layer(m: int, k: int, n: int, seed: int) -> None:
    """∂vec f/∂b = 1ₙ ⊗ I_m, ∂vec f/∂vec W = Xᵀ ⊗ I_m, ∂vec f/∂vec X = Iₙ ⊗ W (vec stacks columns)."""
    rng = np.random.default_rng(seed)
    W, X, b = rng.normal(size=(m, k)), rng.normal(size=(k, n)), rng.normal(size=m)

    def vec_form(J: np.ndarray) -> np.ndarray:
        operand_axes = tuple(range(J.ndim - 1, 1, -1))  # reverse the operand's axes too: column-major vec
        return J.transpose((1, 0, *operand_axes)).reshape(m * n, int(np.prod(J.shape[2:])))

    np.testing.assert_array_equal(vec_form(dense_jacobian(X, b, W, "b")), np.kron(np.ones((n, 1)), np.eye(m)))
    np.testing.assert_array_equal(vec_form(dense_jacobian(X, b, W, "W")), np.kron(X.T, np.eye(m)))
    np.testing.assert_array_equal(vec_form(dense_jacobian(X, b, W, "X")), np.kron(np.eye(n), W))
    if m > 1 and n > 1:
        assert jacobian_structure(X, b, W, "b").kron == f"∂vec f/∂b = 1{sub(n)} ⊗ I{sub(m)}"
        assert jacobian_structure(X, b, W, "W").kron == f"∂vec f/∂vec W = Xᵀ ⊗ I{sub(m)}"
        assert jacobian_structure(X, b, W, "X").kron == f"∂vec f/∂vec X = I{sub(n)} ⊗ W"


def sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


# ---- unbroadcast and losses ----

@st.composite
def broadcast_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    full = tuple(draw(st.lists(SIZES, max_size=4)))
    shape = draw(reduced_shape(full))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=shape), rng.normal(size=full)


@given(broadcast_pairs())
def test_unbroadcast_is_the_adjoint_of_broadcasting(pair: tuple[np.ndarray, np.ndarray]) -> None:
    """⟨broadcast(a), G⟩ = ⟨a, unbroadcast(G)⟩, and the result has a's exact shape."""
    a, G = pair
    reduced = unbroadcast(G, a.shape)
    assert reduced.shape == a.shape
    np.testing.assert_allclose(np.sum(np.broadcast_to(a, G.shape) * G), np.sum(a * reduced), atol=1e-9)


@given(problems(), st.sampled_from(["sum", "mean", "mse"]), st.integers(0, 2**32 - 1))
def test_upstream_gradient_is_the_derivative_of_the_loss(p: Problem, loss: str, seed: int) -> None:
    f = forward(p.X, p.b, p.W).f.astype(np.float64)
    rng = np.random.default_rng(seed)
    T, v = rng.normal(size=f.shape), rng.normal(size=f.shape)
    G = upstream_gradient(f, loss, T)  # type: ignore[arg-type]
    assert G.shape == f.shape
    h = 1e-3
    numeric = (loss_value(f + h * v, loss, T) - loss_value(f - h * v, loss, T)) / (2 * h)  # type: ignore[arg-type]
    if f.size:
        assert numeric == pytest.approx(float(np.sum(G * v)), rel=1e-6, abs=1e-8)


# ---- summed matrix products (dW, dX over broadcast batch axes) ----

@st.composite
def summed_products(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    batch = tuple(draw(st.lists(BATCH_SIZES, max_size=3)))
    p, j, q = draw(SIZES), draw(SIZES), draw(SIZES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.normal(size=(*draw(reduced_shape(batch)), p, j))
    b = rng.normal(size=(*draw(reduced_shape(batch)), j, q))
    full = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return a, b, draw(reduced_shape(full))


Product = tuple[np.ndarray, np.ndarray, tuple[int, ...]]


@given(summed_products())
def test_summed_matmul_is_unbroadcast_of_the_batched_product(case: Product) -> None:
    a, b, batch = case
    expected = unbroadcast(np.matmul(a, b), (*batch, a.shape[-2], b.shape[-1]))
    got = summed_matmul(a, b, batch)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-9)


@given(problems())
def test_reductions_describe_the_per_batch_gradient_shape(p: Problem) -> None:
    """full_shape is the shape of G·Xᵀ or Wᵀ·G computed per batch entry (a 1-D operand is a column)."""
    if p.W is None:
        return
    w = as_matrix(p.W)
    x = as_matrix(p.X)
    g = p.G[..., np.newaxis] if p.X.ndim == 1 else p.G
    per_w = np.matmul(g, np.swapaxes(x, -1, -2))
    per_x = np.matmul(np.swapaxes(w, -1, -2), g)
    per_w = per_w[..., 0] if p.W.ndim == 1 else per_w
    per_x = per_x[..., 0] if p.X.ndim == 1 else per_x
    grads = backward(p.X, p.b, p.G, p.W, wrt=("W", "X"))
    assert grads.reductions["W"].full_shape == per_w.shape
    assert grads.reductions["X"].full_shape == per_x.shape


def test_the_structure_counts_the_nonzero_entries_of_the_jacobian_exactly() -> None:
    from wxb.core import jacobian
    from wxb.core.engine import Problem as Checked

    rng = np.random.default_rng(7)
    compared = 0
    for _ in range(150):
        m, k, n, batch = (int(v) for v in rng.integers(1, 4, 4))
        w_shape = (batch, m, k) if rng.random() < 0.5 else (m, k)
        x_shape = (batch, k, n) if rng.random() < 0.5 else (k, n)
        W = rng.integers(-1, 2, w_shape).astype(float)
        X = rng.integers(-1, 2, x_shape).astype(float)
        b = rng.integers(-1, 2, (m, 1)).astype(float)
        for expression in ("W @ X + b", "relu(W @ X + b)", "(W @ X) * 2", "tanh(W @ X + b) * 0"):
            problem = Checked.build(expression, {"W": W, "X": X, "b": b} if "b" in expression else {"W": W, "X": X})
            for name in problem.expression.operands:
                structure = jacobian.structure(problem, name)
                if structure.nonzeros is not None:
                    assert structure.nonzeros == np.count_nonzero(jacobian.dense(problem, name)), (expression, name)
                    compared += 1
    assert compared > 500
