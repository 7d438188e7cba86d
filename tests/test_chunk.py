"""Streaming the batch in blocks: the unchanged engine per block of columns equals the whole, to rounding.

The oracle is the engine run whole: random expression trees (tests/test_engine_oracle.py's generator) that the
analysis says stream are run in blocks of 1 and 2 columns, forward and backward (G given, a scalar G, the mean
loss), and compared with the whole run at 1e-12 relative (float64; float32 at its own precision). Expressions that
need the whole batch before a column are refused with the reason, through the real command.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from test_engine_oracle import Case, cases, close
from typer.testing import CliRunner

from wxb.cli.app import app
from wxb.core.chunks import backward_blocks, columns, forward_blocks, jvp_blocks, slicing
from wxb.core.engine import Problem
from wxb.core.errors import WxbError
from wxb.core.forward_mode import directional
from wxb.core.plan import streaming

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
runner = CliRunner()


def tolerance(problem: Problem) -> float:
    return 1e-12 if problem.dtype == np.float64 else 2e-5


def built(case: Case) -> Problem:
    try:
        problem = Problem.build(case.text, case.operands)
    except WxbError:
        assume(False)
        raise
    return problem


class Collected:
    """Blocks written, put back together along their batch axis."""

    def __init__(self, axes: dict[str, int]) -> None:
        self.axes, self.parts = axes, {}  # type: ignore[var-annotated]

    def write(self, name: str, start: int, block: np.ndarray) -> None:
        self.parts.setdefault(name, []).append(block)

    def whole(self, name: str) -> np.ndarray:
        return np.concatenate(self.parts[name], axis=self.axes[name])


@settings(max_examples=400, deadline=None)
@given(cases())
def test_random_expressions_in_blocks_equal_the_whole(case: Case) -> None:
    problem = built(case)
    plan = streaming(problem)
    assume(plan.streams)
    with np.errstate(all="ignore"):
        f = problem.forward()
        assume(np.all(np.isfinite(f)) and np.all(np.abs(f) < 1e4))
        wrt = problem.expression.operands
        whole = problem.backward(problem.upstream(case.G), wrt)
        scalar = problem.backward(problem.upstream(np.asarray(0.5)), wrt)
        mean = problem.backward(None, wrt, loss="mean")
        rtol = tolerance(problem)
        axis = plan.f_axis if plan.f_axis is not None else -1
        for width in (1, 2):
            axes = {"f": axis, **{f"d{name}": -1 for name in wrt}}
            got = Collected(axes)
            value = forward_blocks(problem, plan, width, slicing(problem), got.write)
            close(got.whole("f") if value is None else value, f, rtol, f"f of {case.text} in blocks of {width}")
            for upstream, expected, loss in ((case.G, whole, None), (np.asarray(0.5), scalar, None),
                                             (None, mean, "mean")):
                got = Collected(axes)
                in_blocks = upstream is not None and upstream.ndim > 0 and plan.root == "columns"
                read = slicing(problem, upstream if in_blocks else None, None, axis)
                grads = backward_blocks(problem, plan, width, read, got.write, wrt, G=upstream, G_blocks=in_blocks,
                                        loss=loss)
                for name in wrt:
                    actual = got.whole(f"d{name}") if name in plan.carriers else grads.grads[name]
                    close(actual, expected.grads[name], rtol, f"d{name} of {case.text} ({loss or 'G'}), width {width}",
                          scale=float(np.max(np.abs(expected.grads[name]), initial=0.0)))


@settings(max_examples=200, deadline=None)
@given(cases())
def test_random_expressions_in_forward_mode_in_blocks_equal_the_whole(case: Case) -> None:
    """jvp in blocks of 1 and 2 columns (each carrier's tangent read in blocks, the others' whole) equals forward
    mode run whole, f and df, for every tree whose f keeps the batch."""
    problem = built(case)
    plan = streaming(problem)
    assume(plan.streams and plan.root == "columns")
    rng = np.random.default_rng(len(case.text))
    tangents = {name: rng.normal(size=problem.operands[name].shape).astype(problem.dtype)
                for name in problem.expression.operands}
    with np.errstate(all="ignore"):
        whole = directional(problem, tangents)
        assume(np.all(np.isfinite(whole.df)) and np.all(np.abs(whole.df) < 1e4) and np.all(np.isfinite(whole.f)))
        axis = plan.f_axis if plan.f_axis is not None else -1
        columns_of = slicing(problem)

        def read(name: str, start: int, stop: int) -> np.ndarray:
            if name.startswith("--tangent "):
                return columns(tangents[name.removeprefix("--tangent ")], -1, start, stop)
            return columns_of(name, start, stop)

        for width in (1, 2):
            got = Collected({"f": axis, "df": axis})
            kinks = jvp_blocks(problem, plan, width, read, got.write, tangents, value=True)
            rtol = tolerance(problem)
            close(got.whole("f"), whole.f, rtol, f"f of {case.text} in blocks of {width}")
            close(got.whole("df"), whole.df, rtol, f"df of {case.text} in blocks of {width}",
                  scale=float(np.max(np.abs(whole.df), initial=0.0)))
            assert sorted((k.node.text, k.count) for k in kinks) == sorted((k.node.text, k.count)
                                                                           for k in whole.kinks)


def test_forward_mode_refuses_to_stream_an_f_that_sums_the_batch_away() -> None:
    problem = Problem.build("sum(tanh(X))", {"X": np.ones((4, 10))})
    with pytest.raises(ValueError, match="keeps the batch"):
        jvp_blocks(problem, streaming(problem), 2, slicing(problem), lambda *a: None, {"X": np.ones((4, 10))})


@pytest.mark.parametrize(("expression", "shapes", "root", "carriers"), [
    ("tanh(W @ X + b)", {"W": (3, 4), "X": (4, 10), "b": (3,)}, "columns", ("X",)),
    ("tanh(W @ X + b)", {"W": (4, 4), "X": (4, 4), "b": (4,)}, "columns", ("X",)),
    ("softmax(W @ X)", {"W": (3, 4), "X": (4, 10)}, "columns", ("X",)),
    ("log_softmax(X, axis=0)", {"X": (4, 10)}, "columns", ("X",)),
    ("sum(X, axis=0) * 2", {"X": (4, 10)}, "columns", ("X",)),
    ("(W @ X).T", {"W": (3, 4), "X": (4, 10)}, "columns", ("X",)),
    ("W @ X", {"W": (3, 4), "X": (2, 4, 10)}, "columns", ("X",)),
    ("X * Y + C", {"X": (4, 10), "Y": (4, 10), "C": (4, 1)}, "columns", ("X", "Y")),
    ("sum(tanh(X))", {"X": (4, 10)}, "reduced", ("X",)),
    ("mean(X * X, axis=1)", {"X": (4, 10)}, "reduced", ("X",)),
    ("logsumexp(W @ X)", {"W": (3, 4), "X": (4, 10)}, "reduced", ("X",)),
    ("2 * sum(X)", {"X": (4, 10)}, "reduced", ("X",)),
    ("c + sum(X) / c", {"X": (4, 10), "c": ()}, "reduced", ("X",)),
])
def test_what_streams(expression: str, shapes: dict[str, tuple[int, ...]], root: str,
                      carriers: tuple[str, ...]) -> None:
    problem = Problem.build(expression, {name: np.ones(shape) for name, shape in shapes.items()})
    plan = streaming(problem)
    assert plan.streams, plan.reason
    assert (plan.root, plan.carriers) == (root, carriers)


@pytest.mark.parametrize(("expression", "shapes", "reason"), [
    ("X / sum(X)", {"X": (4, 10)}, "sums over the whole batch"),
    ("softmax(X, axis=-1)", {"X": (4, 10)}, "works along the batch axis"),
    ("z - mean(z, axis=1)", {"z": (4, 10)}, "sums over the whole batch"),
    ("X @ X.T", {"X": (4, 10)}, "contracts the batch axis"),
    ("X.T @ X", {"X": (4, 10)}, "both of its axes"),
    ("sum(X) + sum(X * X)", {"X": (4, 10)}, "each sum over the batch"),
    ("X + W.T", {"X": (4, 10), "W": (10, 4)}, "not split along it"),
])
def test_what_is_refused(expression: str, shapes: dict[str, tuple[int, ...]], reason: str) -> None:
    problem = Problem.build(expression, {name: np.ones(shape) for name, shape in shapes.items()})
    plan = streaming(problem)
    assert not plan.streams
    assert reason in plan.reason


@pytest.mark.parametrize(("expression", "wrt"), [
    ("(sum(W @ X) + sum(W)) ** 2", ("W", "X")), ("c + sum(X) / c", ("c",)), ("c + sum(X) / c", ("X", "c")),
])
def test_nodes_above_a_root_sum_run_once_and_keep_every_contribution(expression: str, wrt: tuple[str, ...]) -> None:
    rng = np.random.default_rng(4)
    shapes = {"W": (3, 4), "X": (4, 10), "c": ()}
    problem = Problem.build(expression, {name: rng.normal(size=shapes[name])
                                         for name in ("W", "X", "c") if name in expression})
    plan = streaming(problem)
    whole = problem.backward(None, wrt)
    got = Collected({f"d{name}": -1 for name in wrt})
    grads = backward_blocks(problem, plan, 3, slicing(problem), got.write, wrt)
    for name in wrt:
        actual = got.whole(f"d{name}") if name in plan.carriers else grads.grads[name]
        np.testing.assert_allclose(actual, whole.grads[name], rtol=1e-12)
    assert set(grads.grads) == {name for name in wrt if name not in plan.carriers}
    assert {name: len(grads.contributions[name]) for name in wrt} == {name: len(whole.contributions[name])
                                                                        for name in wrt}


def test_columns_picks_an_axis() -> None:
    a = np.arange(24).reshape(2, 3, 4)
    assert np.array_equal(columns(a, -1, 1, 3), a[..., 1:3])
    assert np.array_equal(columns(a, -2, 0, 2), a[:, 0:2, :])


# ---- Through the command ----

def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


def layer(tmp_path: Any, n: int = 50, dtype: Any = np.float64) -> dict[str, str]:
    rng = np.random.default_rng(3)
    paths = {}
    for name, shape in (("W", (3, 4)), ("X", (4, n)), ("b", (3, 1)), ("G", (3, n)), ("T", (3, n))):
        paths[name] = str(tmp_path / f"{name}.npy")
        np.save(paths[name], rng.normal(size=shape).astype(dtype))
    return paths


def data(result: Any, path: Any = None) -> dict[str, np.ndarray]:
    assert result.exit_code == 0, result.output
    if path is not None:
        loaded = np.load(path)
        return {key: loaded[key] for key in loaded.files} if hasattr(loaded, "files") else {"": loaded}
    import json

    value = json.loads(result.stdout)
    return {key: np.asarray(v) for key, v in value.items()} if isinstance(value, dict) else {"": np.asarray(value)}


@pytest.mark.parametrize("extra", [
    ("-G", "G"), ("--loss", "mean"), ("--loss", "mse", "-T", "T"), ("-G", "0.25"), ("--loss", "sum"),
])
def test_backward_in_blocks_equals_whole(tmp_path: Any, extra: tuple[str, ...]) -> None:
    paths = layer(tmp_path)
    args = [paths.get(a, a) for a in extra]
    base = ["backward", "-e", "tanh(W @ X + b)", f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}",
            "--wrt", "all", "-f", "json", *args]
    whole, blocks = data(run(*base)), data(run(*base, "--chunk", "96"))
    assert whole.keys() == blocks.keys() == {"dW", "dX", "db"}
    for key in whole:
        np.testing.assert_allclose(blocks[key], whole[key], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("expression", ["tanh(W @ X + b)", "sum(tanh(W @ X + b))", "logsumexp(W @ X + b)",
                                        "mean(W @ X + b, axis=1)", "softmax(W @ X + b)"])
def test_forward_in_blocks_equals_whole(tmp_path: Any, expression: str) -> None:
    paths = layer(tmp_path)
    base = ["forward", "-e", expression, f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}", "-f", "json"]
    whole, blocks = data(run(*base)), data(run(*base, "--chunk", "64"))
    np.testing.assert_allclose(blocks[""], whole[""], rtol=1e-12, atol=1e-15)


def test_forward_in_blocks_into_an_npy_file(tmp_path: Any) -> None:
    paths = layer(tmp_path, n=1000)
    base = ["forward", "-e", "tanh(W @ X + b)", f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}"]
    whole = data(run(*base, "-o", str(tmp_path / "f.npy")), tmp_path / "f.npy")[""]
    result = run(*base, "-o", str(tmp_path / "g.npy"), "--chunk", "1kB", env={"WXB_MEMORY": "20kB"})
    blocks = data(result, tmp_path / "g.npy")[""]
    assert blocks.flags.c_contiguous
    np.testing.assert_allclose(blocks, whole, rtol=1e-12, atol=1e-15)


def test_automatic_streaming_says_so(tmp_path: Any) -> None:
    paths = layer(tmp_path, n=2000)
    result = run("forward", "-e", "tanh(W @ X + b)", f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}",
                 "-o", str(tmp_path / "f.npy"), env={"WXB_MEMORY": "100kB"})
    assert result.exit_code == 0, result.output
    assert "100 kB available (WXB_MEMORY): streaming it in blocks of" in result.stderr


def test_chunk_refuses_an_expression_that_needs_the_whole_batch(tmp_path: Any) -> None:
    paths = layer(tmp_path)
    result = run("forward", "-e", "X / sum(X)", f"X={paths['X']}", "--chunk", "1kB")
    assert result.exit_code == 2
    assert result.stderr.startswith("wxb: error: cannot stream X / sum(X) in blocks: X / sum(X) uses sum(X), which "
                                    "sums over the whole batch")
    assert "--dask" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_refusal_does_not_send_a_matrix_function_to_dask_which_refuses_it_too(tmp_path: Any) -> None:
    """trace, det, inv, … do not run on Dask either: the hint must not loop between --chunk and --dask."""
    paths = layer(tmp_path)
    result = run("forward", "-e", "trace(X @ X.T)", f"X={paths['X']}", "--chunk", "1kB")
    assert result.exit_code == 2
    assert result.stderr.startswith("wxb: error: cannot stream trace(X @ X.T) in blocks")
    assert "--dask" not in result.stderr


def test_a_nan_given_is_warned_once_and_named_in_blocks_as_whole(tmp_path: Any) -> None:
    """In blocks, the NaN warning came twice, the second blaming 0/0 for a NaN that X holds."""
    X = np.array([[1.0, np.inf, 3.0], [np.nan, 2.0, 1.0]])
    np.save(tmp_path / "X.npy", X)
    whole = run("forward", "-X", str(tmp_path / "X.npy"), "-b", "0", "-f", "csv")
    blocks = run("forward", "-X", str(tmp_path / "X.npy"), "-b", "0", "-f", "csv", "--chunk", "1B")
    assert blocks.exit_code == whole.exit_code == 0
    assert blocks.stderr == whole.stderr
    assert blocks.stderr.count("warning") == 1 and "from NaN in X" in blocks.stderr
    back = run("backward", "-X", str(tmp_path / "X.npy"), "-b", "0", "--wrt", "X", "-G", "1", "-f", "csv",
               "--chunk", "1B")
    assert back.exit_code == 0 and back.stderr.count("warning") <= 1 and "0/0" not in back.stderr


def test_a_cause_is_named_when_the_blocks_go_straight_to_an_npy_file(tmp_path: Any) -> None:
    """Written block by block into -o's .npy, the warning said only 'f has 3 NaN entries': it names its cause as
    the whole run does (an operand read in blocks, G read in blocks), and the file holds the whole run's values."""
    X = np.ones((2, 40))
    X[1, 30] = np.nan
    X[0, 5] = np.inf
    G = np.ones((2, 40))
    G[0, 17] = np.inf
    for name, value in (("X", X), ("G", G)):
        np.save(tmp_path / f"{name}.npy", value)
    X_path, G_path = str(tmp_path / "X.npy"), str(tmp_path / "G.npy")
    whole = run("forward", "-X", X_path, "-b", "0", "-o", str(tmp_path / "whole.npy"))
    blocks = run("forward", "-X", X_path, "-b", "0", "-o", str(tmp_path / "blocks.npy"), "--chunk", "16B")
    assert blocks.exit_code == whole.exit_code == 0
    assert "from NaN in X" in whole.stderr and "from the infinite entries of X" in whole.stderr
    assert [line for line in blocks.stderr.splitlines() if "warning" in line] == whole.stderr.splitlines()
    np.testing.assert_array_equal(np.load(tmp_path / "blocks.npy"), np.load(tmp_path / "whole.npy"))
    args = ("backward", "-e", "2 * X", f"X={X_path}", "--wrt", "X", "-G", G_path)
    back_whole = run(*args, "-o", str(tmp_path / "dX-whole.npy"))
    back = run(*args, "-o", str(tmp_path / "dX.npy"), "--chunk", "16B")
    assert back.exit_code == back_whole.exit_code == 0
    assert "dX has 1 infinite entry (from the infinite entries of X, G" in back_whole.stderr
    assert [line for line in back.stderr.splitlines() if "warning" in line] == back_whole.stderr.splitlines()


def test_too_big_and_not_streaming_is_refused_with_the_estimate(tmp_path: Any) -> None:
    paths = layer(tmp_path, n=2000)
    result = run("forward", "-e", "softmax(X, axis=-1)", f"X={paths['X']}", "-f", "json", env={"WXB_MEMORY": "10kB"})
    assert result.exit_code == 2
    assert "needs about" in result.stderr and "10 kB available (WXB_MEMORY)" in result.stderr
    assert "does not stream in blocks: softmax(X, axis=-1) works along the batch axis" in result.stderr


def test_chunk_off_refuses_what_does_not_fit(tmp_path: Any) -> None:
    paths = layer(tmp_path, n=2000)
    result = run("forward", "-e", "tanh(W @ X + b)", f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}",
                 "--chunk", "off", "-o", str(tmp_path / "f.npy"), env={"WXB_MEMORY": "10kB"})
    assert result.exit_code == 2
    assert "--chunk off forbids streaming it in blocks" in result.stderr
    assert "drop --chunk off" in result.stderr
    assert not (tmp_path / "f.npy").exists()


def test_a_result_too_big_for_memory_goes_only_to_npy(tmp_path: Any) -> None:
    paths = layer(tmp_path, n=2000)
    result = run("forward", "-e", "tanh(W @ X + b)", f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}",
                 "-f", "csv", env={"WXB_MEMORY": "40kB"})
    assert result.exit_code == 2
    assert "only into an .npy file" in result.stderr and "-o f.npy" in result.stderr


def test_bad_chunk_size() -> None:
    result = run("forward", "-X", "1 2; 3 4", "-b", "1; 2", "--chunk", "lots")
    assert result.exit_code == 2
    assert "cannot read 'lots' as a size" in result.stderr


def test_float32_streams_in_float32(tmp_path: Any) -> None:
    paths = layer(tmp_path, dtype=np.float32)
    base = ["forward", "-e", "tanh(W @ X + b)", f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}"]
    whole = data(run(*base, "-o", str(tmp_path / "f.npy")), tmp_path / "f.npy")[""]
    blocks = data(run(*base, "-o", str(tmp_path / "g.npy"), "--chunk", "64"), tmp_path / "g.npy")[""]
    assert blocks.dtype == whole.dtype == np.float32
    np.testing.assert_allclose(blocks, whole, rtol=1e-6)


@pytest.mark.parametrize(("expression", "shapes"), [
    ("(W @ X).T", {"W": (3, 4), "X": (4, 3000)}),
    ("tanh(W @ X)", {"W": (3, 4), "X": (2, 4, 3000)}),
])
def test_blocks_on_another_axis_into_an_npy_file(tmp_path: Any, expression: str,
                                                 shapes: dict[str, tuple[int, ...]]) -> None:
    rng = np.random.default_rng(4)
    args = []
    for name, shape in shapes.items():
        np.save(tmp_path / f"{name}.npy", rng.normal(size=shape))
        args.append(f"{name}={tmp_path / f'{name}.npy'}")
    whole = data(run("forward", "-e", expression, *args, "-o", str(tmp_path / "f.npy")), tmp_path / "f.npy")[""]
    result = run("forward", "-e", expression, *args, "-o", str(tmp_path / "g.npy"), env={"WXB_MEMORY": "100kB"})
    assert "streaming it in blocks" in result.stderr
    np.testing.assert_allclose(data(result, tmp_path / "g.npy")[""], whole, rtol=1e-12, atol=1e-15)


def test_sizes_and_the_memory_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from wxb.cli.errors import InputError
    from wxb.cli.stores.blocks import available_memory, parse_size, size_text

    assert parse_size("256MB", "--chunk") == 256 << 20
    assert parse_size("1.5g", "--chunk") == 3 << 29
    assert parse_size("64 kib", "--chunk") == 64 << 10
    assert parse_size("1000", "--chunk") == 1000
    for bad in ("", "MB", "1 parsec", "0", "-5MB"):
        with pytest.raises(InputError):
            parse_size(bad, "--chunk")
    assert size_text(23 << 30) == "23 GB" and size_text(1.5 * 2**30) == "1.5 GB" and size_text(100 << 10) == "100 kB"
    monkeypatch.setenv("WXB_MEMORY", "64MB")
    assert available_memory() == (64 << 20, "WXB_MEMORY")
    monkeypatch.delenv("WXB_MEMORY")
    free, source = available_memory()
    assert free > 0 and source in ("MemAvailable", "the cgroup's limit", "unknown")


@pytest.mark.parametrize("command", ["check", "explain"])
def test_check_and_explain_refuse_what_does_not_fit(tmp_path: Any, command: str) -> None:
    paths = layer(tmp_path, n=2000)
    result = run(command, "-e", "tanh(W @ X + b)", f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}",
                 env={"WXB_MEMORY": "10kB"})
    assert result.exit_code == 2
    assert f"wxb: error: {command} of tanh(W @ X + b) needs about" in result.stderr
    assert "it does not stream" in result.stderr


def test_a_tiny_chunk_is_rounded_up_and_a_huge_one_that_fits_runs_whole(tmp_path: Any) -> None:
    """--chunk 1 (one byte) ran one block per column (20,000 blocks); --chunk 1TB said "does not fit" of a batch
    that fits. Through the real wxb: the results are the whole run's either way."""
    from conftest import wxb

    X = np.arange(40_000.0).reshape(2, 20_000) / 8
    np.save(tmp_path / "X.npy", X)
    args = ["forward", "-X", str(tmp_path / "X.npy"), "-b", "1", "-o"]
    tiny = wxb(*args, str(tmp_path / "tiny.npy"), "--chunk", "1", timeout=120)
    assert tiny.returncode == 0, tiny.stderr
    assert tiny.stderr == ("wxb: note: --chunk 1 byte makes 20,000 blocks of 1 column: rounded up to blocks of 79 "
                           "columns (1.2 kB)\n")
    huge = wxb(*args, str(tmp_path / "huge.npy"), "--chunk", "1TB")
    assert huge.returncode == 0 and huge.stderr == "", huge.stderr
    for name in ("tiny", "huge"):
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), X + 1)
