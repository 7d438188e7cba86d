"""A .npy file read and written in blocks by position, for tasks that run anywhere the file is seen.

A reader task reads one block of batch columns (the last axis) with os.preadv straight into the block: no memory
map, so RSS holds only the block, and nothing of the file is copied into the task graph (da.from_array on a
memory map would pickle the data into it). A writer target takes blocks `target[region] = block` (as da.store
gives them) and writes each in place with os.pwrite, after the header written once up front. Both open the file by
its absolute path; both need only NumPy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, OutputError
from .blocks import NpyData, npy_header, pwrite_fully, read_block

Array = NDArray[Any]
Shape = tuple[int, ...]


def read_columns(layout: NpyData, start: int, stop: int, label: str = "") -> Array:
    """The block [..., start:stop] of the array in the file, read by position into a fresh array (a 0-d array
    whole); a file that cannot be read is a located InputError."""
    try:
        if not layout.shape:
            return read_block(replace(layout, shape=(1,)), -1, 0, 1).reshape(())
        return read_block(layout, -1, start, stop)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and on_a_worker():
            raise InputError("it is missing on a Dask worker", operand=label or None, source=layout.path,
                             hint="with --scheduler the workers read the operands themselves: put them on storage "
                             "every worker sees, under the same path") from None
        raise InputError(f"cannot read it: {exc.strerror or exc}", operand=label or None, source=layout.path) from None


def on_a_worker() -> bool:
    """True inside a task run by a dask.distributed worker (another machine's view of the files, maybe)."""
    import sys

    if "distributed" not in sys.modules:
        return False
    try:
        sys.modules["distributed"].get_worker()
    except ValueError:
        return False
    return True


def column_bounds(n: int, width: int) -> list[tuple[int, int]]:
    """[start, stop) of each block of at most width columns out of n (one empty block when n is 0)."""
    return [(start, min(start + width, n)) for start in range(0, n, width)] or [(0, 0)]


# ---------------------------------------------------------------- writing


def create(path: str, shape: Shape, dtype: np.dtype[Any]) -> NpyData:
    """A C-order .npy file at path with its header written and its data the right size (zeros, sparse); the
    layout tells the writer tasks where each entry goes."""
    header = npy_header(shape, np.dtype(dtype))
    with open(path, "wb") as stream:
        stream.write(header)
        stream.truncate(len(header) + math.prod(shape) * np.dtype(dtype).itemsize)
    return NpyData(os.path.abspath(path), len(header), tuple(shape), np.dtype(dtype))


@dataclass(frozen=True)
class NpyTarget:
    """A .npy file as the target of da.store: `target[region] = block` writes the block in place."""

    layout: NpyData
    shown: str = ""

    @property
    def shape(self) -> Shape:
        return self.layout.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.layout.dtype

    @property
    def ndim(self) -> int:
        return len(self.layout.shape)

    def __setitem__(self, region: tuple[slice, ...] | slice, block: Array) -> None:
        layout = self.layout
        region = region if isinstance(region, tuple) else (region,)
        starts = [s.indices(n)[0] for s, n in zip(region, layout.shape, strict=False)]
        starts += [0] * (len(layout.shape) - len(starts))
        data = np.ascontiguousarray(np.asarray(block, dtype=layout.dtype).reshape(
            [s.indices(n)[1] - s.indices(n)[0] for s, n in zip(region, layout.shape, strict=False)]
            + list(layout.shape[len(region):])))
        if data.size == 0:
            return
        try:
            fd = os.open(layout.path, os.O_WRONLY)
            try:
                for position, piece in _segments(layout, starts, data):
                    pwrite_fully(fd, piece.data.cast("B"), layout.offset + position * layout.dtype.itemsize)
            finally:
                os.close(fd)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and on_a_worker():
                raise unseen_output(self.shown or layout.path) from None
            raise OutputError(f"cannot write it: {exc.strerror or exc}", operand="-o",
                              source=self.shown or layout.path) from None


def unseen_output(shown: str) -> OutputError:
    """The error for an -o that a Dask worker does not see where the client made it."""
    return OutputError("it is not on storage this Dask worker sees", operand="-o", source=shown,
                       hint="with --scheduler the workers write -o themselves: name a path on storage every worker "
                       "sees, under the same path, or leave out -o")


def _segments(layout: NpyData, starts: list[int], data: Array) -> Iterator[tuple[int, Array]]:
    """The block as runs contiguous in the file: (entry position, run). The trailing axes the block spans whole
    join the run, so a block of whole rows is one write."""
    shape = layout.shape
    axis = len(shape)
    while axis > 0 and data.shape[axis - 1] == shape[axis - 1]:
        axis -= 1
    if axis == 0:
        yield 0, data.reshape(-1)
        return
    strides = [math.prod(shape[a + 1:]) for a in range(len(shape))]
    runs = data.reshape(math.prod(data.shape[:axis - 1]), -1)
    for i, index in enumerate(np.ndindex(*data.shape[:axis - 1])):
        position = sum((starts[a] + index[a]) * strides[a] for a in range(axis - 1))
        yield position + starts[axis - 1] * strides[axis - 1], runs[i]
