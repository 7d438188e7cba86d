"""Running an expression: in memory, in blocks of columns (--chunk), or on Dask (--dask, --scheduler)."""
