"""core.claims: a claimed gradient judged against the true one at several draws, and its mistake named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxb.core.claims import Points, judge

rng = np.random.default_rng(7)
A = [rng.normal(size=(3, 3)) for _ in range(4)]
x = [rng.normal(size=(3, 1)) for _ in range(4)]


def quadratic_gradient(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (a + a.T) @ v  # d(xᵀAx)/dx


def test_a_right_claim_is_right() -> None:
    true = [quadratic_gradient(a, v) for a, v in zip(A, x, strict=True)]
    claimed = [a @ v + a.T @ v for a, v in zip(A, x, strict=True)]
    verdict = judge("x", Points(claimed, true))
    assert verdict.right and verdict.kind == "right" and "4 generic draws" in verdict.message


def test_the_seeds_answer_B_has_fs_shape_and_misses_the_sum() -> None:
    G = [rng.normal(size=(2, 5)) for _ in range(3)]
    verdict = judge("b", Points(G, [g.sum(axis=1, keepdims=True) for g in G]))
    assert (verdict.right, verdict.kind) == (False, "missing-sum")
    assert "sum over axis 1" in verdict.message and "(2,5)" in verdict.message


def test_symmetric_only() -> None:
    true = [quadratic_gradient(a, v) for a, v in zip(A, x, strict=True)]
    sym = [(a + a.T) / 2 for a in A]
    verdict = judge("x", Points([2 * a @ v for a, v in zip(A, x, strict=True)], true,
                                symmetric=([2 * s @ v for s, v in zip(sym, x, strict=True)],
                                           [quadratic_gradient(s, v) for s, v in zip(sym, x, strict=True)])))
    assert verdict.kind == "symmetric-only"


@pytest.mark.parametrize(("k", "said"), [(2.0, "2 times"), (0.5, "1/2 times"), (-1.0, "−1 times"), (3.0, "3 times")])
def test_a_constant_factor_is_named(k: float, said: str) -> None:
    true = [a @ v for a, v in zip(A, x, strict=True)]
    verdict = judge("x", Points([k * t for t in true], true))
    assert verdict.kind == "factor" and said in verdict.message


def test_a_transpose_is_named_square_or_not() -> None:
    true = [a @ a for a in A]
    assert judge("A", Points([t.T for t in true], true)).kind == "transposed"
    wide = [rng.normal(size=(2, 3)) for _ in range(3)]
    assert judge("W", Points([w.T for w in wide], wide)).kind == "transposed"


def test_another_shape_says_the_operands_shape() -> None:
    verdict = judge("W", Points([np.ones((4, 4))], [np.ones((2, 3))]))
    assert verdict.kind == "shape" and "(2,3)" in verdict.message


def test_right_at_the_users_numbers_only_is_by_chance() -> None:
    identity = np.eye(3)
    users = [identity @ x[0]]  # claim A @ x where the gradient is A.T @ x: equal at A = I
    claimed = users + [a @ v for a, v in zip(A[1:], x[1:], strict=True)]
    true = [identity.T @ x[0]] + [a.T @ v for a, v in zip(A[1:], x[1:], strict=True)]
    verdict = judge("x", Points(claimed, true, user=True))
    assert verdict.kind == "by-chance"
    assert verdict.worst > 0 and verdict.at > 0


def test_a_wrong_claim_names_the_worst_entry() -> None:
    true = [np.zeros((2, 2))]
    claimed = [np.array([[0.0, 0.0], [0.0, 5.0]])]
    verdict = judge("X", Points(claimed, true))
    assert verdict.kind == "wrong" and verdict.worst == 5.0 and verdict.where == (1, 1)


def test_a_1d_claim_for_a_column_operand_is_read_as_that_column() -> None:
    true = [a @ v for a, v in zip(A, x, strict=True)]
    assert judge("x", Points([t.ravel() for t in true], true)).right


@given(st.floats(min_value=-8, max_value=8).filter(lambda k: abs(k - 1) > 1e-3 and abs(k) > 1e-3))
def test_any_factor_is_a_factor_never_right(k: float) -> None:
    true = [a @ v for a, v in zip(A, x, strict=True)]
    verdict = judge("x", Points([k * t for t in true], true))
    assert not verdict.right and verdict.kind == "factor"


# ---- assess: the claims judged at drawn points ----

def claims(**formulas: str) -> list:
    from wxb.core.claims import Claim
    from wxb.core.expr import parse

    return [Claim(name, parse(text, upstream=True)) for name, text in formulas.items()]


def test_assess_the_quadratic_form() -> None:
    from wxb.core.claims import assess
    from wxb.core.expr import parse

    f = parse("x.T @ A @ x")
    shapes = {"x": (3, 1), "A": (3, 3)}
    assert assess(f, claims(x="(A + A.T) @ x"), shapes)["x"].right
    assert assess(f, claims(x="2 * A @ x"), shapes)["x"].kind == "symmetric-only"
    assert assess(f, claims(x="2 * A @ x"), shapes, assume={"A": "symmetric"})["x"].right
    assert assess(f, claims(A="x @ x.T"), shapes)["A"].right
    assert assess(f, claims(A="x.T @ x"), shapes)["A"].kind == "shape"


def test_assess_the_seeds_bias() -> None:
    from wxb.core.claims import assess
    from wxb.core.expr import parse

    f = parse("W @ X + b")
    shapes = {"W": (2, 3), "X": (3, 4), "b": (2, 1)}
    verdicts = assess(f, claims(b="G", W="G @ X.T", X="W @ G"), shapes)
    assert verdicts["b"].kind == "missing-sum"
    assert verdicts["W"].right
    assert verdicts["X"].kind == "shape" and "do not multiply" in verdicts["X"].message


def test_a_claim_right_only_for_G_equal_to_one_is_caught() -> None:
    from wxb.core.claims import assess
    from wxb.core.expr import parse

    f = parse("W @ X")
    shapes = {"W": (2, 3), "X": (3, 3)}
    verdict = assess(f, claims(X="W.T @ G"), shapes)["X"]
    assert verdict.right
    wrong = assess(f, claims(X="G.T @ W"), {"W": (3, 3), "X": (3, 3)})["X"]
    assert not wrong.right


def test_at_a_kink_a_claim_that_differs_only_there_cannot_be_checked() -> None:
    """relu at 0: (sign(x) + 1) / 2 takes the subgradient ½ where wxb takes 0; right at every generic draw, so at
    the user's numbers it is 'cannot check' (not wrong), and a claim wrong elsewhere stays wrong."""
    from wxb.core.claims import assess
    from wxb.core.expr import parse

    f = parse("sum(relu(x))")
    user = {"x": np.array([[0.0, 1.0], [2.0, 3.0]])}
    verdict = assess(f, claims(x="(sign(x) + 1) / 2"), {"x": (2, 2)}, user=user)["x"]
    assert verdict.right and verdict.kind == "cannot check" and "kink" in verdict.message
    assert not assess(f, claims(x="x ** 0"), {"x": (2, 2)}, user=user)["x"].right
    assert assess(f, claims(x="step(x)"), {"x": (2, 2)}, user=user)["x"].kind == "right"


def test_a_right_claim_at_the_users_numbers_is_confirmed_by_finite_differences() -> None:
    from wxb.core.claims import assess
    from wxb.core.expr import parse

    f = parse("x.T @ A @ x")
    user = {"x": np.array([[1.0], [2.0]]), "A": np.array([[1.0, 2.0], [3.0, 4.0]])}
    verdict = assess(f, claims(x="(A + A.T) @ x"), {"x": (2, 1), "A": (2, 2)}, user=user)["x"]
    assert verdict.right and verdict.message.endswith("finite differences agree at your numbers")
    wrong = assess(f, claims(x="2 * A @ x"), {"x": (2, 1), "A": (2, 2)}, user=user)["x"]
    assert wrong.kind == "symmetric-only"


def test_a_claim_right_at_every_draw_is_never_called_symmetric_only() -> None:
    points = Points([np.ones((2, 2)) * 2, np.eye(2)], [np.ones((2, 2)), np.eye(2)], user=True,
                    symmetric=([np.eye(2)], [np.eye(2)]), square=("X",))
    assert judge("X", points).kind != "symmetric-only"
