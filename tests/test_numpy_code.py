"""derive --format numpy (issue 20 item 4): the printed function runs and agrees with backward, on every row of
the table of primitives and on random expression trees; from the command line it is valid Python."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import wxb
from hypothesis import HealthCheck, assume, event, given, settings
from primitive_cases import CASES
from test_derive import REFUSALS
from test_engine_oracle import Case, cases, well_posed

from wxb.core.engine import Problem
from wxb.core.primitives import PRIMITIVES
from wxb.core.symbolic import DeriveError, derive
from wxb.core.symbolic.numpy_code import numpy_code

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
RNG = np.random.default_rng(11)


def generated(expr: str, operands: dict[str, np.ndarray], G: np.ndarray | None = None,
              rtol: float = 1e-9) -> str:
    """The code derive prints for expr with the operands' shapes, run on the operands as given: each gradient
    equals backward's, in its operand's shape."""
    problem = Problem.build(expr, operands)
    shapes = {name: a.shape for name, a in operands.items()}
    derivation = derive(problem.expression, shapes)
    code = numpy_code(derivation, shapes)
    space: dict[str, Any] = {}
    exec(compile(code, "<derive --format numpy>", "exec"), space)
    upstream = G if derivation.upstream else None
    args = [operands[name] for name in problem.expression.operands] + ([upstream] if derivation.upstream else [])
    got = space["gradients"](*args)
    expected = problem.backward(upstream if upstream is not None else (None if problem.f_shape == () else 1.0))
    assert sorted(got) == sorted(f"d{name}" for name in expected.grads)
    for name, value in expected.grads.items():
        assert got[f"d{name}"].shape == operands[name].shape, (name, code)
        scale = max(1.0, float(np.max(np.abs(value), initial=0.0)))
        np.testing.assert_allclose(got[f"d{name}"], value, rtol=rtol, atol=rtol * scale, err_msg=code)
    return code


@pytest.mark.parametrize("op", sorted(name for name, entry in CASES.items() if entry.derive is not None))
def test_every_rows_case_runs_as_numpy(op: str) -> None:
    entry = CASES[op].derive
    assert entry is not None
    expr, operands = entry
    problem = Problem.build(expr, operands)
    G = RNG.uniform(-1, 1, problem.f_shape) if problem.f_shape != () else None
    generated(expr, dict(operands), G)


def test_every_called_row_has_its_numpy_spelling() -> None:
    assert [name for name, row in PRIMITIVES.items() if row.called and not row.numpy] == []


@pytest.mark.parametrize(("expr", "operands"), [
    ("x.T @ A @ x", {"x": np.array([1.0, 2.0, 3.0]), "A": np.arange(9.0).reshape(3, 3)}),
    ("sum(tanh(W @ X + b))", {"W": RNG.normal(size=(3, 4)), "X": RNG.normal(size=(4, 5)), "b": RNG.normal(size=3)}),
    ("-sum(T * log_softmax(W @ X + b, axis=0))", {"W": RNG.normal(size=(3, 2)), "X": RNG.normal(size=(2, 4)),
                                                "b": RNG.normal(size=3), "T": np.eye(3)[:, [0, 1, 2, 1]]}),
    ("sum(X.T * y)", {"X": RNG.normal(size=(2, 3, 4)), "y": RNG.normal(size=4)}),
    ("sum(diag(x) @ A)", {"x": RNG.normal(size=3), "A": RNG.normal(size=(3, 3))}),
    ("logdet(A) + trace(inv(A) @ B)", {"A": RNG.normal(size=(3, 3)) + 4 * np.eye(3), "B": RNG.normal(size=(3, 3))}),
    ("sum(softmax(x) * y)", {"x": RNG.normal(size=4), "y": RNG.normal(size=4)}),
    ("mean(logsumexp(X, axis=0)) + norm(X, axis=1, keepdims=False).T @ v",
     {"X": RNG.normal(size=(3, 4)), "v": RNG.normal(size=3)}),
])
def test_1d_operands_batches_and_helpers(expr: str, operands: dict[str, np.ndarray]) -> None:
    """A 1-D operand is read as a column inside (x[:, None] where NumPy's row reading would differ), a batch's
    transpose swaps its last two axes, and the helpers printed run."""
    problem = Problem.build(expr, operands)
    G = RNG.uniform(-1, 1, problem.f_shape) if problem.f_shape != () else None
    generated(expr, operands, G)


@given(cases(dtypes=(np.float64,)))
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_trees_numpy_code_equals_backward(case: Case) -> None:
    """The random trees of the gradient oracle: the printed function agrees with backward wherever derive writes
    formulas (a refusal for one of derive's documented reasons skips the tree)."""
    well_posed(case)
    try:
        derive(Problem.build(case.text, case.operands).expression, {n: a.shape for n, a in case.operands.items()})
    except DeriveError as error:
        reason = [why for phrase, why in REFUSALS.items() if phrase in str(error)]
        assert reason, f"an undocumented refusal: {error}"
        event(f"derive refused: {reason[0]}")
        assume(False)
    generated(case.text, dict(case.operands), case.G, rtol=1e-8)


def test_the_command_prints_a_runnable_function(tmp_path: Any) -> None:
    done = wxb("derive", "-e", "sum(tanh(W @ X + b))", "W=3x4", "X=4x10", "b=3", "--wrt", "all", "-f", "numpy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("import numpy as np\n") and "def gradients(W, X, b):" in done.stdout
    space: dict[str, Any] = {}
    exec(compile(done.stdout, "gradients.py", "exec"), space)
    W, X, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 10)), RNG.normal(size=3)
    grads = space["gradients"](W, X, b)
    assert grads["db"].shape == (3,)
    np.testing.assert_allclose(grads["db"], np.sum(1 - np.tanh(W @ X + b[:, None]) ** 2, axis=1))
    written = wxb("derive", "-e", "x.T @ A @ x", "x=3", "A=3x3", "-o", "grads.py", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "def gradients(x, A):" in (tmp_path / "grads.py").read_text()
    refused = wxb("explain", "-e", "sum(X)", "X=1 2", "-f", "numpy")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
