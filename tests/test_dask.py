"""The engine on Dask arrays: the random-expression oracle on operands read by wxb's own .npy reader tasks, under
a scheduler that raises if anything is computed while the problem is built, run forward or run backward. Then the
graph is searched for NumPy arrays of more than a few entries (a silent fall-back embeds one), computed, and
compared with the NumPy engine's results. Also: the .npy reader and block writer, --dask through the real command,
and a real distributed run (a `dask scheduler` and two `dask worker` processes on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from test_engine_oracle import Case, Tree, cases, well_posed

from wxb.cli.run.dask import npy_array
from wxb.cli.stores.blocks import NpyData
from wxb.cli.stores.npyblocks import NpyTarget, create, read_columns
from wxb.core.engine import Problem

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
WXB = str(Path(sys.executable).parent / "wxb")
EMBEDDED_LIMIT = 8  # entries: a constant or a 0-d fill value may sit in the graph, an operand-sized array not


def forbidden(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("something was computed while the graph was being built")


def embedded_arrays(value: Any, found: list[Any]) -> None:
    """Every NumPy array inside a task (arguments, keywords, partials, literal data), depth first."""
    if isinstance(value, np.ndarray):
        found.append(value)
    elif isinstance(value, tuple | list | set | frozenset):
        for item in value:
            embedded_arrays(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            embedded_arrays(item, found)
    elif isinstance(value, functools.partial):
        embedded_arrays((value.args, value.keywords), found)
    else:
        for attribute in ("args", "kwargs", "value"):  # dask's Task, DataNode
            inner = getattr(value, attribute, None)
            if inner is not None and not callable(inner):
                embedded_arrays(inner, found)


def assert_nothing_embedded(arrays: list[Any]) -> None:
    found: list[Any] = []
    for array in arrays:
        if isinstance(array, da.Array):
            embedded_arrays(list(dict(array.__dask_graph__()).values()), found)
    big = [a.shape for a in found if a.size > EMBEDDED_LIMIT]
    assert not big, f"NumPy arrays embedded in the graph: {big}"


def lazy_from_files(folder: str, arrays: dict[str, np.ndarray], width: int) -> dict[str, Any]:
    """Each array saved as .npy and read back by wxb's reader tasks, `width` batch columns a block."""
    lazy = {}
    for name, value in arrays.items():
        path = os.path.join(folder, f"{name}.npy")
        np.save(path, value)
        layout = NpyData.of_memmap(np.load(path, mmap_mode="r"))
        lazy[name] = npy_array(layout, width, name)
    return lazy


def tolerance(dtype: Any) -> float:
    return 1e-9 if dtype == np.float64 else 2e-3


def close(got: np.ndarray, want: np.ndarray, rtol: float, what: str) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, what
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def whole_matrices(tree: Tree) -> bool:
    """True when the tree uses a row that needs whole matrices (det, inv, …), which Dask does not compute."""
    from wxb.core.engine import WHOLE
    from wxb.core.primitives import PRIMITIVES

    row = PRIMITIVES.get(tree.op)
    return (row is not None and row.batch in WHOLE) or any(whole_matrices(arg) for arg in tree.args)


@pytest.mark.parametrize("expression", ["det(X)", "logdet(X) + sum(X)", "inv(X)", "solve(X, X)", "diag(X)",
                                        "trace(X)"])
def test_whole_matrix_functions_are_refused_on_dask(expression: str) -> None:
    from wxb.core import WxbError

    X = da.from_array(np.eye(3) * 2, chunks=(3, 1))
    with dask.config.set(scheduler=forbidden), pytest.raises(WxbError, match="whole matrices"):
        Problem.build(expression, {"X": X})


@settings(max_examples=60, deadline=None)
@given(cases())
def test_oracle_on_dask_operands_computes_nothing_until_asked(case: Case) -> None:
    assume(not whole_matrices(case.tree))  # refused on Dask: test_whole_matrix_functions_are_refused_on_dask
    assume(all(a.size for a in case.operands.values()))  # empty axes: Dask's own edge cases, not wxb's (see README)
    well_posed(case)
    expected = Problem.build(case.text, case.operands)
    f, grads = expected.forward(), expected.backward(case.G)
    width = 1 + sum(ord(c) for c in case.text) % 2  # blocks of 1 or 2 batch columns
    with tempfile.TemporaryDirectory() as folder:
        lazy = lazy_from_files(folder, {**case.operands, "G": case.G}, width)
        G = lazy.pop("G")
        with dask.config.set(scheduler=forbidden):
            problem = Problem.build(case.text, lazy)
            assert problem.lazy and problem.dtype == expected.dtype
            lazy_f = problem.forward()
            lazy_grads = problem.backward(G)
            scalar = problem.backward(np.float64(0.5))  # a scalar G: f's own lazy full, not an f-sized array
            mean = problem.backward(loss="mean") if problem.f_shape else None
        results = [lazy_f, *lazy_grads.grads.values(), *scalar.grads.values()]
        if mean is not None:
            results += list(mean.grads.values())
        assert all(isinstance(r, da.Array) for r in results), case.text
        assert_nothing_embedded(results)
        rtol = tolerance(case.dtype)
        computed_f, computed_grads = dask.compute(lazy_f, dict(lazy_grads.grads), scheduler="sync")
        close(computed_f, f, rtol, f"f of {case.text}")
        for name in grads.grads:
            close(computed_grads[name], grads[name], rtol, f"d{name} of {case.text}")
        half = dask.compute(dict(scalar.grads), scheduler="sync")[0]
        want = expected.backward(np.float64(0.5))
        for name in want.grads:
            close(half[name], want[name], rtol, f"d{name} for G = 0.5 of {case.text}")
        if mean is not None:
            got = dask.compute(dict(mean.grads), scheduler="sync")[0]
            want = expected.backward(loss="mean")
            for name in want.grads:
                close(got[name], want[name], rtol, f"d{name} for the mean loss of {case.text}")


# ---------------------------------------------------------------- the .npy reader and writer


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4), (6,), (), (3, 0)])
def test_reader_blocks_equal_the_file(tmp_path: Path, order: str, shape: tuple[int, ...]) -> None:
    value = np.asarray(np.random.default_rng(1).normal(size=shape), order=order)
    np.save(tmp_path / "a.npy", value)
    layout = NpyData.of_memmap(np.load(tmp_path / "a.npy", mmap_mode="r"))
    for width in (1, 3, 100):
        lazy = npy_array(layout, width)
        np.testing.assert_array_equal(lazy.compute(scheduler="sync"), value)
    assert_nothing_embedded([npy_array(layout, 2)])


def test_reader_of_a_vanished_file_is_a_located_error(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.ones((2, 3)))
    layout = NpyData.of_memmap(np.load(tmp_path / "a.npy", mmap_mode="r"))
    (tmp_path / "a.npy").unlink()
    with pytest.raises(Exception, match=r"cannot read it: No such file.*-X"):
        read_columns(layout, 0, 1, "-X")


@pytest.mark.parametrize("chunks", [(5, 2), (2, 7), (2, 3), (5, 7)])
def test_block_writer_writes_every_block_in_place(tmp_path: Path, chunks: tuple[int, int]) -> None:
    value = np.arange(35.0).reshape(5, 7)
    layout = create(str(tmp_path / "f.npy"), value.shape, value.dtype)
    da.store(da.from_array(value, chunks=chunks), NpyTarget(layout), lock=False, scheduler="sync")
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), value)
    three = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    layout = create(str(tmp_path / "g.npy"), three.shape, three.dtype)
    da.store(da.from_array(three, chunks=(1, 2, 3)), NpyTarget(layout), lock=False, scheduler="sync")
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), three)


# ---------------------------------------------------------------- through the command


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WXB, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def write_layer(folder: Path, n: int = 50) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    arrays = {"W": rng.normal(size=(4, 6)), "X": rng.normal(size=(6, n)), "b": rng.normal(size=4),
              "G": rng.normal(size=(4, n))}
    for name, value in arrays.items():
        np.save(folder / f"{name}.npy", value)
    return arrays


def expected_layer(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    problem = Problem.build("tanh(W @ X + b)", {k: arrays[k] for k in "WXb"})
    grads = problem.backward(arrays["G"])
    return {"f": problem.forward(), **grads.keyed()}


def dask_args(address: str | None) -> list[str]:
    return ["--scheduler", address] if address else ["--dask"]


def check_commands(folder: Path, address: str | None, *, all_checks: bool = True) -> None:
    """backward to npz, forward to a .npy written by the tasks (and, all_checks: a NaN warning and a missing
    file), through the real wxb."""
    arrays = write_layer(folder)
    want = expected_layer(arrays)
    operands = [f"{k}={folder / k}.npy" for k in "WXb"]
    done = run("backward", "-e", "tanh(W @ X + b)", *operands, "-G", f"{folder}/G.npy", "--wrt", "all",
               "-o", str(folder / "grads.npz"), *dask_args(address), cwd=folder)
    assert done.returncode == 0, done.stderr
    with np.load(folder / "grads.npz") as got:
        assert sorted(got.files) == ["dW", "dX", "db"]
        for key in got.files:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12)
    done = run("forward", "-e", "tanh(W @ X + b)", *operands, "-o", str(folder / "f.npy"), *dask_args(address),
               cwd=folder)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(folder / "f.npy"), want["f"], rtol=1e-12, atol=1e-12)
    assert not [p for p in os.listdir(folder) if p.endswith(".tmp")]
    if not all_checks:
        return
    done = run("forward", "-e", "log(X)", f"X={folder}/X.npy", "-f", "csv", *dask_args(address), cwd=folder)
    assert done.returncode == 0, done.stderr
    nans = int(np.count_nonzero(arrays["X"] < 0))
    assert f"wxb: warning: f has {nans:,} NaN entries (from an invalid operation" in done.stderr
    done = run("forward", "-X", f"{folder}/missing.npy", "-b", "1", *dask_args(address), cwd=folder)
    assert done.returncode == 2 and done.stderr.startswith("wxb: error: ") and done.stderr.count("\n") == 1


def test_dask_on_local_threads(tmp_path: Path) -> None:
    check_commands(tmp_path, None)
    np.save(tmp_path / "N.npy", np.array([[1.0, np.nan, np.inf], [2.0, 3.0, 4.0]]))
    done = run("forward", "-X", f"{tmp_path}/N.npy", "-b", "1", "--dask", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "[[2.0, null, null], [3.0, 4.0, 5.0]]\n"
    assert done.stderr == ("wxb: warning: f has 1 NaN entry (from NaN in the operands) and 1 infinite entry (from "
                           "the infinite entries of the operands, or an overflow beyond ±1.8e+308 for float64)\n")


def test_in_memory_commands_say_so(tmp_path: Path) -> None:
    done = run("explain", "-X", "1 2; 3 4", "-b", "5; 6", "--dask", "-f", "text", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr == "wxb: note: explain computes in memory: --dask is for forward and backward\n"


def test_unreachable_scheduler_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    done = run("forward", "-X", "1 2; 3 4", "-b", "5; 6", "--scheduler", f"tcp://127.0.0.1:{free_port()}",
               cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("wxb: error: cannot reach the Dask scheduler at") and done.stderr.count("\n") == 1


@pytest.mark.parametrize(("where", "reason"), [("127.0.0.1:{port}", "connection refused"),
                                              ("no-such-host.invalid:8786", "does not resolve")])
def test_a_refused_scheduler_or_an_unknown_name_is_said_at_once(tmp_path: Path, where: str, reason: str) -> None:
    """Known at once, so not after distributed's 30 s connect timeout (left at its default here)."""
    address = "tcp://" + where.format(port=free_port())
    started = time.monotonic()
    done = run("forward", "-X", "1 2; 3 4", "-b", "5; 6", "--scheduler", address, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"wxb: error: cannot reach the Dask scheduler at '{address}'")
    assert reason in done.stderr
    assert elapsed < 15, elapsed  # the interpreter and distributed's import included; the timeout is 30 s


# ---------------------------------------------------------------- a real cluster: scheduler and two workers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, always stopped afterwards."""
    with running_cluster(tmp_path, 2) as address:
        yield address


@contextlib.contextmanager
def running_cluster(tmp_path: Path, workers: int, private: Path | None = None) -> Iterator[str]:
    """A scheduler and `workers` workers on 127.0.0.1; with `private`, each worker sees that folder as an empty
    tmpfs of its own (a mount namespace: what a worker on another machine sees of a local folder)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask_cli = str(Path(sys.executable).parent / "dask")
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], log: str) -> None:
        with open(logs / log, "wb") as stderr:
            processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, cwd=tmp_path))

    try:
        start([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler.log")
        for i in range(workers):
            worker = [dask_cli, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                      "--memory-limit", "1GB", "--local-directory", str(tmp_path / f"w{i}")]
            if private is not None:
                worker = ["unshare", "-m", "sh", "-c", f'mount -t tmpfs tmpfs "{private}" && exec "$@"', "sh",
                          *worker]
            start(worker, f"worker{i}.log")
        wait_for_workers(address, workers)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def can_unshare() -> bool:
    """Root with mount namespaces (unshare -m, mount -t tmpfs): what the private-folder cluster needs."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(["unshare", "-m", "sh", "-c", f'mount -t tmpfs tmpfs "{folder}"'], capture_output=True)
        return done.returncode == 0


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A scheduler and one worker to which tmp_path/data is an empty folder of its own (wxb sees the real one)."""
    if not shutil.which("unshare") or not can_unshare():
        pytest.skip("needs unshare -m and tmpfs mounts (root): a worker with its own view of a folder")
    data = tmp_path / "data"
    data.mkdir()
    with running_cluster(tmp_path, 1, private=data) as address:
        yield address, data


def wait_for_workers(address: str, count: int, timeout: float = 60) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address, timeout="30s") as client:
        while len(client.scheduler_info()["workers"]) < count:
            assert time.monotonic() < deadline, "the dask workers did not come up"
            time.sleep(0.2)


@pytest.mark.slow
def test_backward_on_a_real_cluster(cluster: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    check_commands(data, cluster, all_checks=False)
    from distributed import Client

    from wxb.cli.errors import InputError, failure

    layout = NpyData.of_memmap(np.load(data / "X.npy", mmap_mode="r"))
    lazy = npy_array(layout, 10, "-X")
    (data / "X.npy").unlink()  # gone before the workers read it: their error comes back as wxb's
    with Client(cluster) as client, pytest.raises(InputError) as caught:
        client.compute(lazy.sum()).result()
    message = failure(caught.value)[1]
    assert message.startswith(f"wxb: error: it is missing on a Dask worker, in -X {layout.path} (hint: ")


@pytest.mark.slow
def test_ctrl_c_during_a_cluster_run_is_exit_130_and_quiet(cluster: str, tmp_path: Path) -> None:
    """SIGINT while the workers compute X @ X.T (seconds on one thread each): 130, and none of the client's
    "Task exception was never retrieved … AllExit" tracebacks."""
    import signal

    np.save(tmp_path / "X.npy", np.random.default_rng(0).normal(size=(1500, 6000)))
    process = subprocess.Popen([WXB, "forward", "-e", "X @ X.T", f"X={tmp_path}/X.npy", "-o", str(tmp_path / "f.npy"),
                                "--scheduler", cluster], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]:  # the output is created as the tasks start
        assert process.poll() is None and time.monotonic() < deadline, "wxb ended before it was interrupted"
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "Task exception" not in stderr, stderr
    assert not (tmp_path / "f.npy").exists()


@pytest.mark.slow
def test_an_operand_missing_on_a_worker_names_its_binding_and_says_where(private_cluster: tuple[str, Path]) -> None:
    address, data = private_cluster
    np.save(data / "X.npy", np.eye(3))
    done = run("forward", "-e", "2 * X", f"X={data}/X.npy", "-f", "csv", "--scheduler", address, cwd=data.parent)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr == (f"wxb: error: it is missing on a Dask worker, in X= {data}/X.npy (hint: with --scheduler "
                           "the workers read the operands themselves: put them on storage every worker sees, under the "
                           "same path)\n")


@pytest.mark.slow
@pytest.mark.parametrize("output", ["f.zarr", "f.npy"])
def test_an_output_the_workers_cannot_see_is_one_line_and_nothing_is_left(private_cluster: tuple[str, Path],
                                                                          output: str) -> None:
    """-o in a folder the worker sees as its own empty tmpfs: the chunks would land on the worker's side (a zarr
    store that reads back as zeros); refused in one line, exit 2, and nothing is left in the folder."""
    address, data = private_cluster
    here = data.parent / "inputs"
    here.mkdir()
    np.save(here / "X.npy", np.ones((2, 3)))
    done = run("forward", "-e", "2 * X", f"X={here}/X.npy", "-o", str(data / output), "--scheduler", address,
               cwd=here)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"wxb: error: it is not on storage this Dask worker sees, in -o {data / output} "
                                  "(hint: "), done.stderr
    assert "every worker sees" in done.stderr
    assert list(data.iterdir()) == []
