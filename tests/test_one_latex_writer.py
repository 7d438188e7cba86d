"""derive --format latex and explain --format latex write every function the same way: the rows' names, from
one table (cli/show/notation.FUNCTIONS: a row's own, LaTeX's macro, or \\operatorname)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import wxb
from primitive_cases import CASES

from wxb.cli.show.notation import FUNCTIONS
from wxb.core.primitives import PRIMITIVES

CALLED = sorted(name for name, row in PRIMITIVES.items() if row.called and CASES[name].derive is not None)


def test_the_names_are_latexs_own_where_it_has_one() -> None:
    assert FUNCTIONS["tanh"] == r"\tanh" and FUNCTIONS["log"] == r"\log" and FUNCTIONS["det"] == r"\det"
    assert FUNCTIONS["trace"] == r"\operatorname{tr}" and FUNCTIONS["softplus"] == r"\operatorname{softplus}"
    assert FUNCTIONS["log_softmax"] == r"\operatorname{log\_softmax}"


@pytest.mark.parametrize("name", CALLED)
def test_derive_and_explain_write_the_function_alike(name: str, tmp_path: Path) -> None:
    case = CASES[name].derive
    assert case is not None
    expression, operands = case
    bound = []
    for operand, value in operands.items():
        np.save(tmp_path / f"{operand}.npy", np.asarray(value, dtype=np.float64))
        bound.append(f"{operand}={operand}.npy")
    from wxb.core import Problem

    shape = Problem.build(expression, operands).f_shape
    shapes = [f"{operand}={'x'.join(map(str, np.shape(value)))}" for operand, value in operands.items()]
    y = "Y=" + ("x".join(map(str, shape)) if shape else "()")
    # dL/dY of sum(Y * (expression)) is the expression itself: derive writes the function
    derived = wxb("derive", "-e", f"sum(Y * ({expression}))", *shapes, y, "--wrt", "Y", "--format", "latex",
                  cwd=tmp_path)
    explained = wxb("explain", "-e", expression, *bound, "--format", "latex", cwd=tmp_path)
    assert derived.returncode == 0, derived.stderr
    assert explained.returncode == 0, explained.stderr
    written = FUNCTIONS[name]
    assert written in explained.stdout, (name, written)
    assert written in derived.stdout, (name, written, derived.stdout)
    spelled = r"\operatorname{" + name.replace("_", r"\_") + "}"
    if spelled != written:
        assert spelled not in derived.stdout and spelled not in explained.stdout, name
