"""zarr stores as operands and outputs (in memory and with --dask), and the wxb[dask] extra: imported only when
used, and one line naming it when it is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wxb.core.engine import Problem

zarr = pytest.importorskip("zarr")

WXB = str(Path(sys.executable).parent / "wxb")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WXB, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def layer(tmp_path: Path) -> dict[str, np.ndarray]:
    """W, X, b, G of a tanh layer; X alone in acts.zarr, everything in the group store.zarr (W under enc/)."""
    rng = np.random.default_rng(5)
    arrays = {"W": rng.normal(size=(3, 4)), "X": rng.normal(size=(4, 9)), "b": rng.normal(size=3),
              "G": rng.normal(size=(3, 9))}
    acts = zarr.create_array(str(tmp_path / "acts.zarr"), shape=(4, 9), chunks=(4, 4), dtype="f8")
    acts[...] = arrays["X"]
    group = zarr.open_group(str(tmp_path / "store.zarr"), mode="w")
    for name, value in arrays.items():
        key = "enc/W" if name == "W" else name
        group.create_array(key, shape=value.shape, dtype=value.dtype, chunks=value.shape)[...] = value
    return arrays


def expected(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    problem = Problem.build("tanh(W @ X + b)", {k: arrays[k] for k in "WXb"})
    return {"f": problem.forward(), **problem.backward(arrays["G"]).keyed()}


@pytest.mark.parametrize("lazy", [[], ["--dask"]], ids=["memory", "dask"])
def test_zarr_operands_and_record_output(tmp_path: Path, layer: dict[str, np.ndarray], lazy: list[str]) -> None:
    want = expected(layer)
    done = run("backward", "-e", "tanh(W @ X + b)", "W=store.zarr:enc/W", "X=acts.zarr", "b=store.zarr:b",
               "-G", "store.zarr:G", "--wrt", "all", "-o", "grads.zarr", *lazy, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    grads = zarr.open_group(str(tmp_path / "grads.zarr"), mode="r")
    assert sorted(grads.array_keys()) == ["dW", "dX", "db"]
    for key in ("dW", "dX", "db"):
        np.testing.assert_allclose(grads[key][...], want[key], rtol=1e-12, atol=1e-12)
    assert grads["dX"].shape == (4, 9)
    done = run("forward", "-e", "tanh(W @ X + b)", "W=store.zarr:enc/W", "X=store.zarr:X", "b=store.zarr:b",
               "-o", "f.zarr", *lazy, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    f = zarr.open_array(str(tmp_path / "f.zarr"), mode="r")
    np.testing.assert_allclose(f[...], want["f"], rtol=1e-12, atol=1e-12)
    done = run("forward", "-e", "2 * X", "X=acts.zarr", "-o", "f.zarr", *lazy, cwd=tmp_path)  # replaced
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "f.zarr"), mode="r")[...], 2 * layer["X"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acts.zarr", "f.zarr", "grads.zarr", "store.zarr"]


def test_zarr_output_is_chunked_along_the_batch(tmp_path: Path) -> None:
    np.save(tmp_path / "X.npy", np.ones((3, 1000), dtype=np.float32))
    done = run("forward", "-X", "X.npy", "-b", "1", "-o", "f.zarr", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    f = zarr.open_array(str(tmp_path / "f.zarr"), mode="r")
    assert f.dtype == np.float32 and f.chunks[0] == 3 and f[...].tolist() == np.full((3, 1000), 2.0).tolist()


def test_zarr_errors_are_one_line(tmp_path: Path, layer: dict[str, np.ndarray]) -> None:
    done = run("forward", "-X", "store.zarr:nope", "-b", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("wxb: error: has no array named 'nope' (it has: ")
    assert "in -X store.zarr" in done.stderr
    (tmp_path / "plain").mkdir()
    done = run("forward", "-X", "acts.zarr", "-b", "1", "-o", "plain", "-f", "zarr", cwd=tmp_path)
    assert done.returncode == 2 and "is not a zarr store, and wxb replaces only zarr stores" in done.stderr
    assert list((tmp_path / "plain").iterdir()) == []
    done = run("forward", "-X", "acts.zarr", "-b", "1", "-f", "zarr", cwd=tmp_path)
    assert done.returncode == 2 and "a zarr store is a folder, not a stream" in done.stderr
    strings = zarr.create_array(str(tmp_path / "s.zarr"), shape=(2,), dtype="bool")
    strings[...] = True
    assert run("forward", "-X", "s.zarr", "-b", "1", "-f", "csv", cwd=tmp_path).stdout == "2.0\n2.0\n"


# ---------------------------------------------------------------- the extra


def wxb_without(modules: list[str], args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """wxb in a process where importing the named modules fails, as when the extra is not installed."""
    code = ("import sys\n"
            f"for name in {modules!r}: sys.modules[name] = None\n"
            f"sys.argv = ['wxb', *{args!r}]\n"
            "from wxb.cli.app import main\n"
            "main()\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("modules", "args"), [
    (["zarr"], ["forward", "-X", "acts.zarr", "-b", "1"]),
    (["dask", "dask.array"], ["forward", "-X", "1 2", "-b", "1", "--dask"]),
    (["distributed"], ["backward", "-X", "1 2", "-b", "1", "--scheduler", "tcp://127.0.0.1:1"]),
])
def test_missing_extra_is_one_line_naming_it(tmp_path: Path, layer: dict[str, np.ndarray], modules: list[str],
                                             args: list[str]) -> None:
    done = wxb_without(modules, args, tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "needs the wxb[dask] extra" in done.stderr
    # wxb is on no package index: the hint installs the extra from the source folder, or its packages by name
    assert done.stderr.rstrip().endswith("(hint: pip install '.[dask]' in wxb's source folder, or pip install "
                                         "'dask[array]' distributed zarr)")


@pytest.mark.parametrize("args", [["--help"], ["forward", "-X", "1 2; 3 4", "-b", "5; 6", "-f", "csv"]])
def test_start_up_imports_no_dask_nor_zarr(tmp_path: Path, args: list[str]) -> None:
    code = ("import sys\n"
            f"sys.argv = ['wxb', *{args!r}]\n"
            "from wxb.cli.app import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'zarr')), "
            "file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_a_group_with_other_arrays_is_refused_and_kept(tmp_path: Path) -> None:
    """X=s2.zarr:X ... -o s2.zarr: the group holds X, which this run does not write: one line, exit 2, X kept."""
    import subprocess
    import sys

    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(tmp_path / "s2.zarr"), mode="w")
    group.create_array("X", data=np.eye(2))
    wxb_bin = str(Path(sys.executable).parent / "wxb")
    done = subprocess.run([wxb_bin, "backward", "-e", "sum(2 * X)", "X=s2.zarr:X", "-o", "s2.zarr"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("wxb: error: is a zarr group holding arrays this run does not write (X)")
    again = zarr.open_group(str(tmp_path / "s2.zarr"), mode="r")
    assert np.array_equal(again["X"][...], np.eye(2))
    assert [p.name for p in tmp_path.iterdir()] == ["s2.zarr"]
