"""Write wxb's sample data: small, readable operands for f = W·X ⊕ b, generated from a fixed seed.

Usage: python samples/make_samples.py [OUTPUT_DIR]   (default: the folder this script is in)

Values are small integers or multiples of 0.5: those are exact in binary floating point, and so are their sums
and products, so every result wxb prints for these samples is exact (2.5, never 2.4999999999999996).
The output is byte for byte the same on every run: CSV numbers are written in their shortest round-trip
form, and the .npz bundles are zip files with fixed timestamps (np.savez would stamp the current time).
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

SEED = 20240601
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def format_number(value: float) -> str:
    """The shortest text that reads back as exactly `value`; whole numbers without a trailing '.0'."""
    return str(int(value)) if value.is_integer() else repr(value)


def write_csv(path: Path, array: np.ndarray) -> None:
    """One matrix row per line, cells separated by commas, no header."""
    rows = (",".join(format_number(float(v)) for v in row) for row in np.atleast_2d(array))
    path.write_text("".join(row + "\n" for row in rows))


def write_npy(path: Path, array: np.ndarray) -> None:
    """A float64 .npy file (np.save is already deterministic)."""
    np.save(path, np.asarray(array, dtype=np.float64), allow_pickle=False)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed .npz bundle, keys in the given order, with fixed timestamps so it is reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as bundle:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array, dtype=np.float64), allow_pickle=False)
            bundle.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_ZIP_TIME), buffer.getvalue())


def halves(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values (standard deviation 1.5) rounded to the nearest multiple of 0.5."""
    return np.round(rng.normal(scale=1.5, size=shape) * 2) / 2 + 0.0  # + 0.0 turns -0.0 into 0.0


def small_integers(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Integers from -3 to 3, as floats."""
    return rng.integers(-3, 4, size=shape).astype(np.float64)


def seed_example() -> dict[str, np.ndarray]:
    """The worked example: W = I, X = [[1,2],[3,4]], b = [5;6], so f = [[6,7],[9,10]] and dL/db = [2;2]."""
    return {
        "W": np.eye(2),
        "X": np.array([[1.0, 2.0], [3.0, 4.0]]),
        "b": np.array([[5.0], [6.0]]),
        "G": np.ones((2, 2)),
    }


def dense_layer(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A dense layer with 3 inputs and 4 outputs, five samples as columns: W 4×3, X 3×5, b 4×1, G 4×5."""
    return {
        "W": halves(rng, (4, 3)),
        "X": small_integers(rng, (3, 5)),
        "b": halves(rng, (4, 1)),
        "G": halves(rng, (4, 5)),
    }


def batch_first_layer(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ML's X·W + b with six samples as rows: inputs 6×4, weights 4×3, a 1×3 row bias, G 6×3."""
    return {
        "inputs": small_integers(rng, (6, 4)),
        "weights": halves(rng, (4, 3)),
        "b": halves(rng, (1, 3)),
        "G": halves(rng, (6, 3)),
    }


def conv_activation(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """An N-d case: activation A (batch 2, channels 3, 4×4), a per-channel bias (1,3,1,1), G shaped like A."""
    return {
        "A": halves(rng, (2, 3, 4, 4)),
        "bias": halves(rng, (1, 3, 1, 1)),
        "G": halves(rng, (2, 3, 4, 4)),
    }


def two_layer_network(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A two-layer network, f = W2 @ tanh(W1 @ X + b1) + b2: three inputs, four hidden units, two outputs, four
    samples as columns (X 3×4), and one-hot targets T (2×4) for a softmax cross-entropy loss."""
    return {
        "W1": halves(rng, (4, 3)) / 2,
        "b1": halves(rng, (4, 1)) / 2,
        "W2": halves(rng, (2, 4)) / 2,
        "b2": halves(rng, (2, 1)) / 2,
        "X": small_integers(rng, (3, 4)),
        "T": np.eye(2)[:, rng.integers(0, 2, size=4)],
    }


def gaussian_example() -> dict[str, np.ndarray]:
    """A Gaussian log-likelihood's operands, f = ½ log det S + ½ xᵀS⁻¹x: S = L·Lᵀ (3×3, symmetric positive
    definite) for the integer lower-triangular L = [[1,0,0],[1,2,0],[0,-1,1]], so det S = 4 and S⁻¹ has entries
    that are multiples of ¼ (exact in binary), and x a 3×1 column."""
    lower = np.array([[1.0, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0, -1.0, 1.0]])
    return {"S": lower @ lower.T, "x": np.array([[1.0], [2.0], [-1.0]])}


def write_samples(root: Path) -> list[Path]:
    """Write every sample under root and return the paths written."""
    rng = np.random.default_rng(SEED)
    written: list[Path] = []

    def folder(name: str) -> Path:
        path = root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    for name, arrays, bundle in (
        ("seed", seed_example(), "seed.npz"),
        ("dense", dense_layer(rng), "layer.npz"),
    ):
        for key, array in arrays.items():
            written.append(folder(name) / f"{key}.csv")
            write_csv(written[-1], array)
        written.append(folder(name) / bundle)
        write_npz(written[-1], arrays)
    for key, array in batch_first_layer(rng).items():
        written.append(folder("batch-first") / f"{key}.csv")
        write_csv(written[-1], array)
    for key, array in conv_activation(rng).items():
        written.append(folder("conv") / f"{key}.npy")
        write_npy(written[-1], array)
    mlp = two_layer_network(rng)
    for key, array in mlp.items():
        written.append(folder("mlp") / f"{key}.csv")
        write_csv(written[-1], array)
    written.append(folder("mlp") / "mlp.npz")
    write_npz(written[-1], mlp)
    gaussian = gaussian_example()
    for key, array in gaussian.items():
        written.append(folder("gaussian") / f"{key}.csv")
        write_csv(written[-1], array)
    written.append(folder("gaussian") / "gaussian.npz")
    write_npz(written[-1], gaussian)
    return written


def main(argv: list[str]) -> None:
    """Write the samples into argv[0], or next to this script when no folder is given."""
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for path in write_samples(root):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
