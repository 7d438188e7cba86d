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
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InputError, OutputError

Array = NDArray[Any]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class NpyLayout:
    """Where an array's data lies in a .npy file: the file's absolute path, the data's offset, shape, dtype, order."""

    path: str
    offset: int
    shape: Shape
    dtype: np.dtype[Any]
    fortran: bool = False

    @classmethod
    def of_memmap(cls, mapped: np.memmap[Any, Any]) -> NpyLayout:
        """The layout of an .npy file that np.load mapped (only its header is used, never its data)."""
        fortran = mapped.ndim >= 2 and mapped.flags.f_contiguous and not mapped.flags.c_contiguous
        return cls(os.path.abspath(str(mapped.filename)), int(mapped.offset), tuple(mapped.shape), mapped.dtype,
                   bool(fortran))

    @property
    def rows(self) -> int:
        """Entries per batch column: the product of every axis but the last."""
        return math.prod(self.shape[:-1])


def _read_into(fd: int, view: memoryview, position: int) -> None:
    """Fill view from the file at position (short reads continued); a file that ends early is truncated."""
    while view.nbytes:
        got = os.preadv(fd, [view], position)
        if got == 0:
            raise OSError(0, "the file ends before its header says")
        view, position = view[got:], position + got


def read_columns(layout: NpyLayout, start: int, stop: int, label: str = "") -> Array:
    """The block [..., start:stop] of the array in the file, read by position into a fresh array."""
    width = stop - start
    if not layout.shape:
        block: Array = np.empty((), dtype=layout.dtype)
    elif layout.fortran:  # column blocks of a Fortran-order array are contiguous
        block = np.empty((*layout.shape[:-1], width), dtype=layout.dtype, order="F")
    else:
        block = np.empty((*layout.shape[:-1], width), dtype=layout.dtype)
    if block.size == 0:
        return block
    size = layout.dtype.itemsize
    try:
        fd = os.open(layout.path, os.O_RDONLY)
        try:
            if not layout.shape or layout.fortran or width == layout.shape[-1]:
                _read_into(fd, block.reshape(-1, order="A").data.cast("B"),
                           layout.offset + start * layout.rows * size * layout.fortran)
            else:
                rows = block.reshape(layout.rows, width)
                for row in range(layout.rows):
                    position = layout.offset + (row * layout.shape[-1] + start) * size
                    _read_into(fd, rows[row].data.cast("B"), position)
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror or exc}", operand=label or None, source=layout.path) from None
    return block


def column_bounds(n: int, width: int) -> list[tuple[int, int]]:
    """[start, stop) of each block of at most width columns out of n (one empty block when n is 0)."""
    return [(start, min(start + width, n)) for start in range(0, n, width)] or [(0, 0)]


# ---------------------------------------------------------------- writing


def create(path: str, shape: Shape, dtype: np.dtype[Any]) -> NpyLayout:
    """A C-order .npy file at path with its header written and its data the right size (zeros, sparse); the
    layout tells the writer tasks where each entry goes."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
    with open(path, "wb") as stream:
        try:
            np.lib.format.write_array_header_1_0(stream, header)
        except ValueError:  # a header too long for version 1.0 (a great many axes)
            stream.seek(0)
            np.lib.format.write_array_header_2_0(stream, header)
        offset = stream.tell()
        stream.truncate(offset + math.prod(shape) * dtype.itemsize)
    return NpyLayout(os.path.abspath(path), offset, tuple(shape), np.dtype(dtype))


@dataclass(frozen=True)
class NpyTarget:
    """A .npy file as the target of da.store: `target[region] = block` writes the block in place."""

    layout: NpyLayout
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
                    _write_from(fd, piece.data.cast("B"), layout.offset + position * layout.dtype.itemsize)
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputError(f"cannot write it: {exc.strerror or exc}", operand="-o",
                              source=self.shown or layout.path) from None


def _segments(layout: NpyLayout, starts: list[int], data: Array) -> Iterator[tuple[int, Array]]:
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


def _write_from(fd: int, view: memoryview, position: int) -> None:
    while view.nbytes:
        wrote = os.pwrite(fd, view, position)
        view, position = view[wrote:], position + wrote
