"""The sample data in samples/: every file loads, has its documented shape, and the generator reproduces it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
GENERATOR = SAMPLES / "make_samples.py"

CSV_SHAPES = {
    "seed/W.csv": (2, 2),
    "seed/X.csv": (2, 2),
    "seed/b.csv": (2, 1),
    "seed/G.csv": (2, 2),
    "dense/W.csv": (4, 3),
    "dense/X.csv": (3, 5),
    "dense/b.csv": (4, 1),
    "dense/G.csv": (4, 5),
    "batch-first/inputs.csv": (6, 4),
    "batch-first/weights.csv": (4, 3),
    "batch-first/b.csv": (1, 3),
    "batch-first/G.csv": (6, 3),
    "gaussian/S.csv": (3, 3),
    "gaussian/x.csv": (3, 1),
}
NPY_SHAPES = {
    "conv/A.npy": (2, 3, 4, 4),
    "conv/bias.npy": (1, 3, 1, 1),
    "conv/G.npy": (2, 3, 4, 4),
}
BUNDLES = {"seed/seed.npz": "seed", "dense/layer.npz": "dense"}


def load_csv(relative: str) -> np.ndarray:
    """A sample CSV as a 2-D float array (ndmin=2 keeps a one-line or one-column file 2-D)."""
    return np.loadtxt(SAMPLES / relative, delimiter=",", ndmin=2)


@pytest.mark.parametrize(("relative", "shape"), CSV_SHAPES.items())
def test_csv_sample_loads_with_documented_shape(relative: str, shape: tuple[int, ...]) -> None:
    array = load_csv(relative)
    assert array.shape == shape
    assert np.isfinite(array).all()


def test_batch_first_bias_is_one_line() -> None:
    lines = (SAMPLES / "batch-first/b.csv").read_text().splitlines()
    assert len(lines) == 1


@pytest.mark.parametrize(("relative", "shape"), NPY_SHAPES.items())
def test_npy_sample_loads_with_documented_shape(relative: str, shape: tuple[int, ...]) -> None:
    array = np.load(SAMPLES / relative, allow_pickle=False)
    assert array.shape == shape
    assert array.dtype == np.float64


@pytest.mark.parametrize(("bundle", "folder"), BUNDLES.items())
def test_bundle_agrees_with_csv_files(bundle: str, folder: str) -> None:
    with np.load(SAMPLES / bundle, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["G", "W", "X", "b"]
        for key in npz.files:
            np.testing.assert_array_equal(npz[key], load_csv(f"{folder}/{key}.csv"))


def test_seed_example_maths() -> None:
    """f = W·X + b·1ᵀ = [[6,7],[9,10]] and dL/db = G·1 = [2;2] for the worked example."""
    W, X, b, G = (load_csv(f"seed/{name}.csv") for name in "WXbG")
    np.testing.assert_array_equal(W, np.eye(2))
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(b, [[5], [6]])
    np.testing.assert_array_equal(W @ X + b, [[6, 7], [9, 10]])
    np.testing.assert_array_equal(G.sum(axis=1), [2, 2])


def test_shapes_compose() -> None:
    """Each sample's operands fit together: the product and the bias broadcast to the shape of G."""
    dense = {name: load_csv(f"dense/{name}.csv") for name in "WXbG"}
    assert (dense["W"] @ dense["X"] + dense["b"]).shape == dense["G"].shape
    inputs, weights = load_csv("batch-first/inputs.csv"), load_csv("batch-first/weights.csv")
    assert (inputs @ weights + load_csv("batch-first/b.csv")).shape == load_csv("batch-first/G.csv").shape
    A, bias = (np.load(SAMPLES / f"conv/{name}.npy") for name in ("A", "bias"))
    assert (A + bias).shape == A.shape
    assert np.load(SAMPLES / "conv/G.npy").sum(axis=(0, 2, 3), keepdims=True).shape == bias.shape


def test_gaussian_covariance_is_symmetric_positive_definite_with_an_exact_inverse() -> None:
    """S = L·Lᵀ with det S = 4, so S⁻¹ and S⁻¹x are multiples of ¼; the bundle holds the same arrays."""
    S, x = load_csv("gaussian/S.csv"), load_csv("gaussian/x.csv")
    np.testing.assert_array_equal(S, S.T)
    assert np.all(np.linalg.eigvalsh(S) > 0)
    assert np.linalg.det(S) == pytest.approx(4.0)
    assert is_multiple_of_quarter(np.round(np.linalg.inv(S), 12))
    with np.load(SAMPLES / "gaussian/gaussian.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["S", "x"]
        np.testing.assert_array_equal(npz["S"], S)
        np.testing.assert_array_equal(npz["x"], x)


def is_multiple_of_quarter(array: np.ndarray) -> bool:
    """True when every entry is k/4 for an integer k: exact in binary, so shortest round-trip text is short."""
    return bool(np.all(array * 4 == np.round(array * 4)))


def test_sample_results_are_exact() -> None:
    """f, dL/db, dL/dW and dL/dX of every sample come out as short exact numbers (no 6.999999999999999)."""
    W, X, b, G = (load_csv(f"dense/{name}.csv") for name in "WXbG")
    names = ("inputs", "weights", "b", "G")
    inputs, weights, row_bias, G_rows = (load_csv(f"batch-first/{name}.csv") for name in names)
    A, bias, G_conv = (np.load(SAMPLES / f"conv/{name}.npy") for name in ("A", "bias", "G"))
    results = [W @ X + b, G.sum(axis=1), G @ X.T, W.T @ G]
    results += [inputs @ weights + row_bias, G_rows.sum(axis=0), G_rows @ weights.T, inputs.T @ G_rows]
    results += [A + bias, G_conv.sum(axis=(0, 2, 3))]
    assert all(is_multiple_of_quarter(result) for result in results)


def sample_files(root: Path) -> dict[str, bytes]:
    """Every data file under root (not the generator or README), by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in {".csv", ".npy", ".npz"}
    }


def test_generator_reproduces_committed_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True, capture_output=True)
    regenerated, committed = sample_files(tmp_path), sample_files(SAMPLES)
    assert sorted(regenerated) == sorted(committed)
    for name, content in committed.items():
        assert regenerated[name] == content, f"{name} differs from what make_samples.py writes"
