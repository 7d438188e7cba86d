"""Round-4 findings in the core and the commands over it: norm scaled by max |x|, derive --eval at the points
where a formula does not hold, the batch rules of a constant around a root sum, and derive's simplifier."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import wxb

from wxb.core import Problem


@pytest.mark.parametrize(("value", "norm"), [(1e200, math.sqrt(2) * 1e200), (1e-200, math.sqrt(2) * 1e-200),
                                             (1e-170, math.sqrt(2) * 1e-170), (3.0, math.sqrt(18))])
@pytest.mark.parametrize("axis", ["", ", axis=0"])
def test_norm_is_scaled_by_the_largest_entry_so_its_square_neither_overflows_nor_underflows(
        value: float, norm: float, axis: str) -> None:
    problem = Problem.build(f"norm(X{axis})", {"X": np.array([value, value])})
    np.testing.assert_allclose(problem.forward(), norm, rtol=1e-15)
    np.testing.assert_allclose(problem.backward()["X"], [math.sqrt(0.5)] * 2, rtol=1e-15)


def test_norm_of_a_matrix_along_an_axis_scales_each_slice_by_its_own_largest_entry() -> None:
    X = np.array([[1e200, 0.0, 3.0], [1e200, 0.0, 4.0]])
    problem = Problem.build("norm(X, axis=0, keepdims=False)", {"X": X})
    np.testing.assert_allclose(problem.forward(), [math.sqrt(2) * 1e200, 0.0, 5.0], rtol=1e-15)
    grad = problem.backward(np.ones(3))["X"]
    np.testing.assert_allclose(grad, [[math.sqrt(0.5), 0, 0.6], [math.sqrt(0.5), 0, 0.8]], rtol=1e-15)


def test_norm_keeps_inf_and_nan_and_the_norm_of_nothing_is_zero() -> None:
    assert Problem.build("norm(X)", {"X": np.array([np.inf, 1.0])}).forward() == np.inf
    assert np.isnan(Problem.build("norm(X)", {"X": np.array([np.nan, 1.0])}).forward())
    assert Problem.build("norm(X)", {"X": np.zeros((0, 2))}).forward() == 0


@pytest.mark.parametrize("value", ["1e200 1e200", "1e-200 1e-200"])
def test_backward_norm_at_huge_and_tiny_x_gives_x_over_its_norm(value: str) -> None:
    result = wxb("backward", "-e", "norm(X)", f"X={value}", "--format", "csv")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose([float(v) for v in result.stdout.split(",")], [math.sqrt(0.5)] * 2, rtol=1e-15)
    assert result.stderr == ""


def test_forward_norm_at_tiny_x_is_not_zero() -> None:
    result = wxb("forward", "-e", "norm(X)", "X=1e-170 1e-170", "--format", "csv")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(float(result.stdout), math.sqrt(2) * 1e-170, rtol=1e-15)


def test_derive_refuses_a_batch_solved_with_a_1d_operand_in_one_line_naming_the_users_formula() -> None:
    result = wxb("derive", "-e", "solve(A, b)", "A=2x3x3", "b=3")
    assert result.returncode == 2
    assert result.stderr.startswith("wxb: error: solve(A, b) solves a batch with a 1-D operand"), result.stderr
    assert "A.T" not in result.stderr and "one column" in result.stderr
    batched = wxb("derive", "-e", "solve(A, b)", "A=2x3x3", "b=2x3x1")
    assert batched.returncode == 0 and "dL/db" in batched.stdout, batched.stderr


@pytest.mark.parametrize(("expression", "value"), [("norm(X)", "0 0"), ("sum(norm(X, axis=0))", "[[0,1],[0,2]]")])
def test_derive_eval_says_where_the_norm_formula_does_not_hold_and_blames_no_operand(expression: str,
                                                                                       value: str) -> None:
    result = wxb("derive", "--eval", "-e", expression, f"X={value}")
    assert result.returncode == 0, result.stderr
    assert "warning: X has" not in result.stderr
    assert "dL/dX has 2 NaN entries" in result.stderr
    assert "does not hold where it gives NaN" in result.stderr and "wxb backward" in result.stderr
    assert "the subgradient 0" in result.stderr
    backward = wxb("backward", "-e", expression, f"X={value}", "--format", "csv")
    assert backward.stdout.split("\n")[0].split(",")[0] == "0.0"


def test_derive_eval_at_a_given_nan_blames_the_operand_and_claims_nothing_of_the_formula() -> None:
    result = wxb("derive", "--eval", "-e", "norm(X)", "X=nan 1")
    assert "from NaN in X" in result.stderr and "does not hold" not in result.stderr


def test_derive_eval_of_det_at_a_singular_matrix_prints_the_formula_and_points_to_backward() -> None:
    result = wxb("derive", "--eval", "-e", "det(A)", "A=[[1,2],[2,4]]")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "dL/dA = det(A) * inv(A).T\n"
    assert "does not hold at a singular matrix" in result.stderr
    assert "wxb backward gives dL/dA (the cofactors adj(A)ᵀ, exact at a singular A too)" in result.stderr
    backward = wxb("backward", "-e", "det(A)", "A=[[1,2],[2,4]]", "--format", "csv").stdout
    np.testing.assert_allclose([[float(v) for v in row.split(",")] for row in backward.split()], [[4, -2], [-2, 1]])


def _softmax_layer(tmp_path: Path, n: int = 40) -> list[str]:
    rng = np.random.default_rng(6)
    arrays = {"W": rng.normal(size=(3, 4)), "X": rng.normal(size=(4, n)), "b": rng.normal(size=(3, 1)),
              "T": np.eye(3)[rng.integers(0, 3, n)].T, "N": np.array(float(n)), "c": np.array(0.5)}
    for name, value in arrays.items():
        np.save(tmp_path / f"{name}.npy", value)
    return [f"{name}={tmp_path / name}.npy" for name in arrays]


CONSTANT_AROUND_A_SUM = ["-sum(T * log_softmax(W @ X + b))", "2 * sum(T * log_softmax(W @ X + b))",
                         "sum(T * log_softmax(W @ X + b)) / N", "-mean(T * log_softmax(W @ X + b))",
                         "c + sum(T * log_softmax(W @ X + b))", "c * logsumexp(W @ X + b) - c",
                         "(sum(W @ X) + sum(W)) ** 2"]


def _operands(expression: str, paths: list[str]) -> list[str]:
    from wxb.core import parse

    names = parse(expression).operands
    return [p for p in paths if p.split("=")[0] in names]


@pytest.mark.parametrize("expression", CONSTANT_AROUND_A_SUM)
@pytest.mark.parametrize("chunk", [["--chunk", "7"], ["--chunk", "1kB"]])
def test_a_constant_around_a_root_sum_streams_and_equals_the_whole(tmp_path: Path, expression: str,
                                                                   chunk: list[str]) -> None:
    operands = _operands(expression, _softmax_layer(tmp_path))
    for command, extra in (("forward", []), ("backward", ["--wrt", "all"]), ("backward", ["--loss", "mse", "-T",
                                                                                          "0.5"])):
        if extra[-1:] == ["0.5"] and "T" in parse_names(expression):
            continue
        base = [command, "-e", expression, *operands, *extra, "-f", "json"]
        whole, blocks = wxb(*base), wxb(*base, *chunk)
        assert whole.returncode == 0, whole.stderr
        assert blocks.returncode == 0, blocks.stderr
        a, b = json.loads(whole.stdout), json.loads(blocks.stdout)
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=1e-13)
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)


def parse_names(expression: str) -> tuple[str, ...]:
    from wxb.core import parse

    return parse(expression).operands


def test_the_readme_cross_entropy_streams_under_a_memory_limit(tmp_path: Path) -> None:
    expression = "-sum(T * log_softmax(W @ X + b))"
    operands = _operands(expression, _softmax_layer(tmp_path, n=4000))
    for wrt, out in (("W,b", "grads.npz"), ("X", "dX.npy")):
        base = ["backward", "-e", expression, *operands, "--wrt", wrt]
        whole = wxb(*base, "-o", str(tmp_path / f"whole-{out}"))
        streamed = wxb(*base, "-o", str(tmp_path / f"blocks-{out}"), env={"WXB_MEMORY": "200kB"})
        assert whole.returncode == 0, whole.stderr
        assert streamed.returncode == 0, streamed.stderr
        assert "streaming it in blocks of" in streamed.stderr
        a, b = np.load(tmp_path / f"whole-{out}"), np.load(tmp_path / f"blocks-{out}")
        if out.endswith(".npz"):
            assert sorted(a.files) == ["dW", "db"]
            for key in a.files:
                np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=1e-13)
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", ["<f4", ">f8", ">f4"])
def test_a_float32_or_big_endian_npy_streams_block_by_block(dtype: str, tmp_path: Path) -> None:
    """Issue 22 item 7: a mapped X of another dtype than the computation's is converted per block as it is read,
    not whole before anything is planned (which refused it: 'even one column needs about 305 MB')."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4000))
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=dtype, shape=X.shape)
    mapped[:] = X
    mapped.flush()
    del mapped
    np.save(tmp_path / "W.npy", rng.normal(size=(3, 50)))
    np.save(tmp_path / "b.npy", rng.normal(size=(3, 1)))
    args = ["-W", "W.npy", "-X", "X.npy", "-b", "b.npy"]
    streamed = wxb("backward", *args, "--wrt", "X", "-o", "dX.npy", cwd=tmp_path, env={"WXB_MEMORY": "1MB"})
    assert streamed.returncode == 0, streamed.stderr
    assert "streaming it in blocks" in streamed.stderr
    whole = wxb("backward", *args, "--wrt", "X", "-o", "whole.npy", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    np.testing.assert_allclose(np.load(tmp_path / "dX.npy"), np.load(tmp_path / "whole.npy"), rtol=1e-12)
    forward = wxb("forward", *args, "-o", "f.npy", cwd=tmp_path, env={"WXB_MEMORY": "1MB"})
    assert forward.returncode == 0 and "streaming" in forward.stderr, forward.stderr
    W, b = np.load(tmp_path / "W.npy"), np.load(tmp_path / "b.npy")
    expected = W @ np.load(tmp_path / "X.npy").astype(np.float64) + b
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), expected, rtol=1e-12)
