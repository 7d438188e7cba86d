"""The fastest plain-script alternative to `wxb forward` on CSV: polars reads, NumPy multiplies, polars writes.

Usage: python bench/alt_csv_polars.py W.csv X.csv b.csv OUT.csv

What it does: reads three header-less CSV files with polars' multi-threaded reader (type inference, then a cast
to float64), computes f = W @ X + b with NumPy (b a column, broadcast over the columns), and writes f with
polars' CSV writer, whose default float format is the shortest text that round-trips exactly, as wxb's is.
No validation and no error messages beyond the exceptions polars and NumPy raise.
"""

from __future__ import annotations

import sys

import numpy as np
import polars as pl


def read_matrix(path: str) -> np.ndarray:
    """A header-less numeric CSV as a float64 NumPy array."""
    return np.asarray(pl.read_csv(path, has_header=False).cast(pl.Float64).to_numpy())


def main(w_path: str, x_path: str, b_path: str, out_path: str) -> None:
    """f = W @ X + b, written as CSV."""
    f = read_matrix(w_path) @ read_matrix(x_path) + read_matrix(b_path)
    pl.from_numpy(f, orient="row").write_csv(out_path, include_header=False)


if __name__ == "__main__":
    main(*sys.argv[1:5])
