"""HIPS autograd doing what `wxb hessian` does for least squares L = Σ (W·X + b − Y)² with .npy operands.

Usage:
  python bench/alt_hessian.py hvp W.npy X.npy b.npy Y.npy V.npy OUT.npy     H·v in W: autograd.make_hvp
  python bench/alt_hessian.py dense W.npy X.npy b.npy Y.npy OUT.npy         H in W (W.shape + W.shape): autograd.hessian

What it does: loads the operands with allow_pickle=False, b as a column, writes the result with np.save.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    {"hvp": hvp, "dense": dense}[sys.argv[1]](*sys.argv[2:])
