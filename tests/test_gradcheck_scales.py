"""The gradient check is honest about rounding: correct gradients pass at every scale, a check that rounding
makes meaningless says so instead of failing, and only a real disagreement (or NaN) fails."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import wxb

from wxb.core import Problem, gradient_check
from wxb.core.gradcheck import check_problem
from wxb.core.primitives import PRIMITIVES

W = np.array([[1.0, 2.0], [3.0, 4.0]])
X = np.array([[1.0, -2.0], [3.0, 0.5]])
B = np.array([0.5, 0.25])
SCALES = [1e-300, 1.0, 1e8, 1e300]


@pytest.mark.parametrize("scale", SCALES)
def test_the_affine_map_passes_at_every_scale(scale: float) -> None:
    report = gradient_check(X * scale, B * scale, W)
    assert [r.verdict for r in report.results] == ["pass", "pass", "pass"], report


@pytest.mark.parametrize("scale", SCALES)
def test_large_weights_pass_too(scale: float) -> None:
    report = gradient_check(X, B, W * scale)
    assert report.passed and all(r.verdict == "pass" for r in report.results), report


@pytest.mark.parametrize("scale", SCALES)
def test_a_nonlinear_layer_passes_or_says_it_cannot_check(scale: float) -> None:
    for weights in (W, W / scale):
        problem = Problem.build("tanh(W @ X + b)", {"W": weights, "X": X * scale, "b": B * scale})
        report = check_problem(problem)
        assert report.passed, report
        assert all(r.verdict in ("pass", "cannot check") for r in report.results)


def test_the_seed_issue_case_is_exact_and_passes() -> None:
    # db = [2;2] is exact, though X holds 123456789: the bound must include the rounding of L itself.
    report = gradient_check(np.array([[123456789.0, 2.0], [3.0, 4.0]]), np.array([[0.5], [0.25]]))
    assert all(r.verdict == "pass" for r in report.results), report
    big = gradient_check(np.array([[123456789.0, 2.0], [3.0, 4.0]]), np.array([[0.5], [0.25]]), W * 1e4)
    assert all(r.verdict == "pass" for r in big.results), big


def test_overflow_is_cannot_check_not_a_failure() -> None:
    problem = Problem.build("sum(exp(W @ X + b))", {"W": W * 1e3, "X": X, "b": B})
    report = check_problem(problem)
    assert report.passed
    assert {r.verdict for r in report.results} == {"cannot check"}
    assert "f is infinite here" in report.results[0].reason


def test_underflow_is_cannot_check_not_a_failure() -> None:
    problem = Problem.build("sum(W @ X + b) ** 2", {"W": W, "X": X * 1e-300, "b": B * 1e-300})
    report = check_problem(problem, wrt=["X", "b"])
    assert report.passed
    assert {r.verdict for r in report.results} == {"cannot check"}


def test_nan_still_fails() -> None:
    report = gradient_check(np.array([[np.nan, 1.0], [1.0, 1.0]]), B)
    assert not report.passed
    assert all(r.verdict == "fail" for r in report.results)


@pytest.mark.parametrize("scale", SCALES)
def test_a_wrong_gradient_fails_at_every_scale(scale: float, monkeypatch: pytest.MonkeyPatch) -> None:
    add = PRIMITIVES["add"]
    wrong = replace(add, vjps=(add.vjps[0], lambda n, g, f, x, y: g * 1.01))
    monkeypatch.setitem(PRIMITIVES, "add", wrong)
    report = gradient_check(X * scale, B * scale, W)
    assert not report.passed
    assert [r.verdict for r in report.results] == ["pass", "pass", "fail"]


def test_a_wrong_nonlinear_rule_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    tanh = PRIMITIVES["tanh"]
    wrong = replace(tanh, vjps=(lambda n, g, f, x: g * (1 - f * f) * 1.001,))
    monkeypatch.setitem(PRIMITIVES, "tanh", wrong)
    report = check_problem(Problem.build("tanh(W @ X + b)", {"W": W / 4, "X": X, "b": B}))
    assert [r.verdict for r in report.results] == ["fail", "fail", "fail"]


def test_the_cli_exits_zero_for_cannot_check_and_says_why() -> None:
    done = wxb("check", "-e", "sum(exp(W @ X + b))", "W=1000 1000", "X=1; 2", "b=1", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert ",cannot check,\"f is infinite here (an overflow" in done.stdout


def _verdicts(expression: str, **operands: object) -> list[str]:
    return [r.verdict for r in check_problem(Problem.build(expression, operands)).results]


def test_a_jump_cannot_be_checked_rather_than_failing() -> None:
    """sign at 0 jumps: the finite difference grows as 1/h, so it checks nothing; not a mismatch (exit 1)."""
    (jump,) = check_problem(Problem.build("sign(W)", {"W": [0.0, 1.0]})).results
    assert jump.verdict == "cannot check" and "jump" in jump.reason
    assert _verdicts("sign(W)", W=[0.5, 1.0]) == ["pass"]


def test_an_exactly_zero_gradient_passes_despite_rounding_in_the_analytic_value() -> None:
    # Σ softmax(z) = 1 per column, so every gradient is 0; the analytic values are rounding noise (1e-17).
    assert _verdicts("softmax(W @ X + b)", W=[[0.1, 0.2], [0.3, 0.4]], X=[[1, 2], [3, 4]], b=[[0.5], [1]]) == \
        ["pass", "pass", "pass"]


@pytest.mark.parametrize("big", [1e8, 1e300])
def test_a_saturated_row_beside_an_ordinary_one_passes(big: float) -> None:
    # The step for the ordinary row must not be sized by the saturated row's huge values.
    assert _verdicts("tanh(W @ X + b)", W=[[big, 0], [0, 1]], X=[[1, 2], [3, 4]], b=[[5], [6]]) == \
        ["pass", "pass", "pass"]


def test_an_overflowing_gradient_cannot_be_checked() -> None:
    report = check_problem(Problem.build("1 / W", {"W": [1e-200, 1.0]}))
    (result,) = report.results
    assert report.passed and result.verdict == "cannot check" and "overflows" in result.reason


def test_a_kink_cannot_be_checked_but_a_smooth_point_passes() -> None:
    (kink,) = check_problem(Problem.build("relu(W)", {"W": [0.0, 1.0]})).results
    assert kink.verdict == "cannot check" and "kink" in kink.reason
    assert _verdicts("relu(W)", W=[0.5, 1.0]) == ["pass"]
    # |x| at 0: the central difference is 0, as is sign(0), so there is nothing to disagree about.
    assert _verdicts("abs(W)", W=[0.0, -2.0]) == ["pass"]


def test_a_constant_l_passes_though_the_analytic_zero_is_rounding() -> None:
    # Σ softmax(b) = 1 whatever b, so dL/db = 0; the analytic value carries rounding of the order of one ulp of 1.
    assert _verdicts("softmax(b)", b=[10.0, 30.0, 50.0]) == ["pass"]


@pytest.mark.parametrize(("x", "dtype", "why"), [
    ([100.0, 1.0], np.float32, "f is infinite"), ([800.0, 1.0], np.float64, "f is infinite"),
])
def test_an_overflow_in_the_operands_own_dtype_cannot_be_checked(x: list[float], dtype: type, why: str) -> None:
    report = check_problem(Problem.build("sqrt(exp(x))", {"x": np.array(x, dtype=dtype)}))
    (result,) = report.results
    assert report.passed and result.verdict == "cannot check" and why in result.reason


def test_nan_made_by_the_maths_is_named_as_such() -> None:
    (result,) = check_problem(Problem.build("x * 0 / 0", {"x": [-1.0, 1.0]})).results
    assert result.verdict == "cannot check" and "NaN entries" in result.reason and "0/0" in result.reason


def test_a_passing_check_reports_an_error_within_its_bound() -> None:
    problem = Problem.build("tanh(W2 @ tanh(W1 @ X + b1) + b2)", {
        "W1": [[0.5, -1], [2, 0.3]], "X": [[1, 2], [3, 4]], "b1": [0.1, -0.2], "W2": [[1, 2], [-1, 0.5]], "b2": [0, 1]})
    for result in check_problem(problem).results:
        assert result.verdict == "pass" and result.max_abs_error <= result.bound, result


def test_plus_and_minus_infinity_without_nan_are_not_nan_in_the_operands() -> None:
    problem = Problem.build("tanh(X) * Y", {"X": np.array([np.inf, -np.inf, 1.0]), "Y": np.array([1.0, 2.0, 3.0])})
    [result] = check_problem(problem, wrt=["Y"]).results
    assert result.verdict == "pass", result


def test_an_infinite_operand_leaves_a_finite_linear_loss_checkable() -> None:
    problem = Problem.build("tanh(X) * Y", {"X": np.array([np.inf, 1.0, 1.0]), "Y": np.array([1.0, 2.0, 3.0])})
    report = check_problem(problem, wrt=["Y"])
    assert [r.verdict for r in report.results] == ["pass"], report


def test_a_gradient_that_is_exactly_zero_passes() -> None:
    report = check_problem(Problem.build("X * 0", {"X": np.array([1.0, 2.0])}))
    assert [r.verdict for r in report.results] == ["pass"], report


@pytest.mark.parametrize(("expression", "operands"), [
    ("tanh(W @ X + b)", ["W=1e-320 1", "X=1; 1", "b=0"]),
    ("W @ X + b", ["W=1e-315 1", "X=1; 1", "b=0"]),
    ("relu(W @ X + b)", ["W=5e-324 1", "X=1; 1", "b=0.5"]),
])
def test_check_passes_correct_gradients_beside_subnormal_entries(expression: str, operands: list[str]) -> None:
    done = wxb("check", "-e", expression, *operands, "--format", "csv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ",fail," not in done.stdout
