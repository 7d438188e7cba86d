"""HIPS autograd doing what `wxb hessian` does for least squares L = Σ (W·X + b − Y)² with .npy operands.

Usage:
  python bench/alt_hessian.py hvp W.npy X.npy b.npy Y.npy V.npy OUT.npy     H·v in W: autograd.make_hvp
  python bench/alt_hessian.py dense W.npy X.npy b.npy Y.npy OUT.npy         H in W (W.shape + W.shape): autograd.hessian
  python bench/alt_hessian.py extremes X.npy OUT.json                       H's extreme eigenvalues in W, exactly

H in W is 2·(X·Xᵀ) ⊗ I (in vec form), so its eigenvalues are twice X·Xᵀ's, each as often as W has rows: `extremes`
takes them from numpy.linalg.eigvalsh of the k×k X·Xᵀ, the answer `wxb hessian --eig` must find by Lanczos.

What it does: loads the operands with allow_pickle=False, b as a column, writes the result with np.save.
"""

from __future__ import annotations

import json
import sys

import autograd.numpy as anp
import numpy as np
from autograd import hessian, make_hvp


def load(path: str) -> np.ndarray:
    """An operand from a .npy file, never unpickling; a 1-D one as a column."""
    a = np.asarray(np.load(path, allow_pickle=False))
    return a.reshape(-1, 1) if a.ndim == 1 else a


def loss(X: np.ndarray, b: np.ndarray, Y: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda W: anp.sum((anp.dot(W, X) + b - Y) ** 2)


def hvp(w: str, x: str, b: str, y: str, v: str, out: str) -> None:
    W = load(w)
    np.save(out, make_hvp(loss(load(x), load(b), load(y)))(W)[0](load(v)))


def dense(w: str, x: str, b: str, y: str, out: str) -> None:
    np.save(out, hessian(loss(load(x), load(b), load(y)))(load(w)))


def extremes(x: str, out: str) -> None:
    X = load(x)
    values = 2 * np.linalg.eigvalsh(X @ X.T)
    smallest, largest = float(values[0]), float(values[-1])
    with open(out, "w") as f:
        json.dump({"smallest": smallest, "largest": largest}, f)


if __name__ == "__main__":
    {"hvp": hvp, "dense": dense, "extremes": extremes}[sys.argv[1]](*sys.argv[2:])
