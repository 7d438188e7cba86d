"""Plain NumPy scripts doing what the benchmarked wxb commands do with .npy operands.

Usage:
  python bench/alt_npy.py forward W.npy X.npy b.npy OUT.npy              f = W @ X + b
  python bench/alt_npy.py backward W.npy X.npy b.npy G.npy KEYS OUT.npz  KEYS from f,db,dW,dX (comma-separated)
  python bench/alt_npy.py bias-grad X.npy b.npy G.npy OUT.npy            db = G summed over b's broadcast axes
  python bench/alt_npy.py jacobian X.npy b.npy OUT.npy                   the one distinct block ∂f[:,k]/∂b = I

Every script loads all of its operands (as wxb must, to check their shapes) with allow_pickle=False, checks
that G has the shape of f without building f where f is not asked for, and writes with np.save / np.savez
(uncompressed). No error messages beyond the exceptions NumPy raises.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np


def load(path: str) -> np.ndarray:
    """An operand from a .npy file, never unpickling."""
    return np.asarray(np.load(path, allow_pickle=False))


def forward(w_path: str, x_path: str, b_path: str, out_path: str) -> None:
    """f = W @ X + b."""
    np.save(out_path, load(w_path) @ load(x_path) + load(b_path))


def backward(w_path: str, x_path: str, b_path: str, g_path: str, keys: str, out_path: str) -> None:
    """db = G·1 (b's shape), dW = G·Xᵀ, dX = Wᵀ·G, and f = W·X + b when asked for."""
    W, X, b, G = load(w_path), load(x_path), load(b_path), load(g_path)
    assert G.shape == np.broadcast_shapes((W.shape[0], X.shape[1]), b.shape)
    rules = {
        "f": lambda: W @ X + b,
        "db": lambda: G.sum(axis=1, keepdims=True).reshape(b.shape),
        "dW": lambda: G @ X.T,
        "dX": lambda: W.T @ G,
    }
    np.savez(out_path, **{key: rules[key]() for key in keys.split(",")})


def bias_grad(x_path: str, b_path: str, g_path: str, out_path: str) -> None:
    """db = G·1 for f = X + b (no W), reduced to b's shape."""
    X, b, G = load(x_path), load(b_path), load(g_path)
    assert G.shape == np.broadcast_shapes(X.shape, b.shape)
    np.save(out_path, G.sum(axis=1, keepdims=True).reshape(b.shape))


def jacobian(x_path: str, b_path: str, out_path: str) -> None:
    """∂f[:,k]/∂b = I (m×m), the same block for every column k of f = X + b."""
    X, b = load(x_path), load(b_path)
    np.save(out_path, np.eye(np.broadcast_shapes(X.shape, b.shape)[0]))


COMMANDS: dict[str, Callable[..., None]] = {
    "forward": forward,
    "backward": backward,
    "bias-grad": bias_grad,
    "jacobian": jacobian,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
