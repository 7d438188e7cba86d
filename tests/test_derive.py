"""`wxb derive`: every gradient formula evaluated by the engine equals the engine's backward pass, the printed forms
of the textbook cases, and the command run as a real process.

The round trip: derive dL/dθ as a formula, evaluate it with Problem.build(formula, operands).forward(), and compare
with Problem.backward's gradient on random operands (float64, rtol 1e-9), for every primitive and for the random
expression trees of test_engine_oracle. A formula constant along an axis may be written in a shape that
broadcasts to the operand's (`sum(X, axis=1).T` for d sum(W @ X)/dW); it is compared broadcast to that shape.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import autograd
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from primitive_cases import CASES, Plain
from test_engine_oracle import Case, cases, well_posed

from wxb.core.engine import Problem
from wxb.core.expr import parse
from wxb.core.primitives import PRIMITIVES
from wxb.core.symbolic import DeriveError, derive

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
ROOT = Path(__file__).resolve().parent.parent
Shape = tuple[int, ...]


def as_shaped(value: np.ndarray, shape: Shape) -> np.ndarray:
    """A formula's value read in the operand's shape: a 1-D value beside a matrix is a column, size-1 axes and
    missing axes broadcast, and (m, 1) reads as (m,)."""
    v = np.asarray(value, dtype=np.float64)
    if v.shape == shape:
        return v
    if len(shape) == 1 and v.ndim == 2 and v.shape[1] == 1:  # a column (m, 1), or (1, 1), for a 1-D operand
        return np.broadcast_to(v, (shape[0], 1)).reshape(shape)
    if v.ndim == 1 and len(shape) >= 2:
        v = v.reshape(v.shape[0], 1)
    try:
        return np.broadcast_to(v, shape)
    except ValueError:
        assert v.size == math.prod(shape), f"a formula of shape {v.shape} for an operand of shape {shape}"
        return v.reshape(shape)


def evaluate(formula: str, operands: dict[str, np.ndarray], G: np.ndarray | None) -> np.ndarray:
    """The formula's value, computed by the engine (G bound when the formula uses it)."""
    expression = parse(formula, upstream=True)
    given = {**operands, **({"G": G} if G is not None else {})}
    return Problem.build(expression, {name: given[name] for name in expression.operands}).forward()


def round_trip(expr: str, operands: dict[str, np.ndarray], G: np.ndarray | None = None, rtol: float = 1e-9) -> None:
    """Each operand's formula, evaluated, equals backward's gradient."""
    problem = Problem.build(expr, operands)
    derivation = derive(problem.expression, {name: a.shape for name, a in problem.operands.items()})
    upstream = G if derivation.upstream else None
    grads = problem.backward(upstream if upstream is not None else (None if problem.f_shape == () else 1.0))
    for name, expected in grads.grads.items():
        formula = derivation.text(name)
        got = as_shaped(evaluate(formula, dict(problem.operands), upstream), expected.shape)
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale,
                                   err_msg=f"dL/d{name} = {formula} for f = {expr}")


# ---- every primitive that exists ----

RNG = np.random.default_rng(7)
DERIVE_CASES = {name: entry.derive for name, entry in CASES.items() if entry.derive is not None}


@pytest.mark.parametrize("op", sorted(PRIMITIVES))
def test_every_row_has_a_formula_per_argument_or_says_why_not(op: str) -> None:
    """A new primitive cannot skip derive: its row gives one formula per argument (checked below against
    backward, so it needs a case here) or a reason there is none."""
    row = PRIMITIVES[op]
    if row.no_formula:
        assert row.formulas == (), f"{op} has formulas and a reason for having none"
        done = subprocess_free_derive(f"sum({op}({', '.join(['X'] * row.arity)}))", {"X": (3, 4)})
        assert isinstance(done, DeriveError) and row.no_formula in str(done)
    else:
        assert len(row.formulas) == row.arity and all(row.formulas), f"{op}: one formula per argument"
        assert op in DERIVE_CASES, f"{op} has no derive case in tests/primitive_cases.py"


def subprocess_free_derive(expr: str, shapes: dict[str, Shape]) -> DeriveError | None:
    try:
        derive(parse(expr), shapes)
    except DeriveError as error:
        return error
    return None


@pytest.mark.parametrize("op", sorted(DERIVE_CASES))
def test_each_primitive_formula_equals_backward(op: str) -> None:
    expr, operands = DERIVE_CASES[op]
    f_shape = Problem.build(expr, operands).f_shape
    G = RNG.uniform(-1, 1, f_shape)
    round_trip(expr, operands, G)
    round_trip(f"sum({expr})", operands)


@pytest.mark.parametrize("expr", [
    "sum(X, axis=1) * tanh(sum(X, axis=1))", "sum(W @ X)", "mean(W @ X, axis=0)", "sum(W @ X, axis=1)",
    "softmax(W @ X, axis=1)", "logsumexp(W @ X, axis=0)", "sum(tanh(b) * X)", "sum(exp(c) * X)", "X / c",
    "W @ X + b", "(W @ X).T", "-sum(T * log_softmax(W @ X + c))",
])
def test_hand_picked_formulas_equal_backward(expr: str) -> None:
    operands = {"W": RNG.uniform(-1, 1, (3, 2)), "X": RNG.uniform(-1, 1, (2, 4)), "b": RNG.uniform(-1, 1, (3, 1)),
                "c": RNG.uniform(0.5, 1, (1, 4)), "T": RNG.uniform(0, 1, (3, 4))}
    operands = {name: a for name, a in operands.items() if name in parse(expr).operands}
    if "W" not in operands and "X" in operands:
        operands["X"] = RNG.uniform(-1, 1, (3, 4))
    f_shape = Problem.build(expr, operands).f_shape
    round_trip(expr, operands, RNG.uniform(-1, 1, f_shape))


@pytest.mark.parametrize("expr", [
    "tanh(W @ X)", "softmax(W @ X)", "sum((W @ X - Y) ** 2)", "-sum(Y * log_softmax(W @ X))", "mean(W @ X, axis=0)",
    "mean(W @ X, axis=1) * 2", "logsumexp(W @ X, axis=1)", "sum(sigmoid(W @ X) * Y)", "log_softmax(W @ X, axis=1)",
    "sum(W @ X)", "sum(relu(W @ X - Y) / (1 + abs(Y)))",
])
def test_names_only_formulas_hold_for_2d_operands_that_do_not_broadcast(expr: str) -> None:
    operands = {"W": RNG.uniform(-1, 1, (3, 2)), "X": RNG.uniform(-1, 1, (2, 4)), "Y": RNG.uniform(-1, 1, (3, 4))}
    operands = {name: a for name, a in operands.items() if name in parse(expr).operands}
    problem = Problem.build(expr, operands)
    G = RNG.uniform(-1, 1, problem.f_shape)
    derivation = derive(problem.expression, None)
    upstream = G if derivation.upstream else None
    grads = problem.backward(upstream if upstream is not None else None)
    for name, expected in grads.grads.items():
        got = as_shaped(evaluate(derivation.text(name), operands, upstream), expected.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"{name}: {derivation.text(name)}")


# ---- random expression trees (test_engine_oracle's generator) ----

REFUSALS = {  # why derive refuses a tree, by a phrase of its one-line message (hypothesis --hypothesis-show-statistics)
    "first maximiser": "max", "first minimiser": "min", "two axes inserted": "a matrix function of a batch",
    "needs an axis inserted": "keepdims=False along an inner axis", "not square": "trace of a non-square matrix",
    "placed on a diagonal": "diag of a batch or a non-square matrix", "batch by a 1-D": "a batch @ a 1-D operand",
    "sums a batch product over its batch": "a batch product inside a sum over every axis",
}


@given(cases(dtypes=(np.float64,)))
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_trees_formulas_equal_backward(case: Case) -> None:
    """Every primitive of the oracle's generator (the matrix rows included); a tree derive refuses is skipped,
    for one of the documented reasons only (about 1 in 5 trees: max and min, and batches of matrices)."""
    well_posed(case)
    try:
        problem = Problem.build(case.text, case.operands)
        derive(problem.expression, {name: a.shape for name, a in problem.operands.items()})
    except DeriveError as error:
        reason = [why for phrase, why in REFUSALS.items() if phrase in str(error)]
        assert reason, f"an undocumented refusal: {error}"
        event(f"derive refused: {reason[0]}")
        assume(False)
    round_trip(case.text, case.operands, case.G, rtol=1e-8)


def test_a_kept_G_beside_a_column_is_expanded() -> None:
    """A reduction along an axis keeps it, and its G (1,2,2) beside an argument broadcast along another axis,
    exp(X) (2,2,1), would be an outer sum, which wxb refuses: derive writes G whole first (G * f ** 0). Found by
    the random trees."""
    W, X = RNG.uniform(-1, 1, (2, 2, 2)), RNG.uniform(-1, 1, (2, 2, 1))
    round_trip("sum(W / exp(X), axis=0)", {"W": W, "X": X}, RNG.uniform(-1, 1, (1, 2, 2)))


def test_a_1d_bias_gradient_is_its_column() -> None:
    """sum(G, axis=1) for a 1-D b is (m, 1), b's column: forward evaluates the formula to it, --eval prints it
    in b's own shape (m,), and both are backward's numbers."""
    args = ["-e", "tanh(W @ X + b)", "W=samples/dense/W.csv", "X=samples/dense/X.csv", "b=[1, 2, 3, 4]"]
    upstream = ["G=samples/dense/G.csv"]
    formula = json.loads(wxb("derive", *args, "--wrt", "b", "--format", "json").stdout)["db"]
    assert formula == "sum(G * (1 - tanh(W @ X + b) ** 2), axis=1)"
    column = np.asarray(json.loads(wxb("forward", "-e", formula, *args[2:], *upstream, "--format", "json").stdout))
    expected = np.asarray(json.loads(wxb("backward", *args, "-G", "samples/dense/G.csv", "--wrt", "b", "--format",
                                         "json").stdout))
    assert column.shape == (4, 1) and expected.shape == (4,)
    np.testing.assert_allclose(column[:, 0], expected, rtol=1e-12)
    record = json.loads(wxb("derive", *args, "-G", "samples/dense/G.csv", "--wrt", "b", "--eval", "--format",
                            "json").stdout)
    np.testing.assert_allclose(record["values"]["db"], expected, rtol=1e-12)


# ---- the printed forms ----

def formulas(expr: str, shapes: dict[str, Shape] | None, wrt: list[str] | None = None) -> dict[str, str]:
    derivation = derive(parse(expr), shapes, wrt)
    return {name: derivation.named_text(name) for name in derivation.formulas}


def test_least_squares_reads_as_written_by_hand() -> None:
    shapes = {"W": (3, 4), "X": (4, 5), "b": (3,), "Y": (3, 5)}
    assert formulas("sum((W @ X + b - Y) ** 2)", shapes, ["W"]) == {"W": "2 * (W @ X + b - Y) @ X.T"}
    assert formulas("sum((W @ X + b - Y) ** 2)", None, ["W"]) == {"W": "2 * (W @ X + b - Y) @ X.T"}
    derivation = derive(parse("sum((W @ X + b - Y) ** 2)"), shapes)
    assert derivation.where_text() == [("z", "W @ X + b - Y")]
    assert {name: derivation.named_text(name) for name in shapes} == {
        "W": "2 * z @ X.T", "X": "2 * W.T @ z", "b": "2 * sum(z, axis=1)", "Y": "-2 * z"}


def test_the_seed_bias_gradient_is_G_summed_over_the_columns() -> None:
    assert formulas("W @ X + b", {"W": (2, 2), "X": (2, 3), "b": (2,)}) == {
        "W": "G @ X.T", "X": "W.T @ G", "b": "sum(G, axis=1)"}
    assert formulas("W @ X + b", {"W": (2, 2), "X": (2, 3), "b": (2, 1)})["b"] == "sum(G, axis=1)"
    assert formulas("X + b", {"X": (2, 3), "b": ()})["b"] == "sum(G)"


def test_quadratic_form_is_A_plus_A_transpose_times_x() -> None:
    assert formulas("sum(x.T @ A @ x)", {"x": (3, 1), "A": (3, 3)}) == {"x": "(A + A.T) @ x", "A": "x @ x.T"}


def test_names_only_assume_no_broadcasting_and_say_so() -> None:
    derivation = derive(parse("W @ X + b"), None)
    assert derivation.text("b") == "G" and derivation.assumed == ("b",)
    assert derive(parse("W @ X + b"), {"W": (2, 2), "X": (2, 3), "b": (2,)}).assumed == ()


def test_a_sum_of_a_product_gives_the_row_and_column_sums() -> None:
    """dL/dX = Wᵀ·1·1ᵀ: the column sums of W as a column, (1ᵀW)ᵀ; sum keeps its axis, so that is
    sum(W, axis=0).T (2,1), and dL/dW the row sums of X as a row."""
    assert formulas("sum(W @ X)", {"W": (3, 2), "X": (2, 4)}) == {"W": "sum(X, axis=1).T", "X": "sum(W, axis=0).T"}
    round_trip("sum(W @ X)", {"W": RNG.uniform(-1, 1, (3, 2)), "X": RNG.uniform(-1, 1, (2, 4))})


def test_exp_of_log_softmax_is_softmax_in_the_cross_entropy() -> None:
    found = formulas("-sum(T * log_softmax(W @ X + b))", {"W": (3, 2), "X": (2, 4), "b": (3, 1), "T": (3, 4)}, ["b"])
    assert "softmax(W @ X + b)" in found["b"] and "exp" not in found["b"]


@pytest.mark.parametrize(("expr", "shapes", "expected"), [
    ("logdet(X)", {"X": (3, 3)}, {"X": "inv(X).T"}),
    ("trace(A @ X @ B)", {"A": (2, 3), "X": (3, 4), "B": (4, 2)}, {"X": "A.T @ B.T"}),
    ("sum(x.T @ A @ x)", {"x": (3,), "A": (3, 3)}, {"x": "(A + A.T) @ x"}),
    ("det(X)", {"X": (3, 3)}, {"X": "det(X) * inv(X).T"}),
    ("inv(X)", {"X": (3, 3)}, {"X": "-z @ G @ z"}),
])
def test_textbook_forms_of_the_new_primitives(expr: str, shapes: dict[str, Shape], expected: dict[str, str]) -> None:
    assert {name: text for name, text in formulas(expr, shapes).items() if name in expected} == expected


def test_the_inverse_names_its_transpose_once() -> None:
    derivation = derive(parse("inv(X)"), {"X": (3, 3)})
    assert derivation.where_text() == [("z", "inv(X).T")]
    assert derivation.text("X") == "-inv(X).T @ G @ inv(X).T"


def test_max_and_min_say_there_is_no_formula() -> None:
    for op in ("max", "min"):
        assert "first" in PRIMITIVES[op].no_formula
        with pytest.raises(DeriveError, match="first"):
            derive(parse(f"{op}(X, axis=0)"), {"X": (3, 4)})


# ---- the command ----

def wxb(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "wxb.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, input=stdin, timeout=60)


LEAST_SQUARES = "sum((W @ X + b - Y) ** 2)"
MLP = "-sum(T * log_softmax(W2 @ tanh(W1 @ X + b1) + b2))"


def test_cli_writes_the_least_squares_gradient_as_in_the_issue() -> None:
    done = wxb("derive", "-e", LEAST_SQUARES, "--wrt", "W")
    assert (done.returncode, done.stdout, done.stderr) == (0, "dL/dW = 2 * (W @ X + b - Y) @ X.T\n", "")


def test_cli_shapes_only_name_the_repeated_subexpression() -> None:
    done = wxb("derive", "-e", LEAST_SQUARES, "W=3x4", "X=4x5", "b=3", "Y=3x5")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == ["z = W @ X + b - Y", "dL/dW = 2 * z @ X.T", "dL/dX = 2 * W.T @ z",
                                        "dL/db = 2 * sum(z, axis=1)", "dL/dY = -2 * z"]
    inline = wxb("derive", "-e", LEAST_SQUARES, "W=3x4", "X=4x5", "b=3", "Y=3x5", "--inline", "--wrt", "b")
    assert inline.stdout == "dL/db = 2 * sum(W @ X + b - Y, axis=1)\n"


def test_cli_names_only_say_what_they_assume() -> None:
    done = wxb("derive", "-e", "W @ X + b")
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "dL/db = G"
    assert done.stderr.startswith("wxb: note: no shapes given") and "b" in done.stderr
    shaped = wxb("derive", "W=2x3", "X=3x4", "b=2")  # the default expression, W @ X + b
    assert shaped.stdout.splitlines() == ["dL/dW = G @ X.T", "dL/dX = W.T @ G", "dL/db = sum(G, axis=1)"]


def test_cli_json_formulas_evaluate_with_forward_to_backwards_gradients() -> None:
    operands = ["W=samples/dense/W.csv", "X=samples/dense/X.csv", "b=samples/dense/b.csv"]
    record = json.loads(wxb("derive", "-e", "tanh(W @ X + b)", *operands, "--format", "json").stdout)
    assert set(record) == {"dW", "dX", "db", "where", "using_where"}
    expected = json.loads(wxb("backward", "-e", "tanh(W @ X + b)", *operands, "-G", "samples/dense/G.csv",
                              "--wrt", "all", "--format", "json").stdout)
    for key in ("dW", "dX", "db"):
        done = wxb("forward", "-e", record[key], *operands, "G=samples/dense/G.csv", "--format", "json")
        assert done.returncode == 0, done.stderr
        got = np.asarray(json.loads(done.stdout))
        np.testing.assert_allclose(got.reshape(np.shape(expected[key])), expected[key], rtol=1e-12)


def test_cli_eval_prints_the_values_backward_gives() -> None:
    args = ["-e", MLP, "--from", "samples/mlp/mlp.npz", "--wrt", "W1,b2"]
    record = json.loads(wxb("derive", *args, "--eval", "--format", "json").stdout)
    expected = json.loads(wxb("backward", *args, "--format", "json").stdout)
    for key in ("dW1", "db2"):
        np.testing.assert_allclose(record["values"][key], expected[key], rtol=1e-12)
    text = wxb("derive", *args, "--eval")
    assert text.returncode == 0 and "dL/db2 (2,1) float64" in text.stdout and "dL/dW1 = " in text.stdout


def test_cli_markdown_and_latex_write_the_formulas_in_tex() -> None:
    args = ["derive", "-e", LEAST_SQUARES, "W=3x4", "X=4x5", "b=3", "Y=3x5", "--wrt", "W"]
    markdown = wxb(*args, "--format", "markdown").stdout
    assert markdown.startswith("## wxb derive: f = sum((W @ X + b - Y) ** 2)\n")
    assert r"$$ \frac{\partial L}{\partial W} = 2 \left(W X + b - Y\right) X^{\top} $$" in markdown
    latex = wxb(*args, "--format", "latex").stdout
    assert r"\begin{align*}" in latex
    assert r"\frac{\partial L}{\partial W} &= 2 \left(W X + b - Y\right) X^{\top}" in latex


def test_cli_writes_to_a_file_in_the_format_of_its_suffix(tmp_path: Path) -> None:
    target = tmp_path / "grads.json"
    done = wxb("derive", "-e", LEAST_SQUARES, "--wrt", "W", "-o", str(target))
    assert done.returncode == 0 and done.stdout == ""
    assert json.loads(target.read_text())["dW"] == "2 * (W @ X + b - Y) @ X.T"


@pytest.mark.parametrize(("args", "message"), [
    (["-e", "W @ X + b", "W=3x4", "X=5x5", "b=3"], "do not multiply"),
    (["-e", "W @ X + b", "W=3x4", "X=4x5"], "no shape for b"),
    (["-e", "W @ X + b", "W=3x4", "X=4x5", "b=samples/dense/b.csv"], "as a shape and other operands as data"),
    (["-e", "W @ X + b", "W=3x4", "X=4x5", "b=3", "--eval"], "--eval needs the operands' values"),
    (["-e", "W @ X + b", "--wrt", "Q"], "Q is not an operand"),
    (["-e", "W @ X + b", "--format", "csv"], "no csv form"),
    (["-e", "tanh(W @ X + b)", "--from", "samples/dense/layer.npz", "--eval", "--wrt", "b"], None),
    (["-e", "W @ (X", "W=2x2"], "ends too early"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str], message: str | None) -> None:
    done = wxb("derive", *args)
    if message is None:  # the bundle holds G: --eval works
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("wxb: error: ") and message in done.stderr


def test_cli_eval_without_G_says_how_to_give_it() -> None:
    done = wxb("derive", "-e", "tanh(W @ X + b)", "-W", "samples/dense/W.csv", "-X", "samples/dense/X.csv", "-b",
               "samples/dense/b.csv", "--eval")
    assert done.returncode == 2 and "G = ∂L/∂f" in done.stderr and "--loss sum" in done.stderr
    summed = wxb("derive", "-e", "tanh(W @ X + b)", "-W", "samples/dense/W.csv", "-X", "samples/dense/X.csv", "-b",
                 "samples/dense/b.csv", "--eval", "--loss", "sum", "--wrt", "b", "--format", "json")
    expected = json.loads(wxb("backward", "-e", "tanh(W @ X + b)", "-W", "samples/dense/W.csv", "-X",
                              "samples/dense/X.csv", "-b", "samples/dense/b.csv", "--wrt", "b", "--format",
                              "json").stdout)
    np.testing.assert_allclose(json.loads(summed.stdout)["values"]["db"], expected, rtol=1e-12)


# ---- the matrix rows' formulas checked against autograd's VJPs, an oracle independent of the engine ----

FORMULA_ARGS = {name: entry.formula_args for name, entry in CASES.items() if entry.formula_args}


@pytest.mark.parametrize("op", sorted(FORMULA_ARGS))
def test_row_formulas_are_autograds_vjps(op: str) -> None:
    """Each row's formula evaluated with NumPy (expand and full are the identity for these whole-array
    reductions, eye(x) the identity matrix) equals autograd's VJP."""
    args = list(FORMULA_ARGS[op])

    def function(*values: Any) -> Any:
        return CASES[op].oracle(Plain(op), *values)

    f = function(*args)
    G = RNG.uniform(-1, 1, np.shape(f))
    names = {"inv": np.linalg.inv, "det": np.linalg.det, "solve": np.linalg.solve, "diag": np.diag, "sin": np.sin,
             "cos": np.cos, "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "expand": lambda g: g, "full": lambda g: g,
             "eye": lambda v: np.eye(v.shape[-1]), "sign": np.sign, "sqrt": np.sqrt, "sinh": np.sinh,
             "cosh": np.cosh, "vec": lambda v: v.T.reshape(-1, 1),
             "unvec": lambda v, x: v.reshape(x.shape[::-1]).T, "kron": np.kron,
             "blockdot": lambda g, b: np.einsum("ikjl,kl->ij", g.reshape(g.shape[0] // b.shape[0], b.shape[0],
                                                                         -1, b.shape[1]), b),
             "blocksum": lambda g, a: np.einsum("ikjl,ij->kl", g.reshape(a.shape[0], -1, a.shape[1],
                                                                         g.shape[1] // a.shape[1]), a),
             "softmax": lambda v: np.exp(v) / np.sum(np.exp(v), axis=0, keepdims=True),
             "onehot": lambda y, z: (np.arange(z.shape[0]).reshape(-1, 1) == y.reshape(1, -1)).astype(float)}
    for index, template in enumerate(PRIMITIVES[op].formulas):
        env = {**names, "G": G, "f": f, "x": args[0], **({"y": args[1]} if len(args) > 1 else {})}
        got = eval(template, {"__builtins__": {}}, env)  # our own templates, not input
        expected = autograd.make_vjp(lambda a, i=index: function(*[a if j == i else v for j, v in
                                                                   enumerate(args)]))(args[index])[0](G)
        np.testing.assert_allclose(np.broadcast_to(got, expected.shape), expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{op} argument {index}: {template}")


def test_a_batch_product_summed_whole_is_one_line_not_a_shape_error() -> None:
    """A hostile pass found `a gradient of shape (2,3,1) does not reduce to shape (3,4)`, with no hint."""
    done = wxb("derive", "-e", "sum(B @ X)", "B=2x3x3", "X=3x4", "--wrt", "X")
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "sums a batch product over its batch" in done.stderr and "wxb backward gives its values" in done.stderr
