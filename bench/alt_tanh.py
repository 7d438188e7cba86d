"""A plain NumPy script doing what `wxb backward -e "tanh(W @ X + b)" --wrt all` does with .npy operands.

Usage: python bench/alt_tanh.py W.npy X.npy b.npy KEYS OUT.npz

f = tanh(W @ X + b) under the sum loss (G = 1): KEYS (comma-separated) from f, db, dW, dX are
written with np.savez (uncompressed). b is a column: m×1, or 1-D as in wxb (one value per row of W @ X); db has
b's shape. Operands are loaded with allow_pickle=False. No error messages beyond the exceptions NumPy raises.
"""

from __future__ import annotations

import sys

import numpy as np


def load(path: str) -> np.ndarray:
    """An operand from a .npy file, never unpickling."""
    return np.asarray(np.load(path, allow_pickle=False))


def backward(w_path: str, x_path: str, b_path: str, keys: str, out_path: str) -> None:
    """Gz = G ⊙ (1 − f²) with G = 1; db = Gz·1 (b's shape), dW = Gz·Xᵀ, dX = Wᵀ·Gz."""
    W, X, b = load(w_path), load(x_path), load(b_path)
    z = W @ X + (b.reshape(-1, 1) if b.ndim == 1 else b)
    f = np.tanh(z)
    G = np.ones_like(f)
    Gz = G * (1 - f**2)
    results = {
        "f": lambda: f,
        "db": lambda: Gz.sum(axis=1).reshape(b.shape),
        "dW": lambda: Gz @ X.T,
        "dX": lambda: W.T @ Gz,
    }
    np.savez(out_path, **{key: results[key]() for key in keys.split(",")})


if __name__ == "__main__":
    backward(*sys.argv[1:])
