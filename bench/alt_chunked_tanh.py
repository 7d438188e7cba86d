"""A hand-written chunked NumPy script doing what `wxb backward -e "tanh(W @ X + b)" --wrt W,b -G G.npy` and
`wxb forward -e "tanh(W @ X + b)" -o f.npy` do on operands larger than memory.

Usage: python bench/alt_chunked_tanh.py backward W.npy X.npy b.npy G.npy OUT.npz [CHUNK_MB]
       python bench/alt_chunked_tanh.py forward W.npy X.npy b.npy OUT.npy [CHUNK_MB]

X and G are memory-mapped and read in blocks of CHUNK_MB (default 256) of X's columns, copied out of the map;
dW and db are summed over the blocks (np.savez), f is written block by block into an .npy opened with
np.lib.format.open_memmap. No checks beyond NumPy's own.
"""

from __future__ import annotations

import sys

import numpy as np


def load(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r", allow_pickle=False)


def width(X: np.ndarray, chunk_mb: float) -> int:
    return max(int(chunk_mb * 2**20) // (X.shape[0] * X.itemsize), 1)


def backward(w_path: str, x_path: str, b_path: str, g_path: str, out_path: str, chunk_mb: str = "256") -> None:
    """Gz = G ⊙ (1 − tanh(W·X + b)²) per block; dW = Σ Gz·Xᵀ, db = Σ Gz·1."""
    W, b = np.load(w_path), np.load(b_path).reshape(-1, 1)
    X, G = load(x_path), load(g_path)
    dW, db = np.zeros_like(W), np.zeros_like(b)
    step = width(X, float(chunk_mb))
    for start in range(0, X.shape[1], step):
        x = np.array(X[:, start:start + step])
        f = np.tanh(W @ x + b)
        gz = np.array(G[:, start:start + step]) * (1 - f * f)
        dW += gz @ x.T
        db += gz.sum(axis=1, keepdims=True)
    np.savez(out_path, dW=dW, db=db)


def forward(w_path: str, x_path: str, b_path: str, out_path: str, chunk_mb: str = "256") -> None:
    """f = tanh(W·X + b), block by block into an .npy."""
    W, b = np.load(w_path), np.load(b_path).reshape(-1, 1)
    X = load(x_path)
    f = np.lib.format.open_memmap(out_path, mode="w+", dtype=np.float64, shape=(W.shape[0], X.shape[1]))
    step = width(X, float(chunk_mb))
    for start in range(0, X.shape[1], step):
        f[:, start:start + step] = np.tanh(W @ np.array(X[:, start:start + step]) + b)
    f.flush()


if __name__ == "__main__":
    {"backward": backward, "forward": forward}[sys.argv[1]](*sys.argv[2:])
