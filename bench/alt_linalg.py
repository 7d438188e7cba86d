"""Plain NumPy scripts doing what `wxb backward` does for two matrix-calculus expressions with .npy operands.

Usage:
  python bench/alt_linalg.py logdet X.npy OUT.npy              dX of L = log |det X|: X⁻ᵀ
  python bench/alt_linalg.py solve A.npy B.npy KEYS OUT.npz    KEYS from dA,dB (comma-separated) of L = Σ A⁻¹B

What it does: loads the operands with allow_pickle=False, computes the gradients the way a person would by hand
(X⁻ᵀ with np.linalg.inv; for L = Σ X with X = A⁻¹B: G_B = solve(Aᵀ, 1), G_A = −G_B·Xᵀ, never forming A⁻¹) and
writes them with np.save / np.savez (uncompressed). No shape checks, no singular-matrix messages beyond NumPy's
LinAlgError.
"""

from __future__ import annotations

import sys

import numpy as np


def load(path: str) -> np.ndarray:
    """An operand from a .npy file, never unpickling."""
    return np.asarray(np.load(path, allow_pickle=False))


def logdet(x_path: str, out_path: str) -> None:
    """d log |det X| / dX = X⁻ᵀ."""
    np.save(out_path, np.linalg.inv(load(x_path)).T)


def solve(a_path: str, b_path: str, keys: str, out_path: str) -> None:
    """X = A⁻¹B; with G = 1: dB = solve(Aᵀ, G), dA = −dB·Xᵀ."""
    A, B = load(a_path), load(b_path)
    X = np.linalg.solve(A, B)
    dB = np.linalg.solve(A.T, np.ones_like(X))
    results = {"dA": lambda: -(dB @ X.T), "dB": lambda: dB}
    np.savez(out_path, **{key: results[key]() for key in keys.split(",")})


if __name__ == "__main__":
    {"logdet": logdet, "solve": solve}[sys.argv[1]](*sys.argv[2:])
