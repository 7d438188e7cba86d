"""A NumPy-only alternative to `wxb forward` on CSV: np.loadtxt, W @ X + b, np.savetxt.

Usage: python bench/alt_csv_numpy.py W.csv X.csv b.csv OUT.csv

What it does: reads three header-less CSV files with np.loadtxt (single-threaded), computes f = W @ X + b, and
writes f with np.savetxt using "%.17g", which round-trips exactly but is not the shortest form (wxb and polars
write e.g. 0.1 where this writes 0.10000000000000001), so its output file is somewhat larger.
"""

from __future__ import annotations

import sys

import numpy as np


def main(w_path: str, x_path: str, b_path: str, out_path: str) -> None:
    """f = W @ X + b, written as CSV."""
    W, X, b = (np.loadtxt(path, delimiter=",", ndmin=2) for path in (w_path, x_path, b_path))
    np.savetxt(out_path, W @ X + b, delimiter=",", fmt="%.17g")


if __name__ == "__main__":
    main(*sys.argv[1:5])
