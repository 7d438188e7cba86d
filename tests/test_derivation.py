"""explain's derivation reads what the engine computed: one forward pass, and the engine's own reductions."""

from __future__ import annotations

import numpy as np
import pytest

from wxb.cli.show import derivation
from wxb.core import Problem


@pytest.fixture
def problem() -> Problem:
    rng = np.random.default_rng(0)
    return Problem.build("tanh(W @ X + b) * X", {"W": rng.standard_normal((3, 3)), "X": rng.standard_normal((3, 4)),
                                                  "b": rng.standard_normal(3)})


def test_explain_computes_each_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """G comes from f in the backward pass's own forward pass (explain used to compute f first, then again)."""
    from wxb.core import evaluation as engine

    rng = np.random.default_rng(1)
    problem = Problem.build("W @ X + b", {"W": rng.standard_normal((3, 3)), "X": rng.standard_normal((3, 4)),
                                         "b": rng.standard_normal(3)})
    computed = []
    original = engine._apply

    def counted(problem: Problem, node: object, *args: object) -> object:
        computed.append(node)
        return original(problem, node, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_apply", counted)
    steps = derivation.derivation(problem, None, ("W", "X", "b"), "", default=False)
    assert len(computed) == len(problem.intermediates()) == 2
    assert steps


def test_each_backward_step_states_the_sums_the_engine_made(problem: Problem) -> None:
    grads = problem.backward(None, ("b",), keep=True, loss="sum")
    add = next(node for node in problem.intermediates() if node.op == "add")
    reduction = grads.edges[(id(add), 1)]
    assert reduction.summed_axes == (1,)
    steps = derivation.derivation(problem, None, ("b",), "", default=False)
    assert any("summed over axis 1" in step.formula or "·1" in step.formula for step in steps)


def test_the_loss_gradient_is_the_same_as_a_given_g(problem: Problem) -> None:
    given = derivation.derivation(problem, np.ones((3, 4)), ("W",), "", default=False)
    derived = derivation.derivation(problem, None, ("W",), "", default=False)
    assert [s.formula for s in given] == [s.formula for s in derived]
    for a, b in zip(given, derived, strict=True):
        for name in a.arrays:
            np.testing.assert_array_equal(a.arrays[name], b.arrays[name])


def test_a_rows_folds_are_its_identities_and_derive_applies_them() -> None:
    """Every fold (inner, result) of a row holds numerically, and derive's simplifier reads it from the row."""
    import numpy as np

    from wxb.core.engine import Problem
    from wxb.core.primitives import PRIMITIVES
    from wxb.core.symbolic import Writer, term_of

    z = np.array([[0.5, 1.5], [2.0, 0.25]])
    folds = [(op, inner, result) for op, row in PRIMITIVES.items() for inner, result in row.folds]
    assert ("exp", "log_softmax", "softmax") in folds
    for op, inner, result in folds:
        left = Problem.build(f"{op}({inner}(Z))", {"Z": z}).forward()
        right = Problem.build(f"{result}(Z)" if result else "Z", {"Z": z}).forward()
        np.testing.assert_allclose(left, right, rtol=1e-12)
        from wxb.core.expr import parse

        folded = Writer(None).call(op, (term_of(parse(f"{inner}(Z)").root),))
        assert folded.op == (result or "var")
