"""The forward pass of reverse mode computes only what the active arguments' VJPs read (a row's `reads`): the
product beside an operand that is not differentiated is not computed, and H·v of least squares runs no forward
matrix product at all. Each row's declaration is held against the same gradient with every value computed."""

from __future__ import annotations

import numpy as np
import pytest
from primitive_cases import CASES

from wxb.core import curvature as curv
from wxb.core.engine import Problem
from wxb.core.evaluation import closure
from wxb.core.primitives import PRIMITIVES
from wxb.core.primitives.row import Primitive
from wxb.core.reverse import needed_values

READING = sorted(name for name, row in PRIMITIVES.items() if row.reads)


def computed(problem: Problem, wrt: set[str]) -> set[str]:
    """The texts of the intermediate nodes the forward pass of a backward pass with respect to wrt computes."""
    ids = closure(problem, needed_values(problem, problem.depends_on(wrt)))
    return {node.text for node in problem.intermediates() if id(node) in ids}


def test_the_rows_that_declare_what_each_vjp_reads() -> None:
    assert {"mul", "div", "matmul", "T", "sum", "mean"} <= set(READING)


@pytest.mark.parametrize("name", READING)
def test_each_arguments_gradient_from_only_what_it_reads_equals_it_from_every_value(name: str) -> None:
    case = CASES[name].derive
    assert case is not None
    expression, operands = case
    problem = Problem.build(expression, operands)
    G = np.random.default_rng(7).normal(size=problem.f_shape)
    for operand in problem.expression.operands:
        alone = problem.backward(G, (operand,)).grads[operand]
        whole = problem.backward(G, (operand,), keep=True).grads[operand]
        assert np.isfinite(alone).all(), f"{name}: d{operand} read a value its row says it does not read"
        np.testing.assert_array_equal(alone, whole)


def test_a_product_beside_an_operand_not_differentiated_is_not_computed() -> None:
    rng = np.random.default_rng(0)
    ops = {"A": rng.normal(size=(3, 4)), "B": rng.normal(size=(3, 5)), "C": rng.normal(size=(5, 4))}
    problem = Problem.build("sum(A * (B @ C))", ops)
    assert "B @ C" not in computed(problem, {"B"})
    assert "B @ C" in computed(problem, {"A"})
    grads = problem.backward(None, ("B",)).grads
    np.testing.assert_allclose(grads["B"], ops["A"] @ ops["C"].T, rtol=1e-12)


def test_hvp_of_least_squares_computes_no_forward_product() -> None:
    rng = np.random.default_rng(1)
    ops = {"W": rng.normal(size=(3, 3)), "X": rng.normal(size=(3, 6)), "b": rng.normal(size=(3, 1)),
           "Y": rng.normal(size=(3, 6))}
    c = curv.curvature("sum((W @ X + b - Y) ** 2)", ops, ("W",))
    V = rng.normal(size=(3, 3))
    problem, active = curv.pairing(c, {"W": V})
    assert computed(problem, set(active)) == {"X.T"}  # a view; W·X and the gradient's value are never formed
    np.testing.assert_allclose(curv.hvp(c, {"W": V})["W"], 2 * V @ ops["X"] @ ops["X"].T, rtol=1e-12)


def test_a_row_whose_reads_are_not_its_uses_fails_at_import() -> None:
    mul = PRIMITIVES["mul"]
    with pytest.raises(TypeError, match="reads"):
        Primitive(mul.name, mul.symbol, mul.shape, mul.forward, mul.vjps, mul.rules, mul.linear, "x",
                  jvps=mul.jvps, reads=("y", "x"))
    with pytest.raises(TypeError, match="reads"):
        Primitive(mul.name, mul.symbol, mul.shape, mul.forward, mul.vjps, mul.rules, mul.linear, "xy",
                  jvps=mul.jvps, reads=("y",))
