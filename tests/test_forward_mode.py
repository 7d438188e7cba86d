"""Forward mode (wxb.core.forward_mode) against independent oracles: the dot-product identity ⟨J·v, u⟩ = ⟨v, Jᵀ·u⟩
with the engine's VJPs on random expression trees (the gradient oracle's generator), autograd's forward mode
(`make_jvp`) on those trees and on every row of the table, and the kinks, where the tangent takes backward's
derivative."""

from __future__ import annotations

from typing import Any

import autograd
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from primitive_cases import CASES, COLUMN, OTHER, ROW, WIDE, M, P
from test_engine_oracle import Case, Tree, cases, close, evaluate, oracle_inputs, well_posed

from wxb.core.engine import Problem
from wxb.core.errors import ShapeError, WxbError
from wxb.core.forward_mode import directional, jvp
from wxb.core.primitives import PRIMITIVES

pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:Output seems independent of input")]


def tangents_of(case: Case, seed: int) -> dict[str, np.ndarray]:
    """A tangent for each operand, of its shape, in the case's dtype."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1.0, 1.0, a.shape).astype(case.dtype) for name, a in case.operands.items()}


def autograd_jvp(fun: Any, args: tuple[np.ndarray, ...], vs: tuple[np.ndarray, ...]) -> np.ndarray:
    """autograd's forward mode of fun at args along vs (all arguments at once); where autograd has no forward rule
    (det, slogdet, solve), its JVP by reverse mode over its own VJPs (make_jvp_reversemode)."""
    try:
        _, df = autograd.make_jvp(fun, tuple(range(len(args))))(*args)(vs)
    except NotImplementedError:
        from autograd.differential_operators import make_jvp_reversemode

        parts = [make_jvp_reversemode(fun, i)(*args)(v) for i, v in enumerate(vs)]
        df = sum(np.asarray(part, dtype=np.float64) for part in parts)
    return np.asarray(df, dtype=np.float64)


# ---- (a) the dot-product identity against the engine's VJPs ----

@settings(max_examples=400, deadline=None)
@given(cases(), st.integers(0, 2**32 - 1))
def test_the_tangent_and_the_vjp_satisfy_the_dot_product_identity(case: Case, seed: int) -> None:
    """⟨J·v, G⟩ = Σ_θ ⟨v_θ, dL/dθ⟩ for L = Σ G ⊙ f; kinks need no skipping, both rules take the same derivative."""
    env = oracle_inputs(case)
    with np.errstate(all="ignore"):
        f_oracle = np.asarray(evaluate(case.tree, env))
    assume(np.all(np.isfinite(f_oracle)) and np.all(np.abs(f_oracle) < 1e4))
    problem = Problem.build(case.text, case.operands)
    vs = tangents_of(case, seed)
    f, df = jvp(problem, None, vs)
    assert df.shape == f.shape == problem.f_shape and df.dtype == f.dtype == case.dtype, case.text
    np.testing.assert_array_equal(f, problem.forward())
    grads = problem.backward(case.G)
    G = np.asarray(case.G, dtype=np.float64)
    left = float(np.sum(np.asarray(df, np.float64) * G))
    terms = [np.asarray(vs[n], np.float64) * np.asarray(grads[n], np.float64) for n in case.operands]
    right = float(sum(np.sum(t) for t in terms))
    assume(np.isfinite(left) and np.isfinite(right))
    scale = float(np.sum(np.abs(np.asarray(df, np.float64) * G))) + float(sum(np.sum(np.abs(t)) for t in terms))
    eps = 1e-10 if case.dtype == np.float64 else 1e-4
    assert abs(left - right) <= eps * max(scale, 1.0) * 10, (case.text, left, right)


# ---- (b) autograd's forward mode, on random trees and on every row ----

@settings(max_examples=200, deadline=None)
@given(cases(dtypes=(np.float64,)), st.integers(0, 2**32 - 1))
def test_the_tangent_agrees_with_autograds_make_jvp_on_random_trees(case: Case, seed: int) -> None:
    env = well_posed(case)
    names = tuple(case.operands)
    vs = tangents_of(case, seed)
    assume(all(env[n].size for n in names))

    def fun(*values: Any) -> Any:
        return evaluate(case.tree, {**env, **dict(zip(names, values, strict=True))})

    expected = autograd_jvp(fun, tuple(env[n] for n in names), tuple(vs[n] for n in names))
    _, df = jvp(case.text, case.operands, vs)
    close(df, expected.reshape(df.shape) if expected.size == df.size else expected, 1e-9, f"df of {case.text}")


def plain(op: str, *args: np.ndarray, **fields: Any) -> tuple[str, Tree]:
    """The expression of one row applied to operands A, B (and the oracle's tree for it)."""
    names = ("A", "B")
    leaves = tuple(Tree("var", a.shape, name=n) for n, a in zip(names, args, strict=False))
    tree = Tree(op, (), leaves, **fields)
    return tree.text(), tree


def arguments(name: str) -> list[tuple[tuple[np.ndarray, ...], dict[str, Any]]]:
    """Points at which each row is compared: its formula's arguments, else a matrix of its domain; the binary
    rows also with a column and a row that broadcast; reductions along each axis too."""
    entry, row = CASES[name], PRIMITIVES[name]
    if entry.formula_args:
        points = [(entry.formula_args, {})]
    elif row.arity == 2:
        right = P if name == "div" else OTHER
        points = [((WIDE, M), {})] if row.product else [((M, right), {}), ((M, np.abs(COLUMN) + 0.5), {}),
                                                         ((np.abs(ROW) + 0.5, P), {})]
    else:
        points = [((P if entry.domains == ("positive",) else M,), {})]
    if name == "pow":
        points = [((M,), {"power": p}) for p in (1.0, 2.0, 3.0)] + [((P,), {"power": p}) for p in (0.5, -1.5)]
    if {"axis"} <= {k for k, _ in row.keywords}:
        points += [((points[0][0][0],), {"axis": axis}) for axis in (0, 1, -1)]
    if {"keepdims"} <= {k for k, _ in row.keywords}:
        points += [((M,), {"axis": 1, "keepdims": False}), ((M,), {"axis": None, "keepdims": True})]
    return points


ROW_POINTS = [(name, i) for name in PRIMITIVES for i in range(len(arguments(name)))]


@pytest.mark.parametrize(("name", "index"), ROW_POINTS, ids=[f"{n}-{i}" for n, i in ROW_POINTS])
def test_every_rows_tangent_agrees_with_autograds_make_jvp(name: str, index: int) -> None:
    args, fields = arguments(name)[index]
    text, tree = plain(name, *args, **fields)
    rng = np.random.default_rng(index)
    vs = tuple(rng.uniform(-1, 1, a.shape) for a in args)
    operands = dict(zip(("A", "B"), args, strict=False))
    for which in [*((i,) for i in range(len(args))), tuple(range(len(args)))]:  # each argument, then all at once
        chosen = {n: v for i, (n, v) in enumerate(zip(operands, vs, strict=True)) if i in which}
        f, df = jvp(text, operands, chosen)
        along = tuple(v if i in which else np.zeros_like(v) for i, v in enumerate(vs))

        def fun(*values: Any) -> Any:
            return CASES[name].oracle(tree, *values)

        expected = autograd_jvp(fun, args, along)
        close(df, expected, 1e-10, f"d{text} along {sorted(chosen)}")
        close(f, np.asarray(fun(*args)), 1e-12, f"{text}")


# ---- (d) kinks: the tangent takes backward's derivative, and says so ----

@pytest.mark.parametrize(("expression", "x", "count"), [
    ("relu(X)", [[0.0, 1.0], [-1.0, 0.0]], 2),
    ("abs(X)", [[0.0, 1.0], [-1.0, 2.0]], 1),
    ("sign(X) * X", [[0.0, 1.0], [-1.0, 2.0]], 1),
    ("max(X, axis=0)", [[1.0, 2.0], [1.0, 0.0]], 1),
    ("min(X)", [[1.0, 2.0], [1.0, 3.0]], 1),
    ("norm(X, axis=0)", [[0.0, 3.0], [0.0, 4.0]], 1),
])
def test_at_a_kink_the_tangent_is_the_vjps_transpose_and_is_reported(expression: str, x: list[list[float]],
                                                                      count: int) -> None:
    """J·v from forward mode is exactly the matrix whose transpose backward applies: e_k-by-e_k, column by column."""
    X = np.array(x)
    problem = Problem.build(expression, {"X": X})
    J_forward = np.stack([jvp(problem, None, {"X": e.reshape(X.shape)})[1].reshape(-1) for e in np.eye(X.size)], 1)
    J_reverse = np.stack([problem.backward(e.reshape(problem.f_shape))["X"].reshape(-1)
                          for e in np.eye(int(np.prod(problem.f_shape)))], 0)
    np.testing.assert_array_equal(J_forward, J_reverse)
    kinks = directional(problem, {"X": np.ones_like(X)}).kinks
    op = expression.split("(")[0]
    found = [k for k in kinks if k.node.op == op]
    assert len(found) == 1 and found[0].count == count, kinks
    assert found[0].convention == PRIMITIVES[op].kink.convention.format(x="X", f=found[0].node.text)


def test_away_from_a_kink_nothing_is_reported_and_without_a_tangent_through_it_neither() -> None:
    assert directional(Problem.build("relu(X)", {"X": [[1.0, -1.0]]}), {"X": [[1.0, 1.0]]}).kinks == ()
    problem = Problem.build("relu(X) + Y", {"X": [[0.0, 1.0]], "Y": [[1.0, 1.0]]})
    assert directional(problem, {"Y": [[1.0, 1.0]]}).kinks == ()


# ---- Hand-worked cases and the contract ----

SEED = {"W": np.eye(2), "X": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0, 6.0])}


def test_seed_tangents_by_hand() -> None:
    """d(W·X + b) = dW·X + W·dX + db·1ᵀ."""
    f, df = jvp("W @ X + b", SEED, {"b": np.array([1.0, 0.5])})
    np.testing.assert_array_equal(f, [[6.0, 7.0], [9.0, 10.0]])
    np.testing.assert_array_equal(df, [[1.0, 1.0], [0.5, 0.5]])
    V = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(jvp("W @ X + b", SEED, {"W": V})[1], V @ SEED["X"])
    np.testing.assert_array_equal(jvp("W @ X + b", SEED, {"W": V, "X": V})[1], V @ SEED["X"] + V)
    np.testing.assert_array_equal(jvp("W @ X + b", SEED, {})[1], np.zeros((2, 2)))
    quad = {"x": np.array([1.0, 2.0]), "A": np.array([[2.0, 1.0], [0.0, 3.0]])}
    v = np.array([1.0, -1.0])
    _, dq = jvp("x.T @ A @ x", quad, {"x": v})
    np.testing.assert_allclose(dq, v @ (quad["A"] + quad["A"].T) @ quad["x"], rtol=1e-15)
    _, dl = jvp("logdet(A)", {"A": quad["A"]}, {"A": np.eye(2)})
    assert dl == pytest.approx(np.trace(np.linalg.inv(quad["A"])), rel=1e-14)


def test_a_tangent_of_the_wrong_shape_or_name_is_refused_and_a_column_stands_for_a_1d_operand() -> None:
    problem = Problem.build("W @ X + b", SEED)
    with pytest.raises(ShapeError, match=r"tangent of b has shape \(3,\) but b has shape \(2,\)"):
        jvp(problem, None, {"b": np.ones(3)})
    with pytest.raises(WxbError, match="not an operand"):
        jvp(problem, None, {"Q": np.ones(2)})
    np.testing.assert_array_equal(jvp(problem, None, {"b": np.ones((2, 1))})[1], np.ones((2, 2)))


def test_float32_stays_float32_and_the_operands_are_not_written() -> None:
    W = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    W.setflags(write=False)
    V = np.ones((2, 2))  # float64: computed in the problem's float32
    f, df = jvp("tanh(W @ W)", {"W": W}, {"W": V})
    assert f.dtype == df.dtype == np.float32
    assert df.flags.writeable


def test_a_tangent_broadcast_to_f_is_an_array_of_its_own() -> None:
    _, df = jvp("X + b", {"X": np.zeros((2, 3)), "b": np.zeros(2)}, {"b": np.array([1.0, 2.0])})
    assert df.shape == (2, 3) and df.flags.writeable
    np.testing.assert_array_equal(df, [[1.0] * 3, [2.0] * 3])


def test_a_singular_matrix_is_refused_as_forward_refuses_it() -> None:
    with pytest.raises(WxbError, match="singular"):
        jvp("inv(A)", {"A": np.ones((2, 2))}, {"A": np.eye(2)})

