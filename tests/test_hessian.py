"""Second derivatives: `wxb hessian`, `derive --order 2` and `check --order 2` against autograd's `hessian` and
`make_hvp` on random expression trees and on the Matrix Cookbook's second-order identities; the structure printed;
the command as a real process (exit codes, errors, formats)."""

from __future__ import annotations

import io
import json
import math

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import hessian as autograd_hessian
from autograd import make_hvp
from conftest import wxb
from hypothesis import HealthCheck, assume, event, given, settings
from test_derive import REFUSALS
from test_engine_oracle import Case, cases, evaluate, well_posed
from test_jvp_cli import one_error

from wxb.core import curvature as curv
from wxb.core.errors import BiasEnlargesError

pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:Output seems independent of input")]  # autograd, on a constant H
RNG = np.random.default_rng(21)


def weighted(case: Case) -> curv.Curvature | None:
    """L = Σ G ⊙ f of a random tree, with its gradient formulas; None (and an event) where derive refuses."""
    text, name = curv.loss_expression(case.text, None, tuple(case.operands), upstream=True)
    operands = {**{n: a.astype(np.float64) for n, a in case.operands.items()}, name: np.asarray(case.G, float)}
    try:
        return curv.curvature(text, operands, tuple(case.operands))
    except curv.DeriveError as error:
        reason = [why for phrase, why in REFUSALS.items() if phrase in str(error)]
        assert reason, f"an undocumented refusal: {error}"
        event(f"derive refused: {reason[0]}")
    except BiasEnlargesError:
        event("derive wrote a kept G beside a column (a known bug)")
    except ValueError as error:
        assert "could not be broadcast together" in str(error), error
        event("derive wrote a kept G that does not broadcast back (a known bug)")
    return None


@given(cases(dtypes=(np.float64,)))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_trees_hvp_and_blocks_equal_autograds_hessian_and_make_hvp(case: Case) -> None:
    env = well_posed(case)
    c = weighted(case)
    assume(c is not None)
    assert c is not None
    names = tuple(case.operands)
    first = names[0]
    assume(0 < c.size(first) <= 60)
    G = np.asarray(case.G, dtype=np.float64)

    def loss(x: np.ndarray) -> object:
        return anp.sum(G * evaluate(case.tree, {**env, first: x}))

    v = RNG.standard_normal(c.shape(first))
    want_hvp = make_hvp(loss)(env[first])[0](v)
    got = curv.hvp(c, {first: v})[first]
    scale = 1.0 + float(np.max(np.abs(want_hvp), initial=0.0))
    np.testing.assert_allclose(got, want_hvp, rtol=1e-7, atol=1e-8 * scale, err_msg=case.text)
    want_h = autograd_hessian(loss)(env[first])
    block = curv.block(c, first, first, limit=10**6)
    np.testing.assert_allclose(block, want_h, rtol=1e-7, atol=1e-8 * (1 + float(np.max(np.abs(want_h),
                                                                                       initial=0.0))))


# ---- the Matrix Cookbook's second-order identities ----

def cookbook(expr: str, operands: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """wxb's dense block and H·v for a random v, as (H, Hv)."""
    c = curv.curvature(expr, operands, (name,))
    v = RNG.standard_normal(c.shape(name))
    return curv.block(c, name, name, limit=10**6), curv.hvp(c, {name: v})[name] - np.tensordot(
        curv.block(c, name, name, limit=10**6), v, axes=len(c.shape(name)))


A5, B4 = RNG.standard_normal((5, 5)), RNG.standard_normal((4, 4))


@pytest.mark.parametrize(("expr", "operands", "name", "expected"), [
    ("x.T @ A @ x", {"x": RNG.standard_normal(5), "A": A5}, "x", lambda o: o["A"] + o["A"].T),
    ("sum((A @ x - b) ** 2)", {"A": RNG.standard_normal((6, 3)), "x": RNG.standard_normal(3),
                               "b": RNG.standard_normal(6)}, "x", lambda o: 2 * o["A"].T @ o["A"]),
    ("a.T @ X.T @ X @ c", {"a": RNG.standard_normal(4), "X": RNG.standard_normal((3, 4)),
                           "c": RNG.standard_normal(4)}, "X",
     lambda o: np.einsum("ik,j,l->ijkl", np.eye(3), o["a"], o["c"]) + np.einsum("ik,j,l->ijkl", np.eye(3), o["c"],
                                                                                   o["a"])),
    ("logdet(X)", {"X": 4 * np.eye(3) + RNG.uniform(-0.5, 0.5, (3, 3))}, "X",
     lambda o: -np.einsum("jk,li->ijkl", np.linalg.inv(o["X"]), np.linalg.inv(o["X"]))),
    ("trace(A @ X @ B @ X.T)", {"A": A5, "X": RNG.standard_normal((5, 4)), "B": B4}, "X",
     lambda o: np.einsum("ik,lj->ijkl", o["A"], o["B"]) + np.einsum("ki,jl->ijkl", o["A"], o["B"])),
])
def test_cookbook_second_order_identities(expr: str, operands: dict[str, np.ndarray], name: str,
                                          expected: object) -> None:
    H, residual = cookbook(expr, operands, name)
    want = expected(operands)  # type: ignore[operator]
    np.testing.assert_allclose(H, want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(residual, 0, atol=1e-9)
    got = autograd_hessian(lambda t: _autograd_of(expr, {**operands, name: t}))(operands[name])
    np.testing.assert_allclose(H, got, rtol=1e-9, atol=1e-9)


def _autograd_of(expr: str, env: dict[str, object]) -> object:
    """The cookbook expressions in autograd's NumPy (1-D operands as columns, as wxb reads them)."""
    e = {k: (anp.reshape(v, (-1, 1)) if anp.ndim(v) == 1 else v) for k, v in env.items()}
    table = {
        "x.T @ A @ x": lambda: anp.sum(e["x"].T @ e["A"] @ e["x"]),
        "sum((A @ x - b) ** 2)": lambda: anp.sum((e["A"] @ e["x"] - e["b"]) ** 2),
        "a.T @ X.T @ X @ c": lambda: anp.sum(e["a"].T @ e["X"].T @ e["X"] @ e["c"]),
        "logdet(X)": lambda: anp.linalg.slogdet(e["X"])[1],
        "trace(A @ X @ B @ X.T)": lambda: anp.trace(e["A"] @ e["X"] @ e["B"] @ e["X"].T),
    }
    return table[expr]()


# ---- structure ----

LS = {"W": RNG.standard_normal((3, 4)), "X": RNG.standard_normal((4, 5)), "b": RNG.standard_normal(3),
      "Y": RNG.standard_normal((3, 5))}


@pytest.mark.parametrize(("expr", "operands", "first", "second", "kron", "constant"), [
    ("sum((W @ X + b - Y) ** 2)", LS, "W", "W", "2 · (X @ X.T) ⊗ I₃", True),
    ("sum((W @ X + b - Y) ** 2)", LS, "X", "X", "2 · I₅ ⊗ (W.T @ W)", True),  # in X alone: W is held
    ("sum((W @ X + b - Y) ** 2)", LS, "b", "b", "10 · I₃", True),
    ("x.T @ A @ x", {"x": RNG.standard_normal(5), "A": A5}, "x", "x", "A + A.T", True),
    ("sum((W @ X + b - Y) ** 2)", LS, "W", "b", None, True),
])
def test_structure_of_least_squares_quadratic_form_and_a_block(expr: str, operands: dict[str, np.ndarray],
                                                               first: str, second: str, kron: str | None,
                                                               constant: bool) -> None:
    c = curv.curvature(expr, operands, tuple(dict.fromkeys((first, second))))
    formula, found, is_constant = curv.structure(c, first, second)
    assert (found, is_constant) == (kron, constant), formula
    H = curv.block(c, first, second, limit=10**6)
    assert H.shape == c.shape(first) + c.shape(second)
    if kron is not None and first == "W":  # the Kronecker form is the matrix in vec (column-stacking) form
        X = operands["X"]
        vec = H.transpose(1, 0, 3, 2).reshape(12, 12)
        np.testing.assert_allclose(vec, 2 * np.kron(X @ X.T, np.eye(3)), atol=1e-12)


def test_a_1d_operand_hessian_is_its_own_matrix_and_the_spectrum_says_convex() -> None:
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    c = curv.curvature("x.T @ A @ x", {"x": np.ones(2), "A": A}, ("x",))
    H = curv.block(c, "x", "x", limit=100)
    np.testing.assert_array_equal(H, 2 * A)
    dense = curv.dense_spectrum(H)
    lanczos = curv.spectrum(curv.curvature("sum((W @ X) ** 2)", {"W": RNG.standard_normal((4, 6)),
                                                                 "X": np.eye(6)[:, :3]}, ("W",)))
    assert dense.definiteness == "positive definite" and "convex" in dense.meaning
    assert math.isclose(dense.condition, (5 + math.sqrt(5)) / (5 - math.sqrt(5)))
    assert lanczos.definiteness == "positive semidefinite" and math.isclose(lanczos.largest, 2.0)
    saddle = curv.dense_spectrum(np.diag([1.0, -2.0]))
    assert saddle.definiteness == "indefinite" and saddle.condition == 2.0


def test_a_hessian_whose_second_pass_meets_eye_is_zero() -> None:
    """trace(--w) of a 1-element w: the second pass differentiates eye(w), whose VJP needs w's shape (found by
    hypothesis; eye's row did not keep its argument)."""
    c = curv.curvature("trace(--w)", {"w": np.array([0.5])}, ("w",))
    np.testing.assert_array_equal(curv.block(c, "w", "w", limit=10), np.zeros((1, 1)))


# ---- the command ----

EXPR = "sum((W @ X + b - Y) ** 2)"
ARGS = ["-e", EXPR, "W=1 2; 3 4", "X=1 0 1; 0 1 1", "b=1; 0", "Y=0 0 0; 0 0 0"]


def test_cli_vector_is_autograds_hvp() -> None:
    done = wxb("hessian", *ARGS, "--wrt", "W", "--vector", "W=1 0; 0 1", "-f", "json")
    assert done.returncode == 0, done.stderr
    X = np.array([[1.0, 0, 1], [0, 1, 1]])
    np.testing.assert_allclose(json.loads(done.stdout), 2 * np.eye(2) @ X @ X.T)


def test_cli_dense_h_as_npy_json_csv_and_npz_blocks(tmp_path: object) -> None:
    done = wxb("hessian", *ARGS, "--wrt", "W", "-f", "json")
    H = np.array(json.loads(done.stdout))
    X = np.array([[1.0, 0, 1], [0, 1, 1]])
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H.transpose(1, 0, 3, 2).reshape(4, 4), 2 * np.kron(X @ X.T, np.eye(2)))
    csv = wxb("hessian", *ARGS, "--wrt", "W")  # a pipe: the (size × size) matrix in C order
    np.testing.assert_allclose(np.loadtxt(io.StringIO(csv.stdout), delimiter=","), H.reshape(4, 4))
    blocks = wxb("hessian", *ARGS, "--wrt", "W,b", "-f", "json")
    record = json.loads(blocks.stdout)
    assert set(record) == {"W,W", "W,b", "b,W", "b,b"}
    assert np.array(record["W,b"]).shape == (2, 2, 2, 1)
    np.testing.assert_allclose(np.array(record["b,b"]).reshape(2, 2), 6 * np.eye(2))
    from pathlib import Path

    folder = Path(str(tmp_path))
    assert wxb("hessian", *ARGS, "--wrt", "W,b", "-o", str(folder / "h.npz")).returncode == 0
    assert wxb("hessian", *ARGS, "--wrt", "W", "-o", str(folder / "h.npy")).returncode == 0
    with np.load(folder / "h.npz") as npz:
        assert sorted(npz.files) == ["W,W", "W,b", "b,W", "b,b"]
        np.testing.assert_array_equal(npz["W,b"], record["W,b"])
    np.testing.assert_array_equal(np.load(folder / "h.npy"), H)


def test_cli_text_prints_the_structure_and_labelled_rows() -> None:
    done = wxb("hessian", *ARGS, "--wrt", "W", "-f", "text")
    assert done.returncode == 0, done.stderr
    assert "∂²L/∂vec W² = 2 · (X @ X.T) ⊗ I₂" in done.stdout
    assert "constant" in done.stdout and "W[1,0]" in done.stdout


def test_cli_eig_json() -> None:
    done = wxb("hessian", "-e", "x.T @ A @ x", "x=1; 2", "A=1 0; 0 1", "--wrt", "x", "--eig", "-f", "json")
    assert json.loads(done.stdout) == {"smallest": 2.0, "largest": 2.0, "definiteness": "positive definite",
                                       "condition": 1.0, "size": 2, "method": "eigvalsh (dense)"}


@pytest.mark.parametrize(("args", "phrase"), [
    (["-e", "max(W @ X)", "W=1 2; 3 4", "X=1 0; 0 1"], "no second derivative"),
    ([*ARGS, "--wrt", "W", "--vector", "Z=1"], "names no operand differentiated"),
    ([*ARGS, "--wrt", "W", "--vector", "W=1 2 3"], "shape"),
    ([*ARGS, "--wrt", "W", "--vector", "W=1 0; 0 1", "--eig"], "not both"),
    (["-e", "W @ X", "W=1 2; 3 4", "X=1 0; 0 1", "--loss", "mse"], "needs a target"),
])
def test_cli_errors_are_one_line_and_exit_2(args: list[str], phrase: str) -> None:
    done = wxb("hessian", *args)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith("wxb: error: ") and done.stderr.count("\n") == 1 and phrase in done.stderr, \
        done.stderr


def test_cli_too_large_with_data(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    np.save(folder / "W.npy", np.ones((80, 50)))
    done = wxb("hessian", "-e", "sum(W ** 2)", f"W={folder / 'W.npy'}", "-f", "json")
    assert done.returncode == 2 and "too large to form here" in done.stderr and "--vector" in done.stderr
    eig = wxb("hessian", "-e", "sum(W ** 2)", f"W={folder / 'W.npy'}", "--eig", "-f", "json")
    assert eig.returncode == 0, eig.stderr
    summary = json.loads(eig.stdout)
    assert math.isclose(summary["smallest"], 2.0) and math.isclose(summary["largest"], 2.0)
    assert summary["method"].startswith("Lanczos")


def test_cli_dask_is_noted_not_used() -> None:
    done = wxb("hessian", *ARGS, "--wrt", "b", "--dask", "-f", "json")
    assert done.returncode == 0 and "computes in memory" in done.stderr


def test_derive_order_2_evaluates_to_hessian_vector() -> None:
    done = wxb("derive", "-e", EXPR, "--wrt", "W", "--order", "2")
    assert done.stdout.splitlines()[0] == "d²L/dW² · V = 2 * V @ X @ X.T" and "constant" in done.stdout
    formula = done.stdout.splitlines()[0].split(" = ", 1)[1]
    value = wxb("forward", "-e", formula, "V=1 0; 0 1", "X=1 0 1; 0 1 1", "-f", "json")
    hvp = wxb("hessian", *ARGS, "--wrt", "W", "--vector", "W=1 0; 0 1", "-f", "json")
    assert json.loads(value.stdout) == json.loads(hvp.stdout)
    quad = wxb("derive", "-e", "x.T @ A @ x", "x=3", "A=3x3", "--wrt", "x", "--order", "2")
    assert quad.stdout.startswith("d²L/dx² · V = (A + A.T) @ V\n")
    logdet = wxb("derive", "-e", "logdet(X)", "X=3x3", "--order", "2")
    assert "constant" not in logdet.stdout and "inv(X)" in logdet.stdout
    refused = wxb("derive", "-e", "W @ X", "--order", "2")
    assert refused.returncode == 2 and "scalar L" in refused.stderr


def test_check_order_2_checks_hvp_against_differences_of_the_gradient() -> None:
    done = wxb("check", "-e", "sum(tanh(W @ X))", "W=1 0; 0 1", "X=1 0; 0 1", "--order", "2", "-f", "text")
    assert done.returncode == 0 and "H·v" in done.stdout and "pass" in done.stdout, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.lstrip().startswith(("dW", "dX"))]
    assert len(rows) == 2 and all("all 4 entries" in row for row in rows), done.stdout


def test_cli_upstream_G_and_mse_loss_are_the_losses_backward_takes() -> None:
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    weighted = wxb("hessian", "-e", "tanh(W @ X)", "W=1 0; 0 1", "X=1 2; 3 4", "-G", "1 0; 0 1", "--wrt", "W",
                   "-f", "json")
    want = autograd_hessian(lambda W: anp.sum(np.eye(2) * anp.tanh(W @ X)))(np.eye(2))
    np.testing.assert_allclose(np.array(json.loads(weighted.stdout)), want, rtol=1e-12)
    mse = wxb("hessian", "-W", "1 0; 0 1", "-X", "1 2; 3 4", "-b", "0; 0", "--loss", "mse", "-T", "1 1; 1 1",
              "--wrt", "b", "-f", "json")
    assert np.array(json.loads(mse.stdout)).reshape(2, 2).tolist() == [[1.0, 0.0], [0.0, 1.0]]  # 2·2/N, N = 4


# ---- what the command says where H, its gradient or its summary is not what it seems ----

RANK_2 = ["-e", "sum((X @ w) ** 2)", "w=1; 2; 3", "X=0.1 0.7 0.3; 0.3 0.4 0.9"]  # H = 2 XᵀX, 3 × 3 of rank 2


@pytest.mark.parametrize("args", [[*RANK_2, "--wrt", "w"], ["-e", "x.T @ A @ x", "x=1; 2", "A=1 1; 1 1",
                                                             "--wrt", "x,A"]])
def test_a_singular_h_has_an_infinite_condition_number_in_text_and_json(args: list[str]) -> None:
    text = wxb("hessian", *args, "--eig", "-f", "text")
    assert text.returncode == 0, text.stderr
    assert "\ncondition number     inf" in text.stdout, text.stdout
    done = wxb("hessian", *args, "--eig", "-f", "json")
    summary = json.loads(done.stdout)  # standard JSON: inf is null, and a warning says so
    assert done.returncode == 0 and summary["condition"] is None, done.stdout
    assert "condition number is infinite" in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_the_condition_number_follows_the_definiteness() -> None:
    semidefinite = curv.Spectrum(0.0, 2.0, 3, "Lanczos")
    assert semidefinite.definiteness == "positive semidefinite" and semidefinite.condition == math.inf
    assert curv.Spectrum(-1e-17, 2.0, 3, "eigvalsh", 1e-17).condition == math.inf
    assert curv.Spectrum(-3.0, 2.0, 3, "eigvalsh", 1e-17).condition == math.inf  # indefinite and singular
    assert curv.Spectrum(-3.0, 2.0, 3, "eigvalsh", 0.5).condition == 6.0
    assert curv.Spectrum(-3.0, 2.0, 3, "Lanczos").condition is None
    assert curv.Spectrum(1.0, 2.0, 3, "Lanczos").condition == 2.0


def test_eig_where_h_is_not_finite_says_so_not_numpys_text() -> None:
    err = one_error(wxb("hessian", "-e", "sum(sqrt(W))", "W=1 0; 1 2", "--wrt", "W", "--eig"))
    assert "H holds non-finite entries at this point" in err and "W[0,1]" in err and "converge" not in err, err


def test_lanczos_that_does_not_converge_is_one_line_with_a_hint(tmp_path: object, monkeypatch: object) -> None:
    from pathlib import Path

    from scipy.sparse.linalg import ArpackNoConvergence

    def stuck(*args: object, **kwargs: object) -> None:
        raise ArpackNoConvergence("ARPACK error -1: No convergence", np.zeros(0), np.zeros((0, 0)))

    monkeypatch.setattr("scipy.sparse.linalg.eigsh", stuck)  # type: ignore[attr-defined]
    c = curv.curvature("sum(W ** 2)", {"W": np.ones((3, 2))}, ("W",))
    with pytest.raises(curv.NoConvergenceError, match="Lanczos did not converge on the extreme eigenvalues of H"):
        curv.spectrum(c)
    folder = Path(str(tmp_path))
    rng = np.random.default_rng(0)
    np.save(folder / "X.npy", rng.standard_normal((30, 40)))
    np.save(folder / "w.npy", rng.standard_normal((40, 1)))
    args = ["-e", "sum(tanh(X @ w) ** 2)", "X=X.npy", "w=w.npy", "--wrt", "w", "--eig", "-f", "json"]
    done = wxb("hessian", *args, cwd=folder, env={"WXB_MEMORY": "20KB"})  # H semidefinite: λmax = 0 stalled ARPACK
    if done.returncode:
        err = one_error(done)
        assert "Lanczos did not converge" in err and "ARPACK" not in err and "--vector" in err, err
    else:
        dense = json.loads(wxb("hessian", *args, cwd=folder).stdout)
        summary = json.loads(done.stdout)
        assert summary["definiteness"] == dense["definiteness"] == "negative semidefinite", summary
        assert math.isclose(summary["smallest"], dense["smallest"], rel_tol=1e-8)


def test_too_large_to_form_says_its_size_and_the_limit_it_exceeds(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    np.save(folder / "X.npy", np.ones((60, 20)))
    np.save(folder / "w.npy", np.ones((20, 1)))
    args = ["-e", "sum(tanh(X @ w) ** 2)", "X=X.npy", "w=w.npy", "--wrt", "w"]
    err = one_error(wxb("hessian", *args, cwd=folder, env={"WXB_MEMORY": "8KB"}))
    assert "H is 20 × 20 (3.1 kB as float64): too large to form here" in err, err
    assert "needs about 9.4 kB, 8 kB available (WXB_MEMORY)" in err and "--vector" in err, err
    np.save(folder / "W.npy", np.ones((80, 50)))
    err = one_error(wxb("hessian", "-e", "sum(W ** 2)", "W=W.npy", "-f", "json", cwd=folder))
    assert "H is 4,000 × 4,000 (122 MB as float64)" in err and "over the limit of 10,000,000 entries" in err, err


def test_a_gradient_that_fails_its_check_on_nan_or_at_a_kink_says_why_not_please_report() -> None:
    err = one_error(wxb("hessian", "-e", "sum(X * W ** 2)", "W=1 2; 1 2", "X=1 nan; 1 1", "--wrt", "W"))
    assert "X has NaN entries" in err and "the Hessian is not defined" in err and "report" not in err, err
    err = one_error(wxb("hessian", "-e", "tanh(W @ X)", "W=1 2; 1 2", "X=1 0; 1 2", "--wrt", "W",
                        "-G", "1 inf; 1 1"))
    assert "G has infinite entries" in err and "U " not in err and "report" not in err, err
    err = one_error(wxb("hessian", "-e", "norm(W)", "W=0 0; 0 0", "--wrt", "W"))
    assert "dL/dW = W / norm(W) does not hold at this point" in err and "report" not in err, err
    assert "another point" in err, err


def test_a_G_of_another_shape_is_refused_as_backward_refuses_it() -> None:
    args = ["-e", "tanh(W @ X)", "W=1 2; 0.5 1", "X=1 0; 1 2", "-G", "1 2 3"]
    err = one_error(wxb("hessian", *args, "--wrt", "W"))
    said = one_error(wxb("backward", *args)).removeprefix("wxb: error: ").split(" (hint")[0].strip()
    assert said in err and "-G" in err and "U (1,3)" not in err, err


def test_stdin_is_read_once_by_an_operand_or_a_vector() -> None:
    err = one_error(wxb("hessian", "-e", "sum(tanh(W @ X))", "W=1 2; 1 2", "X=-", "--wrt", "W", "--vector", "W=-",
                        stdin="1 0; 0 1\n"))
    assert "two sources read standard input" in err and "--vector W=" in err, err


def test_backward_and_check_name_a_G_of_another_shape_with_a_hint() -> None:
    """backward's -G shape error had no hint and named no option; it is the same line as hessian's now."""
    args = ["-e", "tanh(W @ X)", "W=1 2; 0.5 1", "X=1 0; 1 2", "-G", "1 2 3"]
    for command in ("backward", "check"):
        done = wxb(command, *args)
        assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("wxb: error: G has shape (1,3) but f = tanh(W @ X) has shape (2,2)")
        assert ", in -G (hint: give G = ∂L/∂f of f's shape, or one number)" in done.stderr


def test_subnormal_eigenvalues_are_judged_relative_to_their_own_scale() -> None:
    """diag(2e-320, 6e-320) was 'zero' with an infinite condition number: the tolerance had a 1e-300 floor."""
    done = wxb("hessian", "-e", "x.T @ A @ x", "x=1; 2", "A=1e-320 0; 0 3e-320", "--wrt", "x", "--eig")
    assert done.returncode == 0 and "positive definite" in done.stdout and "condition number     3" in done.stdout
