"""The rows of issue 20 item 5 beyond the elementwise ones: kron, vec (and its inverse unvec), cross_entropy (and
onehot): values and every gradient against autograd, their tangent rules against autograd's make_jvp, the Matrix
Cookbook's vec(AXB) = (Bᵀ ⊗ A) vec X through the real CLI, PyTorch's cross-entropy reductions by hand, and the
one-line errors for shapes and labels."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from conftest import wxb
from primitive_cases import oracle_blockdot, oracle_blocksum, oracle_cross_entropy, oracle_unvec, oracle_vec

from wxb.core.engine import Problem
from wxb.core.errors import ShapeError, WxbError
from wxb.core.expr import parse
from wxb.core.primitives import kronecker, reductions
from wxb.core.symbolic import derive

RNG = np.random.default_rng(20)


def as_column(a: Any) -> Any:
    return anp.reshape(a, (-1, 1)) if anp.ndim(a) == 1 else a


def backward_matches_autograd(expr: str, operands: dict[str, np.ndarray], oracle: Callable[..., Any],
                              wrt: tuple[str, ...]) -> None:
    """f and each gradient in wrt (for a random G) equal autograd's value and VJP of the oracle."""
    problem = Problem.build(expr, operands)
    f = oracle(*operands.values())
    np.testing.assert_allclose(problem.forward(), f, rtol=1e-12, atol=1e-12)
    G = RNG.uniform(-1, 1, np.shape(f))
    grads = problem.backward(G, wrt=wrt).grads
    names = list(operands)
    for name in wrt:
        i = names.index(name)

        def along(a: Any, i: int = i) -> Any:
            return oracle(*[a if j == i else v for j, v in enumerate(operands.values())])

        expected = autograd.make_vjp(along)(operands[name])[0](G)
        np.testing.assert_allclose(grads[name], expected, rtol=1e-10, atol=1e-12, err_msg=f"d{name} of {expr}")


# ---- kron ----

@pytest.mark.parametrize(("a", "b"), [((2, 3), (4, 2)), ((3,), (2, 2)), ((1, 1), (3, 2)), ((2, 2), (3,))])
def test_kron_and_its_gradients_are_autograds(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    operands = {"A": RNG.uniform(-1, 1, a), "B": RNG.uniform(-1, 1, b)}
    backward_matches_autograd("kron(A, B)", operands, lambda x, y: anp.kron(as_column(x), as_column(y)), ("A", "B"))


def test_kron_is_numpys_on_exact_numbers() -> None:
    done = wxb("forward", "-e", "kron(A, B)", "A=1 2; 3 4", "B=0 1; 1 0", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == np.kron([[1, 2], [3, 4]], [[0, 1], [1, 0]]).tolist()


def test_kron_takes_matrices_only_in_one_line_naming_the_node() -> None:
    with pytest.raises(ShapeError, match=r"^kron\(A, B\): A has shape \(2,2,2\); kron takes a matrix"):
        Problem.build("kron(A, B)", {"A": np.ones((2, 2, 2)), "B": np.ones((2, 2))})
    done = wxb("forward", "-e", "kron(A, B)", "A=1", "B=1 2")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "a scalar" in done.stderr


def test_derive_writes_krons_gradients_through_blockdot_and_blocksum() -> None:
    derivation = derive(parse("sum(kron(A, B) * C)"), {"A": (2, 3), "B": (2, 2), "C": (4, 6)})
    assert (derivation.text("A"), derivation.text("B")) == ("blockdot(C, B)", "blocksum(C, A)")
    done = wxb("derive", "-e", "kron(A, B)", "A=m", "B=pxq")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["dL/dA = blockdot(G, B)", "dL/dB = blocksum(G, A)"]


def test_krons_derived_gradients_evaluate_to_backwards_numbers() -> None:
    """The formulas derive prints, evaluated by forward -e, are backward's values (exact small integers)."""
    operands = {"A": "A=1 2; 3 4", "B": "B=0 1 2", "C": "C=1 0 2 1 1 0; 0 1 1 2 0 1"}
    for name, formula, other in (("A", "blockdot(C, B)", "B"), ("B", "blocksum(C, A)", "A")):
        want = wxb("backward", "-e", "sum(kron(A, B) * C)", *operands.values(), "--wrt", name, "-f", "json")
        got = wxb("forward", "-e", formula, operands["C"], operands[other], "-f", "json")
        assert want.returncode == got.returncode == 0, want.stderr + got.stderr
        assert np.array_equal(np.reshape(json.loads(got.stdout), np.shape(json.loads(want.stdout))),
                              json.loads(want.stdout)), name


@pytest.mark.parametrize(("g", "factor"), [((6, 8), (3, 2)), ((4, 1), (2,)), ((3, 3), (1, 1)), ((6,), (3, 1))])
def test_blockdot_and_blocksum_and_their_gradients_are_autograds(g: tuple[int, ...], factor: tuple[int, ...]) -> None:
    operands = {"H": RNG.uniform(-1, 1, g), "B": RNG.uniform(-1, 1, factor)}
    backward_matches_autograd("blockdot(H, B)", operands, oracle_blockdot, ("H", "B"))
    backward_matches_autograd("blocksum(H, B)", operands, oracle_blocksum, ("H", "B"))


def test_blockdot_and_blocksum_are_krons_adjoints() -> None:
    """⟨A ⊗ B, G⟩ = ⟨A, blockdot(G, B)⟩ = ⟨B, blocksum(G, A)⟩."""
    A, B, G = RNG.uniform(-1, 1, (2, 3)), RNG.uniform(-1, 1, (4, 5)), RNG.uniform(-1, 1, (8, 15))
    node = parse("kron(A, B)")
    inner = np.sum(kronecker.kron(node, A, B) * G)
    assert np.isclose(inner, np.sum(A * kronecker.blockdot(node, G, B)))
    assert np.isclose(inner, np.sum(B * kronecker.blocksum(node, G, A)))


def test_hessian_through_kron_is_autograds() -> None:
    from autograd import hessian

    from wxb.core import curvature as curv

    A, C = RNG.uniform(-1, 1, (2, 2)), RNG.uniform(-1, 1, (4, 4))
    c = curv.curvature("sum(kron(A, A) ** 2 * C)", {"A": A, "C": C}, ("A",))
    want = hessian(lambda a: anp.sum(anp.kron(a, a) ** 2 * C))(A)
    np.testing.assert_allclose(curv.block(c, "A", "A", limit=100), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("expr", "phrase"), [("blockdot(H, B)", "is not a grid of (4,2) blocks, the shape of B"),
                                              ("blocksum(H, B)", "is not a grid of (4,2) blocks, the shape of B")])
def test_a_g_not_made_of_blocks_is_one_line(expr: str, phrase: str) -> None:
    done = wxb("forward", "-e", expr, "H=1 2 3 4; 5 6 7 8; 1 2 3 4", "B=1 2; 3 4; 5 6; 7 8")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and phrase in done.stderr, done.stderr


# ---- vec and unvec ----

@pytest.mark.parametrize("shape", [(3, 4), (4,), (1, 5)])
def test_vec_stacks_the_columns_and_its_gradient_is_autograds(shape: tuple[int, ...]) -> None:
    x = RNG.uniform(-1, 1, shape)
    np.testing.assert_array_equal(Problem.build("vec(X)", {"X": x}).forward(),
                                  x.reshape(-1, order="F").reshape(-1, 1) if x.ndim == 2 else x.reshape(-1, 1))
    backward_matches_autograd("vec(X)", {"X": x}, oracle_vec, ("X",))


def test_unvec_inverts_vec_and_its_gradient_is_autograds() -> None:
    x = RNG.uniform(-1, 1, (3, 4))
    np.testing.assert_array_equal(Problem.build("unvec(vec(X), X)", {"X": x}).forward(), x)
    v = RNG.uniform(-1, 1, (12, 1))
    backward_matches_autograd("unvec(v, X)", {"v": v, "X": x}, oracle_unvec, ("v", "X"))
    backward_matches_autograd("unvec(v, X)", {"v": v[:, 0], "X": x}, oracle_unvec, ("v",))


def test_unvec_refuses_a_column_of_the_wrong_size_in_one_line() -> None:
    with pytest.raises(ShapeError, match=r"^unvec\(v, X\): v \(5,1\) is not a column of 6 entries"):
        Problem.build("unvec(v, X)", {"v": np.ones((5, 1)), "X": np.ones((2, 3))})
    with pytest.raises(ShapeError, match="is not a column"):
        Problem.build("unvec(v, X)", {"v": np.ones((2, 3)), "X": np.ones((3, 2))})


def test_the_cookbook_identity_vec_AXB_through_the_cli() -> None:
    """vec(A X B) = (Bᵀ ⊗ A) vec X (The Matrix Cookbook, eq. 520), both sides evaluated by `wxb forward -e`."""
    operands = ["A=1 2 0; -1 3 2", "X=2 0 1 1; 0 1 -2 3; 1 1 0 -1", "B=1 0; 2 -1; 0 3; 1 1"]
    left = wxb("forward", "-e", "vec(A @ X @ B)", *operands, "--format", "json")
    right = wxb("forward", "-e", "kron(B.T, A) @ vec(X)", *operands, "--format", "json")
    assert left.returncode == right.returncode == 0, left.stderr + right.stderr
    a, x, b = (np.array([[float(v) for v in row.split()] for row in op[2:].split(";")]) for op in operands)
    expected = (a @ x @ b).reshape(-1, order="F").reshape(-1, 1)
    assert json.loads(left.stdout) == json.loads(right.stdout) == expected.tolist()


def test_derive_writes_vecs_gradient_with_unvec_and_it_equals_backward() -> None:
    shapes = {"A": (2, 3), "X": (3, 4), "B": (4, 2)}
    derivation = derive(parse("vec(A @ X @ B)"), shapes, wrt=["X"])
    assert derivation.text("X") == "A.T @ (unvec(G, A @ X @ B) @ B.T)"
    operands = {name: RNG.uniform(-1, 1, s) for name, s in shapes.items()}
    G = RNG.uniform(-1, 1, (4, 1))
    got = Problem.build(parse(derivation.text("X"), upstream=True), {**operands, "G": G}).forward()
    np.testing.assert_allclose(got, Problem.build("vec(A @ X @ B)", operands).backward(G).grads["X"], rtol=1e-12)


# ---- cross_entropy and onehot ----

Z = np.array([[1.0, -2.0, 0.5, 3.0, 0.0], [0.0, 1.0, 2.5, -1.0, 0.0], [2.0, 0.5, -0.5, 1.0, 0.0]])
Y = np.array([2.0, 0.0, 1.0, 1.0, 2.0])


@pytest.mark.parametrize("labels", [Y, Y.reshape(1, -1), Y.astype(np.int64)])
def test_cross_entropy_and_its_gradient_are_autograds(labels: np.ndarray) -> None:
    backward_matches_autograd("cross_entropy(Z, y)", {"Z": Z, "y": labels}, oracle_cross_entropy, ("Z",))


def test_the_sum_is_minus_the_sum_of_onehot_times_log_softmax() -> None:
    """sum(cross_entropy(Z, y)) = −Σ T ⊙ log_softmax(Z, axis=0) for T = onehot(y): PyTorch's reduction='sum'."""
    T = (np.arange(3).reshape(-1, 1) == Y).astype(float)
    total = Problem.build("sum(cross_entropy(Z, y))", {"Z": Z, "y": Y}).forward()
    by_target = Problem.build("-sum(T * log_softmax(Z, axis=0))", {"Z": Z, "T": T}).forward()
    by_onehot = Problem.build("-sum(onehot(y, Z) * log_softmax(Z, axis=0))", {"Z": Z, "y": Y}).forward()
    np.testing.assert_allclose(total, by_target, rtol=1e-13)
    np.testing.assert_allclose(by_onehot, by_target, rtol=1e-13)
    grads = Problem.build("sum(cross_entropy(Z, y))", {"Z": Z, "y": Y}).backward().grads
    softmax = np.exp(Z) / np.exp(Z).sum(axis=0)
    np.testing.assert_allclose(grads["Z"], softmax - T, rtol=1e-12, atol=1e-15)


def test_the_mean_is_pytorchs_default_reduction_by_hand() -> None:
    """F.cross_entropy(logits, target) with logits (n, C) = Zᵀ: the mean over samples of −log p[target]."""
    logits = Z.T
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    by_hand = -np.mean(log_p[np.arange(5), Y.astype(int)])
    got = Problem.build("mean(cross_entropy(Z, y))", {"Z": Z, "y": Y}).forward()
    np.testing.assert_allclose(got, by_hand, rtol=1e-13)


def test_cross_entropy_is_stable_for_huge_scores() -> None:
    z = np.array([[1000.0, -1000.0], [0.0, 1000.0]])
    np.testing.assert_allclose(Problem.build("cross_entropy(Z, y)", {"Z": z, "y": np.array([0.0, 0.0])}).forward(),
                               [[0.0, 2000.0]], atol=1e-12)


def test_one_sample_a_column_of_scores_and_its_label_a_number() -> None:
    done = wxb("forward", "-e", "cross_entropy(z, y)", "z=0; 0; 0", "y=2", "--format", "json")
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(json.loads(done.stdout), [[np.log(3.0)]], rtol=1e-15)


def test_the_labels_have_a_documented_zero_gradient() -> None:
    done = wxb("backward", "-e", "sum(cross_entropy(Z, y))", "Z=0 0; 0 0", "y=1 0", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"dZ": [[0.5, -0.5], [-0.5, 0.5]], "dy": [[0.0, 0.0]]}
    assert "0 (the labels are class indices)" in wxb("help", "cross_entropy").stdout


@pytest.mark.parametrize(("labels", "shown"), [("1 3", "3.0 at column 1"), ("-1 0", "-1.0 at column 0"),
                                               ("0 0.5", "0.5 at column 1"), ("nan 0", "nan at column 0")])
def test_labels_out_of_range_negative_or_not_integers_are_one_line_exit_2(labels: str, shown: str) -> None:
    done = wxb("forward", "-e", "cross_entropy(Z, y)", "Z=1 2; 3 4; 0 0", f"y={labels}")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"wxb: error: cross_entropy(Z, y): y has {shown}, not a class label of Z "
                                  "(an integer from 0 to 2)")
    with pytest.raises(WxbError, match="not a class label"):
        Problem.build("onehot(y, Z)", {"Z": np.ones((3, 2)), "y": np.array([float(v) for v in labels.split()])
                                       }).forward()


@pytest.mark.parametrize(("z", "y"), [((3, 4), (4, 1)), ((3, 4), (3,)), ((2, 3, 4), (4,)), ((3, 4), (2, 4))])
def test_labels_that_do_not_fit_the_scores_are_one_line(z: tuple[int, ...], y: tuple[int, ...]) -> None:
    with pytest.raises(ShapeError, match=r"^cross_entropy\(Z, y\): Z .* and y .* do not fit"):
        Problem.build("cross_entropy(Z, y)", {"Z": np.zeros(z), "y": np.zeros(y)})


def test_derive_writes_the_softmax_cross_entropy_gradient() -> None:
    derivation = derive(parse("sum(cross_entropy(W @ X, y))"), {"W": (3, 4), "X": (4, 5), "y": (5,)}, wrt=["W"])
    assert derivation.text("W") == "(softmax(W @ X) - onehot(y, W @ X)) @ X.T"


# ---- the tangent rules (forward mode), for the lead to wire as the rows' jvps ----

def jvp_matches_autograd(rule: Callable[..., Any], oracle: Callable[..., Any], args: list[np.ndarray],
                         index: int) -> None:
    t = RNG.uniform(-1, 1, args[index].shape)
    ans = oracle(*args)

    def along(a: Any) -> Any:
        return oracle(*[a if j == index else v for j, v in enumerate(args)])

    expected = autograd.make_jvp(along)(args[index])(t)[1]
    got = rule(None, t, ans, *args)
    np.testing.assert_allclose(np.broadcast_to(got, np.shape(ans)), expected, rtol=1e-10, atol=1e-12)


def test_the_tangent_rules_are_autograds_make_jvp() -> None:
    a, b = RNG.uniform(-1, 1, (2, 3)), RNG.uniform(-1, 1, (3, 2))
    kron_oracle = lambda x, y: anp.kron(as_column(x), as_column(y))  # noqa: E731
    jvp_matches_autograd(kronecker.kron_jvp_left, kron_oracle, [a, b], 0)
    jvp_matches_autograd(kronecker.kron_jvp_right, kron_oracle, [a, b], 1)
    jvp_matches_autograd(kronecker.vec_jvp, oracle_vec, [a], 0)
    v = RNG.uniform(-1, 1, (6, 1))
    jvp_matches_autograd(kronecker.unvec_jvp_left, oracle_unvec, [v, a], 0)
    np.testing.assert_array_equal(kronecker.unvec_shape_only(None, a, oracle_unvec(v, a), v, a), np.zeros((2, 3)))
    jvp_matches_autograd(reductions.cross_entropy_jvp_z, oracle_cross_entropy, [Z, Y], 0)
    zero = reductions.flat_jvp(None, Y, oracle_cross_entropy(Z, Y), Z, Y)
    np.testing.assert_array_equal(zero, np.zeros((1, 5)))


def test_check_cannot_step_the_labels_and_says_so_while_it_checks_the_scores() -> None:
    done = wxb("check", "-e", "sum(cross_entropy(Z, y))", "Z=1 2; 3 4; 0 0", "y=1 0")
    assert done.returncode == 0, done.stderr
    assert "dZ        all 6 entries" in done.stdout and "✓ pass" in done.stdout
    assert "dy: cannot check: a finite-difference step along y leaves what the expression accepts" in " ".join(
        done.stdout.split())
