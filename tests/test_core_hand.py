"""Hand-checked cases for wxb.core: the seed example, named bias layouts, every refused case, losses, dtypes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import wxb.core
import wxb.core.gradcheck
from wxb.core import (
    BiasEnlargesError,
    DtypeError,
    ShapeError,
    TooLargeError,
    WxbError,
    align_bias,
    as_operand,
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

SEED_X = np.array([[1.0, 2.0], [3.0, 4.0]])
SEED_B = np.array([5.0, 6.0])


# ---- the seed example ----

def test_seed_forward_adds_the_1d_bias_as_a_column() -> None:
    fw = forward(SEED_X, SEED_B, np.eye(2))
    np.testing.assert_array_equal(fw.f, [[6, 7], [9, 10]])
    assert fw.broadcast.aligned_shape == (2, 1)
    assert fw.broadcast.describe() == "b (2,) as a column (2,1) → (2,2): repeated along axis 1, 2 times"


def test_seed_backward_with_the_sum_loss_gives_the_row_sums() -> None:
    f = forward(SEED_X, SEED_B, np.eye(2)).f
    G = upstream_gradient(f, "sum")
    grads = backward(SEED_X, SEED_B, G, np.eye(2), wrt=("b", "W", "X"))
    assert grads.db is not None and grads.db.shape == (2,)
    np.testing.assert_array_equal(grads.db, [2, 2])
    np.testing.assert_array_equal(grads.dW, G @ SEED_X.T)
    np.testing.assert_array_equal(grads.dX, np.eye(2).T @ G)
    assert grads.reductions["b"].describe() == "G summed over axis 1, kept as a column: dL/db = G·1"
    assert grads.reductions["W"].describe() == "dL/dW = G·Xᵀ, already W's shape: nothing to sum"


def test_seed_jacobian_is_two_identity_blocks() -> None:
    s = jacobian_structure(SEED_X, SEED_B, np.eye(2))
    assert s.describe() == "2 blocks ∂f[:,k]/∂b, each I₂ (k = 0…1); 8 entries, 4 nonzero"
    assert s.kron == "∂vec f/∂b = 1₂ ⊗ I₂"
    assert (s.shape, s.block_axes, s.n_blocks, s.block_shape) == ((2, 2, 2), (1,), 2, (2, 2))
    for k in range(2):
        np.testing.assert_array_equal(jacobian_block(SEED_X, SEED_B, np.eye(2), k=k), np.eye(2))
    J = dense_jacobian(SEED_X, SEED_B, np.eye(2))
    np.testing.assert_array_equal(J[:, 0, :], np.eye(2))
    np.testing.assert_array_equal(J[:, 1, :], np.eye(2))


def test_module_docstring_example_runs() -> None:
    import doctest

    assert doctest.testmod(wxb.core).failed == 0


def test_symbolic_docstring_example_runs() -> None:
    import doctest

    import wxb.core.symbolic

    result = doctest.testmod(wxb.core.symbolic)
    assert result.attempted and not result.failed


# ---- named bias layouts ----

def test_per_channel_bias_sums_batch_and_spatial_axes() -> None:
    rng = np.random.default_rng(0)
    X, G = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 3, 4, 4))
    grads = backward(X, np.zeros((1, 3, 1, 1)), G)
    assert grads.db is not None and grads.db.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(grads.db, G.sum(axis=(0, 2, 3), keepdims=True))
    reduction = grads.reductions["b"]
    assert (reduction.dropped_axes, reduction.kept_axes, reduction.summed_axes) == ((), (0, 2, 3), (0, 2, 3))
    three_d = backward(X, np.zeros((3, 1, 1)), G).reductions["b"]
    assert three_d.describe() == "G summed over axes 0, 2, 3 (axis 0 dropped, axes 2, 3 kept with size 1)"
    s = jacobian_structure(X, np.zeros((1, 3, 1, 1)))
    assert s.block_axes == (0, 2, 3) and s.n_blocks == 32 and s.kron == "∂vec f/∂vec b = 1₁₆ ⊗ I₃ ⊗ 1₂"


def test_row_bias_sums_the_rows() -> None:
    G = np.arange(12.0).reshape(3, 4)
    grads = backward(np.zeros((3, 4)), np.zeros((1, 4)), G)
    np.testing.assert_array_equal(grads.db, G.sum(axis=0, keepdims=True))
    assert grads.reductions["b"].describe() == "G summed over axis 0, kept as a row: dL/db = 1ᵀ·G"
    s = jacobian_structure(np.zeros((3, 4)), np.zeros((1, 4)))
    assert s.kron == "∂vec f/∂vec b = I₄ ⊗ 1₃" and s.block_axes == (0,) and s.n_blocks == 3


def test_scalar_and_unbroadcast_biases() -> None:
    G = np.arange(6.0).reshape(2, 3)
    scalar = backward(np.zeros((2, 3)), 0.0, G)
    assert scalar.db is not None and scalar.db.shape == () and scalar.db == 15
    assert scalar.reductions["b"].describe() == "G summed over axes 0, 1, to a scalar: dL/db = 1ᵀ·G·1"
    assert jacobian_structure(np.zeros((2, 3)), 0.0).kron == "∂vec f/∂b = 1₆"
    full = backward(np.zeros((2, 3)), np.zeros((2, 3)), G)
    np.testing.assert_array_equal(full.db, G)
    assert full.reductions["b"].describe() == "dL/db = G, already b's shape: nothing to sum"
    assert jacobian_structure(np.zeros((3, 1)), np.zeros(3)).kron == "∂vec f/∂b = I₃"  # size-1 axes vanish
    assert jacobian_structure(np.zeros((1, 1)), np.zeros(1)).kron == "∂vec f/∂b = 1"
    s = jacobian_structure(np.zeros((2, 3)), np.zeros((2, 3)))
    assert s.n_blocks == 1 and s.block_axes == () and s.describe().startswith("1 block ∂f/∂b = I₆")


def test_batched_matmul_with_shared_weights_sums_the_batch() -> None:
    rng = np.random.default_rng(1)
    W, X, b = rng.normal(size=(4, 3)), rng.normal(size=(5, 3, 2)), rng.normal(size=4)
    G = rng.normal(size=(5, 4, 2))
    grads = backward(X, b, G, W, wrt=("W", "X", "b"))
    np.testing.assert_allclose(grads.dW, sum(G[i] @ X[i].T for i in range(5)))
    np.testing.assert_allclose(grads.dX, W.T @ G)
    np.testing.assert_allclose(grads.db, G.sum(axis=(0, 2)))
    assert grads.reductions["W"].describe() == "G·Xᵀ summed over axis 0 (axis 0 dropped)"
    assert "W is shared along batch axis 0" in jacobian_structure(X, b, W, "W").kron


# ---- refused cases ----

def test_a_bias_that_would_enlarge_wx_is_refused_naming_both_shapes() -> None:
    with pytest.raises(BiasEnlargesError, match=r"X \(4,1\) and b \(1,4\) would make an outer sum \(4,4\)"):
        forward(np.zeros((4, 1)), np.zeros((1, 4)))
    # Only one side enlarged is ordinary broadcasting: W·X (2,3) repeated along b's batch axis.
    assert forward(np.zeros((3, 3)), np.zeros((5, 2, 3)), np.zeros((2, 3))).f.shape == (5, 2, 3)


def test_shapes_that_cannot_broadcast_name_the_axis_and_both_sizes() -> None:
    with pytest.raises(ShapeError, match=r"b \(3,\) as a column \(3,1\).*on axis 0, X has size 2 but b has size 3"):
        forward(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ShapeError, match=r"on axis 1, X has size 3 but b has size 4"):
        forward(np.zeros((2, 3)), np.zeros((1, 4)))


def test_matmul_inner_size_mismatch_names_both_shapes_and_sizes() -> None:
    with pytest.raises(ShapeError, match=r"W \(2,3\) and X \(4,5\) do not multiply: W has 3 columns but X has 4 rows"):
        forward(np.zeros((4, 5)), 0.0, np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"batch axis 0, W has size 2 but X has size 3"):
        forward(np.zeros((3, 3, 1)), 0.0, np.zeros((2, 2, 3)))
    with pytest.raises(ShapeError, match="W is a scalar"):
        forward(np.zeros(3), 0.0, 2.0)


def test_upstream_gradient_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ShapeError, match=r"G has shape \(2,\) but f = X \+ b has shape \(2,2\)"):
        backward(SEED_X, SEED_B, np.ones(2))


def test_gradient_with_respect_to_a_missing_w_is_refused_with_a_hint() -> None:
    with pytest.raises(WxbError, match=r"'W': it is not an operand of X \+ b") as info:
        backward(SEED_X, SEED_B, np.ones((2, 2)), wrt=("W",))
    assert info.value.hint
    with pytest.raises(WxbError, match="'Z'"):
        backward(SEED_X, SEED_B, np.ones((2, 2)), wrt=("Z",))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [np.array([1j]), np.array([object()]), np.array(["a"]), "text"])
def test_complex_object_and_string_operands_are_refused_naming_the_operand(value: object) -> None:
    with pytest.raises(DtypeError, match=r"^W has dtype"):
        as_operand(value, "W")  # type: ignore[arg-type]
    with pytest.raises(DtypeError, match=r"^b has dtype"):
        forward(SEED_X, value)  # type: ignore[arg-type]


def test_ragged_input_is_a_shape_error_naming_the_operand() -> None:
    with pytest.raises(ShapeError, match=r"^X is not a rectangular array"):
        as_operand([[1, 2], [3]], "X")


# ---- dtypes, NaN and views ----

def test_dtype_policy() -> None:
    assert as_operand(np.ones(2, dtype=np.float32), "X").dtype == np.float32
    assert as_operand([1, 2], "X").dtype == np.float64
    assert as_operand([True, False], "X").dtype == np.float64
    x32 = np.ones((2, 2), dtype=np.float32)
    f = forward(x32, np.ones(2, dtype=np.float32), np.eye(2, dtype=np.float32)).f
    assert f.dtype == np.float32
    grads = backward(x32, np.ones(2, dtype=np.float32), f, np.eye(2, dtype=np.float32), wrt=("b", "W", "X"))
    assert {g.dtype for g in (grads.db, grads.dW, grads.dX) if g is not None} == {np.dtype(np.float32)}
    assert dense_jacobian(x32, np.float32(1)).dtype == np.float32
    assert forward(x32, 1.0).f.dtype == np.float32  # a scalar beside float32 does not promote
    assert forward(x32, np.ones(2)).f.dtype == np.float64  # a float64 array does


def test_nan_and_inf_propagate() -> None:
    f = forward([[np.nan, 1.0], [2.0, np.inf]], [0.0, 1.0]).f
    assert np.isnan(f[0, 0]) and np.isinf(f[1, 1]) and f[0, 1] == 1.0 and f[1, 0] == 3.0
    db = backward(SEED_X, SEED_B, [[np.nan, 1.0], [1.0, 1.0]]).db
    assert db is not None and np.isnan(db[0]) and db[1] == 2.0


def test_align_bias_is_a_view_and_expand_bias_is_read_only() -> None:
    aligned = align_bias(SEED_B, (2, 2))
    assert aligned.shape == (2, 1) and np.shares_memory(aligned, SEED_B)
    assert align_bias(SEED_B, (2,)) is SEED_B
    B = expand_bias(SEED_B, (2, 3))
    np.testing.assert_array_equal(B, [[5, 5, 5], [6, 6, 6]])
    assert not B.flags.writeable and np.shares_memory(B, SEED_B)


def test_unbroadcast_drops_leading_axes_and_keeps_size_one_axes() -> None:
    G = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(G, (3, 1)), G.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(unbroadcast(G, ()), G.sum())
    assert unbroadcast(G, (2, 3, 4)) is G
    with pytest.raises(ShapeError):
        unbroadcast(G, (5, 4))


# ---- losses ----

def test_losses_and_their_upstream_gradients() -> None:
    f = np.array([[1.0, 2.0], [3.0, 5.0]])
    T = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert loss_value(f) == 11.0
    assert loss_value(f, "mean") == 2.75
    np.testing.assert_array_equal(upstream_gradient(f, "mean"), np.full((2, 2), 0.25))
    assert loss_value(f, "mse", T) == (0 + 1 + 4 + 16) / 4
    np.testing.assert_array_equal(upstream_gradient(f, "mse", T), 2 * (f - T) / 4)


def test_mse_target_broadcasts_without_enlarging_f() -> None:
    f = np.array([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_array_equal(upstream_gradient(f, "mse", [[1.0, 0.0]]), 2 * (f - [[1.0, 0.0]]) / 4)
    assert loss_value(f, "mse", 1.0) == 21 / 4
    with pytest.raises(BiasEnlargesError, match=r"T \(3,2,2\) would enlarge f \(2,2\)"):
        upstream_gradient(f, "mse", np.zeros((3, 2, 2)))
    with pytest.raises(ShapeError, match=r"axis 1 of f, T has size 3 but f has size 2"):
        upstream_gradient(f, "mse", np.zeros((1, 3)))
    with pytest.raises(WxbError, match="needs a target"):
        upstream_gradient(f, "mse")
    with pytest.raises(WxbError, match="unknown loss 'max'"):
        loss_value(f, "max")  # type: ignore[arg-type]


def test_a_1d_mse_target_is_a_column_as_every_1d_operand() -> None:
    f = np.array([[1.0, 2.0], [3.0, 4.0]])
    column = np.array([[1.0], [2.0]])
    np.testing.assert_array_equal(upstream_gradient(f, "mse", [1.0, 2.0]), 2 * (f - column) / 4)
    assert loss_value(f, "mse", [1.0, 2.0]) == (0 + 1 + 1 + 4) / 4
    with pytest.raises(ShapeError, match=r"T \(3,\) as a column \(3,1\)"):
        upstream_gradient(f, "mse", [1.0, 2.0, 3.0])


# ---- Jacobian guards ----

def test_dense_jacobian_over_the_limit_is_refused_before_allocating() -> None:
    X = np.zeros((2000, 2000))
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError, match=r"8,000,000,000 entries .*limit of 10,000,000"):
            dense_jacobian(X, np.zeros(2000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    with pytest.raises(TooLargeError, match="limit of 7"):
        dense_jacobian(SEED_X, SEED_B, limit=7)
    assert dense_jacobian(SEED_X, SEED_B, limit=8).shape == (2, 2, 2)


def test_block_index_out_of_range_names_the_valid_range() -> None:
    with pytest.raises(WxbError, match=r"no block 2 of ∂f/∂b: valid blocks are 0…1"):
        jacobian_block(SEED_X, SEED_B, k=2)
    with pytest.raises(WxbError, match="out of range on axis 0"):
        jacobian_entries(SEED_X, SEED_B, f_index=(np.array([2]), np.array([0])), operand_index=(np.array([0]),))


def test_a_2000_by_2000_column_bias_is_described_and_differentiated_in_small_memory() -> None:
    X = np.zeros((2000, 2000))
    b = np.zeros(2000)
    tracemalloc.start()
    try:
        s = jacobian_structure(X, b)
        G = upstream_gradient(X, "sum")
        grads = backward(X, b, G)
        block = jacobian_block(X, b, k=1999)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert s.size == 2000**3 and s.nonzeros == 2000**2 and s.kron == "∂vec f/∂b = 1₂₀₀₀ ⊗ I₂₀₀₀"
    assert s.describe() == "2,000 blocks ∂f[:,k]/∂b, each I₂₀₀₀ (k = 0…1999); 8,000,000,000 entries, 4,000,000 nonzero"
    assert grads.db is not None and grads.db.shape == (2000,) and np.all(grads.db == 2000)
    np.testing.assert_array_equal(block, np.eye(2000))
    assert peak < 100 * 2**20  # the dense Jacobian would be 64 GB; G is 32 MB


# ---- gradient check ----

def test_gradient_check_reports_method_and_counts() -> None:
    report = gradient_check(SEED_X, SEED_B, np.eye(2))
    assert report.passed and [r.operand for r in report.results] == ["W", "X", "b"]
    assert all(r.method == "every entry" for r in report.results)
    big = gradient_check(np.ones((30, 30)), np.ones(30), max_entries=50, wrt=("X",))
    (result,) = big.results
    assert result.method == "12 random directions" and result.n_checked == 12 and result.passed
    assert gradient_check(SEED_X, SEED_B).results[0].tolerance == 1e-6
    assert gradient_check(SEED_X.astype(np.float32), SEED_B.astype(np.float32)).results[0].tolerance == 2e-3


def test_gradient_check_fails_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from wxb.core.primitives import PRIMITIVES

    add = PRIMITIVES["add"]
    wrong = replace(add, vjps=(add.vjps[0], lambda n, g, f, x, y: g * 1.01))
    monkeypatch.setitem(PRIMITIVES, "add", wrong)  # the rule for the bias, off by one percent
    report = gradient_check(SEED_X, SEED_B, np.eye(2))
    assert not report.passed
    assert [r.passed for r in report.results] == [True, True, False]
    assert report.results[2].verdict == "fail"
    assert report.results[2].max_abs_error == pytest.approx(0.02)


def test_shared_weight_gradient_over_a_large_batch_never_forms_one_product_per_entry() -> None:
    """dW = Σ_β G_β·X_βᵀ for a W shared by 2000 batch entries: no (2000, m, k) intermediate (40 MB here)."""
    rng = np.random.default_rng(7)
    W, X = rng.normal(size=(50, 50)), rng.normal(size=(2000, 50, 4))
    G = rng.normal(size=(2000, 50, 4))
    tracemalloc.start()
    try:
        grads = backward(X, 0.0, G, W, wrt=("W",))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert grads.dW is not None
    np.testing.assert_allclose(grads.dW, np.einsum("bmn,bkn->mk", G, X), atol=1e-9)
    assert peak < 12_000_000  # the operands are 3.2 MB each; one product per entry would be 40 MB


# ---- Jacobian blocks without a closed form ----

def test_blocks_without_a_closed_form_compute_the_forward_pass_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from wxb.core import jacobian
    from wxb.core import primitives as rules

    calls = []
    matmul = rules.PRIMITIVES["matmul"]

    def counted(node: object, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        calls.append(1)
        return matmul.forward(node, x, y)

    monkeypatch.setitem(rules.PRIMITIVES, "matmul", dataclasses.replace(matmul, forward=counted))
    rng = np.random.default_rng(3)
    problem = wxb.core.Problem.build("softmax(W @ X + b)", {"W": rng.standard_normal((6, 6)),
                                                   "X": rng.standard_normal((6, 5)), "b": rng.standard_normal(6)})
    calls.clear()
    jacobian.block(problem, "b", 0)
    assert len(calls) == 1, f"W @ X computed {len(calls)} times for one block of 6 rows"
    calls.clear()
    memo: jacobian.Memo = {}
    blocks = [jacobian.block(problem, "b", k, memo=memo) for k in range(5)]
    dense = jacobian.dense(problem, "b", memo=memo)
    assert len(calls) == 1, f"W @ X computed {len(calls)} times for 5 blocks and the dense Jacobian"
    for k, block in enumerate(blocks):
        np.testing.assert_allclose(block, dense[:, k, :])


def test_jacobian_values_are_remembered_only_in_a_cache_the_caller_passes() -> None:
    from wxb.core import jacobian

    assert {k for k, v in vars(jacobian).items() if isinstance(v, dict) and not k.startswith("__")} <= {"PRIMITIVES"}
    problem = wxb.core.Problem.build("tanh(W @ X + b)", {"W": np.eye(2), "X": np.ones((2, 2)), "b": np.ones(2)})
    memo: jacobian.Memo = {}
    first = jacobian.structure(problem, "b", memo=memo)
    assert memo and jacobian.structure(problem, "b", memo=memo) == first == jacobian.structure(problem, "b")
