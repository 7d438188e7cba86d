"""Write a large standard-normal .npy in blocks of columns, never whole in memory.

Usage: python bench/make_big.py OUT.npy ROWS COLUMNS [SEED]
"""

from __future__ import annotations

import sys

import numpy as np


def make(path: str, rows: int, columns: int, seed: int = 0, block: int = 1 << 25) -> None:
    """A (rows, columns) float64 array of N(0, 1) numbers (tanh-friendly scale 0.03 for W-sized fan-in)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, columns))
    rng = np.random.default_rng(seed)
    step = max(block // rows, 1)
    for start in range(0, columns, step):
        stop = min(start + step, columns)
        out[:, start:stop] = rng.standard_normal((rows, stop - start))
        out.flush()
    del out


if __name__ == "__main__":
    make(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
