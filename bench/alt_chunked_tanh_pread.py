"""A hand-written chunked NumPy loop doing what `wxb backward -e "tanh(W @ X + b)" --wrt W,b -G G.npy` does, in
bounded memory: X and G are read a block of batch columns at a time, dW and db summed across blocks.

Usage: python bench/alt_chunked_tanh.py W.npy X.npy b.npy G.npy OUT.npz [BLOCK_MB]

Blocks are read by position (os.preadv of each row's run), as a careful script would, not through the memory map.
"""

from __future__ import annotations

import os
import sys

import numpy as np


def header(path: str) -> tuple[tuple[int, ...], np.dtype[np.float64], int]:
    """Shape, dtype and data offset of a C-order .npy (np.load maps it; no data is read)."""
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    assert mapped.flags.c_contiguous
    return mapped.shape, mapped.dtype, int(mapped.offset)


def columns(fd: int, shape: tuple[int, ...], dtype: np.dtype[np.float64], offset: int, start: int,
            stop: int) -> np.ndarray:
    """Columns [start, stop) of a C-order 2-D array in the file."""
    rows, n = shape
    block = np.empty((rows, stop - start), dtype=dtype)
    for row in range(rows):
        os.preadv(fd, [memoryview(block[row]).cast("B")], offset + (row * n + start) * dtype.itemsize)
    return block


def main(w_path: str, x_path: str, b_path: str, g_path: str, out_path: str, block_mb: str = "128") -> None:
    W, b = np.load(w_path), np.load(b_path)
    b = b.reshape(-1, 1) if b.ndim == 1 else b
    (k, n), dtype, x_offset = header(x_path)
    _, _, g_offset = header(g_path)
    width = max(1, int(block_mb) * 2**20 // (max(k, W.shape[0]) * dtype.itemsize))
    dW, db = np.zeros_like(W), np.zeros(b.shape[0])
    x_fd, g_fd = os.open(x_path, os.O_RDONLY), os.open(g_path, os.O_RDONLY)
    for start in range(0, n, width):
        stop = min(start + width, n)
        X = columns(x_fd, (k, n), dtype, x_offset, start, stop)
        G = columns(g_fd, (W.shape[0], n), dtype, g_offset, start, stop)
        f = np.tanh(W @ X + b)
        Gz = G * (1 - f * f)
        dW += Gz @ X.T
        db += Gz.sum(axis=1)
    np.savez(out_path, dW=dW, db=db.reshape(np.load(b_path).shape))


if __name__ == "__main__":
    main(*sys.argv[1:])
