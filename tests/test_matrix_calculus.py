"""Matrix calculus by hand: the new primitives' conventions (keepdims, the 1-D column rule, ties, the norm at 0,
singular matrices), the textbook identities through `backward`, and the commands that describe them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxb.core import Problem
from wxb.core import jacobian as jac
from wxb.core.errors import ShapeError, SingularMatrixError
from wxb.core.expr import ExpressionError

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(13)


def wxb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wxb.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "100"})


def one_error_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wxb: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def well_conditioned(*shape: int) -> np.ndarray:
    return RNG.uniform(-0.5, 0.5, shape) + 3 * np.eye(shape[-1])


# ---- Textbook identities, numerically through backward ----

def test_d_logdet_is_inverse_transpose() -> None:
    X = RNG.normal(size=(4, 4)) + 4 * np.eye(4)
    np.testing.assert_allclose(Problem.build("logdet(X)", {"X": X}).backward()["X"], np.linalg.inv(X).T,
                               rtol=1e-12)


def test_d_logdet_of_a_negative_determinant() -> None:
    """log |det X|, as slogdet: finite, with the same gradient X⁻ᵀ, where det X < 0."""
    X = np.array([[0.0, 1.0], [1.0, 0.5]])
    problem = Problem.build("logdet(X)", {"X": X})
    assert problem.forward() == pytest.approx(0.0)
    np.testing.assert_allclose(problem.backward()["X"], np.linalg.inv(X).T, rtol=1e-12)


def test_d_trace_AXB_is_AT_BT() -> None:
    A, X, B = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 5)), RNG.normal(size=(5, 3))
    grad = Problem.build("trace(A @ X @ B)", {"A": A, "X": X, "B": B}).backward(wrt="X")["X"]
    np.testing.assert_allclose(grad, A.T @ B.T, rtol=1e-12)


def test_d_quadratic_form_is_A_plus_AT_x() -> None:
    A, x = RNG.normal(size=(4, 4)), RNG.normal(size=4)
    problem = Problem.build("x.T @ A @ x", {"x": x, "A": A})
    assert problem.f_shape == (1,)  # a 1×1 form: x.T is a row (1,4), the 1-D x on the right a column
    np.testing.assert_allclose(problem.forward(), [x @ A @ x], rtol=1e-12)
    np.testing.assert_allclose(problem.backward()["x"], (A + A.T) @ x, rtol=1e-12)  # G = 1 for one entry


def test_d_det_is_cofactors_also_when_singular() -> None:
    X = RNG.normal(size=(3, 3)) + 3 * np.eye(3)
    np.testing.assert_allclose(Problem.build("det(X)", {"X": X}).backward()["X"],
                               np.linalg.det(X) * np.linalg.inv(X).T, rtol=1e-10)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(Problem.build("det(X)", {"X": singular}).backward()["X"],
                               [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)  # adj(X)ᵀ, not 0·∞


def test_solve_gradients_solve_too() -> None:
    A, B = well_conditioned(4, 4), RNG.normal(size=(4, 2))
    G = RNG.normal(size=(4, 2))
    problem = Problem.build("solve(A, B)", {"A": A, "B": B})
    X = np.linalg.solve(A, B)
    np.testing.assert_allclose(problem.forward(), X, rtol=1e-12)
    grads = problem.backward(G)
    gb = np.linalg.solve(A.T, G)
    np.testing.assert_allclose(grads["B"], gb, rtol=1e-12)
    np.testing.assert_allclose(grads["A"], -gb @ X.T, rtol=1e-12)


def test_gaussian_log_likelihood() -> None:
    S, x = well_conditioned(3, 3), RNG.normal(size=3)
    S = S @ S.T
    problem = Problem.build("0.5 * logdet(S) + 0.5 * x.T @ solve(S, x)", {"S": S, "x": x})
    Si = np.linalg.inv(S)
    np.testing.assert_allclose(problem.forward(), [0.5 * np.linalg.slogdet(S)[1] + 0.5 * x @ Si @ x], rtol=1e-12)
    grads = problem.backward()
    np.testing.assert_allclose(grads["x"], Si @ x, rtol=1e-12)
    np.testing.assert_allclose(grads["S"], 0.5 * Si - 0.5 * np.outer(Si @ x, Si @ x), rtol=1e-10)


# ---- The 1-D column rule ----

def test_outer_product_of_two_vectors() -> None:
    x, y, C = RNG.normal(size=3), RNG.normal(size=5), RNG.normal(size=(3, 5))
    problem = Problem.build("sum(C * (x @ y.T))", {"C": C, "x": x, "y": y})
    assert problem.shape(problem.root.args[0].args[1]) == (3, 5)
    assert problem.forward() == pytest.approx(float(np.sum(C * np.outer(x, y))))
    grads = problem.backward()
    np.testing.assert_allclose(grads["x"], C @ y, rtol=1e-12)
    np.testing.assert_allclose(grads["y"], C.T @ x, rtol=1e-12)


def test_a_1d_left_operand_is_a_column() -> None:
    with pytest.raises(ShapeError, match=r"x \(3,\) and A \(3,3\) do not multiply: x has 1 column"):
        Problem.build("x @ A", {"x": np.ones(3), "A": np.eye(3)})
    np.testing.assert_allclose(Problem.build("x.T @ A", {"x": np.arange(3.0), "A": np.eye(3)}).forward(),
                               [[0.0, 1.0, 2.0]])


# ---- Reductions: the axis kept by default, keepdims=False as NumPy, a keyword once ----

def test_reductions_keep_the_axis_by_default() -> None:
    Z = RNG.normal(size=(3, 4))
    soft = Problem.build("exp(Z) / sum(exp(Z), axis=0)", {"Z": Z}).forward()
    np.testing.assert_allclose(soft, np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True), rtol=1e-12)
    centred = Problem.build("Z - mean(Z, axis=1)", {"Z": Z}).forward()
    np.testing.assert_allclose(centred, Z - Z.mean(axis=1, keepdims=True), rtol=1e-12)
    for function in ("sum", "mean", "max", "min", "logsumexp", "norm"):
        assert Problem.build(f"{function}(Z, axis=1)", {"Z": Z}).f_shape == (3, 1)
        assert Problem.build(f"{function}(Z, axis=0, keepdims=False)", {"Z": Z}).f_shape == (4,)
        assert Problem.build(f"{function}(Z)", {"Z": Z}).f_shape == ()
        assert Problem.build(f"{function}(Z, keepdims=True)", {"Z": Z}).f_shape == (1, 1)


def test_a_keyword_given_twice_is_refused() -> None:
    with pytest.raises(ExpressionError, match="given axis= twice"):
        Problem.build("sum(X, axis=0, axis=1)", {"X": np.ones((2, 2))})
    one_error_line(wxb("forward", "-e", "sum(X, axis=0, axis=1)", "X=1 2; 3 4"), "axis= twice")


# ---- Conventions of max, min and norm ----

def test_max_gives_the_gradient_to_the_first_maximiser() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    np.testing.assert_array_equal(Problem.build("max(x)", {"x": x}).backward()["x"], [[0, 1, 0], [0, 0, 0]])
    by_row = Problem.build("max(x, axis=1)", {"x": x}).backward(np.ones((2, 1)))["x"]
    np.testing.assert_array_equal(by_row, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(Problem.build("min(x)", {"x": x}).backward()["x"], [[0, 0, 0], [0, 1, 0]])


def test_norm_and_its_gradient_at_zero() -> None:
    x = np.array([3.0, 4.0])
    problem = Problem.build("norm(x)", {"x": x})
    assert problem.forward() == 5.0
    np.testing.assert_allclose(problem.backward()["x"], [0.6, 0.8])
    zero = Problem.build("norm(X)", {"X": np.zeros((2, 2))})
    assert zero.forward() == 0.0
    np.testing.assert_array_equal(zero.backward()["X"], np.zeros((2, 2)))  # the subgradient 0, not nan


def test_softplus_is_stable() -> None:
    x = np.array([-1000.0, 0.0, 1000.0])
    with np.errstate(all="raise", under="ignore"):
        problem = Problem.build("softplus(x)", {"x": x})
        np.testing.assert_allclose(problem.forward(), [0.0, np.log(2.0), 1000.0])
        np.testing.assert_allclose(problem.backward(np.ones(3))["x"], [0.0, 0.5, 1.0])


# ---- Square matrices: shapes up front, singular matrices in one line ----

@pytest.mark.parametrize("expression", ["det(A)", "logdet(A)", "inv(A)", "solve(A, b)"])
def test_square_matrices_are_checked_up_front(expression: str) -> None:
    with pytest.raises(ShapeError, match=r"A \(2,3\) is not square"):
        Problem.build(expression, {"A": np.ones((2, 3)), **({"b": np.ones(2)} if "b" in expression else {})})


@pytest.mark.parametrize("expression", ["inv(A)", "solve(A, b)", "logdet(A)", "sum(inv(A))"])
def test_a_singular_matrix_is_one_error_line(expression: str) -> None:
    operands = {"A": np.array([[1.0, 2.0], [2.0, 4.0]]), **({"b": np.ones(2)} if "b" in expression else {})}
    with pytest.raises(SingularMatrixError, match="condition number"):
        Problem.build(expression, operands).backward(np.ones(Problem.build(expression, operands).f_shape))
    bound = [f"{name}=" + ("1 2; 2 4" if name == "A" else "[1, 1]") for name in operands]
    one_error_line(wxb("backward", "-e", expression, *bound, "--loss", "sum"), "is singular", "condition number")


@pytest.mark.parametrize(("dtype", "bound"), [("float64", "4.5e+15"), ("float32", "8.4e+06")])
@pytest.mark.parametrize("a", [[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [2.0, 4.0 + 4e-16]]])
def test_a_singular_matrix_names_the_bound_it_exceeds_not_blas_digits(a: list[list[float]], dtype: str,
                                                                        bound: str) -> None:
    """The condition number of a singular matrix is rounding noise (2.52e+16 on one BLAS, 4.8e+16 on another): the
    message says what wxb decided, that it exceeds 1/ε of the dtype, and prints no digit of it."""
    with pytest.raises(SingularMatrixError) as raised:
        Problem.build("inv(A)", {"A": np.array(a, dtype=dtype)}).forward()
    assert f"({dtype}: condition number above 1/ε = {bound})" in str(raised.value)


def test_a_numerically_singular_matrix_is_refused() -> None:
    nearly = np.array([[1.0, 2.0], [2.0, 4.0 + 4e-16]])
    with pytest.raises(SingularMatrixError, match=r"inv\(A\): A \(2,2\) is singular"):
        Problem.build("inv(A)", {"A": nearly}).forward()


# ---- The jacobian of each new primitive: exact blocks, against autograd ----

JACOBIAN_CASES = [
    ("trace(A)", lambda A: anp.sum(A * np.eye(3))),
    ("det(A)", lambda A: anp.linalg.det(A)),
    ("logdet(A)", lambda A: anp.linalg.slogdet(A)[1]),
    ("inv(A)", lambda A: anp.linalg.inv(A)),
    ("solve(A, B)", lambda A: anp.linalg.solve(A, B_FIXED)),
    ("diag(A)", lambda A: anp.diag(A)),
    ("max(A, axis=0)", lambda A: anp.max(A, axis=0, keepdims=True)),
    ("norm(A)", lambda A: anp.sqrt(anp.sum(A * A))),
    ("softplus(A) + sin(A) * cos(A) - log1p(A * A)", lambda A: anp.log(1 + anp.exp(A)) + anp.sin(A) * anp.cos(A)
     - anp.log1p(A * A)),
]
B_FIXED = RNG.normal(size=(3, 2))


@pytest.mark.parametrize(("expression", "oracle"), JACOBIAN_CASES, ids=[c[0] for c in JACOBIAN_CASES])
def test_jacobian_blocks_are_exact(expression: str, oracle: Any) -> None:
    A = well_conditioned(3, 3)
    operands = {"A": A, **({"B": B_FIXED} if "B" in expression else {})}
    problem = Problem.build(expression, operands)
    np.testing.assert_allclose(jac.dense(problem, "A"), autograd.jacobian(oracle)(A), rtol=1e-10, atol=1e-12)
    structure = jac.structure(problem, "A")
    np.testing.assert_allclose(jac.block(problem, "A", 0), jac.dense(problem, "A")[
        tuple(0 if a in structure.block_axes else slice(None) for a in range(len(problem.f_shape)))], atol=1e-12)


# ---- Batched over leading axes, against autograd ----

@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["trace", "det", "logdet", "inv", "diag"]), st.sampled_from([(), (2,), (2, 3)]),
       st.sampled_from([np.float64, np.float32]), st.integers(0, 2**32 - 1))
def test_batched_matrix_functions_agree_with_autograd(op: str, batch: tuple[int, ...], dtype: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    A = (rng.uniform(-0.5, 0.5, (*batch, 3, 3)) + 3 * np.eye(3)).astype(dtype)
    oracles = {"trace": lambda a: anp.sum(a * np.eye(3), axis=(-2, -1)), "det": anp.linalg.det,
               "logdet": lambda a: anp.linalg.slogdet(a)[1], "inv": anp.linalg.inv,
               "diag": lambda a: anp.sum(a * np.eye(3), axis=-1)}
    problem = Problem.build(f"{op}(A)", {"A": A})
    f = problem.forward()
    G = rng.normal(size=f.shape)
    a64 = A.astype(np.float64)
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    assert f.dtype == dtype
    np.testing.assert_allclose(f, oracles[op](a64), rtol=rtol, atol=rtol)
    want = autograd.grad(lambda a: anp.sum(G * oracles[op](a)))(a64)
    np.testing.assert_allclose(problem.backward(G)["A"], want, rtol=rtol, atol=rtol)


# ---- The commands ----

def test_explain_gives_the_rule_of_logdet() -> None:
    done = wxb("explain", "-e", "logdet(A)", "A=2 1; 1 3", "--format", "text")
    assert done.returncode == 0, done.stderr
    assert "d log|det A| = tr(A⁻¹·dA), so dL/dA = G·A⁻ᵀ" in " ".join(done.stdout.split())


def test_check_takes_a_loss_and_says_which_L() -> None:
    done = wxb("check", "-e", "tanh(W @ X)", "W=0.5 1; -1 0.25", "X=1 2; 3 4", "--loss", "mse", "-T", "0 1; 1 0",
               "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] and report["L"].startswith("L = Σ (f − T)² / N")
    summed = json.loads(wxb("check", "-e", "logdet(A)", "A=2 1; 1 3", "--format", "json").stdout)
    assert summed["L"] == "L = f, a scalar, so G = 1" and summed["passed"]
