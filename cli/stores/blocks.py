""".npy files in blocks along one axis, and the memory this machine has to spare.

Blocks are read with positioned reads into the block's own buffer (os.preadv), never through a memory map: the
columns of a C-order file read through mmap map about 8.6 times the block (the kernel maps whole large folios),
and those pages count in RSS and against a cgroup's limit. A block along axis k of a C-order array of shape S is
prod(S[:k]) runs of prod(S[k:]) / S[k] · width items each; a Fortran-order array is the C-order array of the
reversed shape, so its column blocks are one run. Written files are .npy with the header first; blocks are written
with positioned writes (os.pwrite) into the file, which is created at its full size first.

The writer is one small interface (BlockWriter: write(start, block), then close()); .npy is its first kind, and
a zarr array can be another.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import numpy as np

from ..env import current
from ..errors import InputError

Array = np.ndarray[Any, np.dtype[Any]]
Shape = tuple[int, ...]
SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
              "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40}
MEMORY_VARIABLE = "WXB_MEMORY"


# ---- Sizes and the memory available ----

def parse_size(text: str, what: str) -> int:
    """Bytes in '256MB', '1.5G', '64mib', '1000000' (units are powers of 1024)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*", text)
    unit = found.group(2).upper() if found else ""
    if not found or unit not in SIZE_UNITS:
        raise InputError(f"cannot read {text!r} as a size", operand=what, hint="write e.g. 256MB, 1GB or 1.5G")
    size = int(float(found.group(1)) * SIZE_UNITS[unit])
    if size <= 0:
        raise InputError(f"a size must be positive, not {text!r}", operand=what)
    return size


def size_text(n: float) -> str:
    """'23 GB', '256 MB', '1.5 GB', '12 kB' (powers of 1024, as the sizes wxb reads)."""
    for unit, scale in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 and round(value, 1) != int(value) else f"{value:.0f} {unit}"
    return "1 byte" if n == 1 else f"{n:.0f} bytes"


def _read_number(path: str) -> int | None:
    try:
        with open(path) as file:
            text = file.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room() -> int | None:
    """The cgroup's limit less its usage (v2, else v1), when a limit is set."""
    try:
        with open("/proc/self/cgroup") as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2
            base = f"/sys/fs/cgroup{path}"
            limit, usage = _read_number(f"{base}/memory.max"), _read_number(f"{base}/memory.current")
        elif "memory" in controllers.split(","):
            base = f"/sys/fs/cgroup/memory{path}"
            limit = _read_number(f"{base}/memory.limit_in_bytes")
            usage = _read_number(f"{base}/memory.usage_in_bytes")
        else:
            continue
        if limit is not None and usage is not None and limit < 1 << 60:
            return max(limit - usage, 0)
    return None


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_memory() -> tuple[int, str]:
    """Bytes a command may use, and where that figure comes from: WXB_MEMORY when set (a cap, for tests and
    shared machines), else the least of MemAvailable and a cgroup's limit less its usage."""
    capped = current().memory_cap
    if capped:
        return parse_size(capped, MEMORY_VARIABLE), MEMORY_VARIABLE
    found = [(n, source) for n, source in ((_mem_available(), "MemAvailable"), (_cgroup_room(), "the cgroup's limit"))
             if n is not None]
    return min(found) if found else (1 << 62, "unknown")


# ---- .npy files: where their data lies ----

@dataclass(frozen=True)
class NpyData:
    """Where an array's data lies in a .npy file: its path, the byte offset of the data, shape, dtype, order."""

    path: str
    offset: int
    shape: Shape
    dtype: np.dtype[Any]
    fortran: bool = False

    @classmethod
    def of_memmap(cls, mapped: np.memmap[Any, Any]) -> NpyData:
        """The data of an .npy file that np.load mapped (only its header is used, never its data), by absolute
        path, so that a task on another machine finds it too."""
        fortran = mapped.ndim >= 2 and mapped.flags.f_contiguous and not mapped.flags.c_contiguous
        return cls(os.path.abspath(str(mapped.filename)), int(mapped.offset), tuple(mapped.shape), mapped.dtype,
                   bool(fortran))

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def rows(self) -> int:
        """Entries per batch column: the product of every axis but the last."""
        return math.prod(self.shape[:-1])


def mapped_file(array: Array) -> NpyData | None:
    """The .npy data behind a memory-mapped array as np.load(mmap_mode='r') gives it (or a contiguous view of
    all of it), else None."""
    base: Any = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    if base is None or getattr(base, "filename", None) is None or base.size != array.size:
        return None
    if array.dtype != base.dtype or array.ctypes.data != base.ctypes.data:
        return None
    fortran = bool(array.flags.f_contiguous and not array.flags.c_contiguous)
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        return None
    return NpyData(str(base.filename), int(base.offset), tuple(array.shape), array.dtype, fortran)


def _runs(shape: Shape, axis: int, fortran: bool) -> tuple[Shape, int]:
    """The array as C-order (outer, size, inner) around `axis` (counted from the end)."""
    axis %= len(shape)
    if fortran:
        shape, axis = shape[::-1], len(shape) - 1 - axis
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])), axis


def read_block(data: NpyData, axis: int, start: int, stop: int) -> Array:
    """Entries start:stop along `axis` (from the end) of the .npy data, by positioned reads."""
    (outer, size, inner), _ = _runs(data.shape, axis, data.fortran)
    width = stop - start
    item = data.dtype.itemsize
    out = np.empty(outer * width * inner, dtype=data.dtype)
    view = out.data.cast("B")
    runs = 1 if width == size else outer  # the whole axis: the outer runs lie end to end, one read
    run = len(view) // max(runs, 1)
    fd = os.open(data.path, os.O_RDONLY)
    try:
        for o in range(runs):
            position = data.offset + ((o * size + start) * inner) * item
            pread_fully(fd, view[o * run:(o + 1) * run], position)
    finally:
        os.close(fd)
    return _shaped(out, data.shape, axis, width, data.fortran)


def _shaped(flat: Array, shape: Shape, axis: int, width: int, fortran: bool) -> Array:
    block = list(shape)
    block[axis] = width
    return flat.reshape(block, order="F" if fortran else "C")


def pread_fully(fd: int, view: memoryview, position: int) -> None:
    """Fill view from the file at position, short reads continued; a file that ends early is an OSError."""
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], position + done)
        if n <= 0:
            raise OSError(f"unexpected end of file at byte {position + done}")
        done += n


def pwrite_fully(fd: int, view: memoryview, position: int) -> None:
    """Write all of view into the file at position, short writes continued."""
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], position + done)


# ---- Writers of blocks ----

class BlockWriter(Protocol):
    """Where a result that holds the batch goes, block by block along its batch axis."""

    def write(self, start: int, block: Array) -> None: ...


def npy_header(shape: Shape, dtype: np.dtype[Any], fortran: bool = False, length: int = 0) -> bytes:
    """A .npy (version 1.0 or 2.0) header, padded with spaces to `length` bytes when given."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran, "shape": tuple(shape)})
    total = length or -(-(len(text) + 12 + 1) // 64) * 64
    small = total - 10 <= 0xFFFF
    fixed = 10 if small else 12
    body = text.encode("latin1")
    body += b" " * (total - fixed - len(body) - 1) + b"\n"
    if len(body) + fixed != total or total - fixed - 1 < len(text):
        raise ValueError("the .npy header does not fit its reserved length")
    size = len(body).to_bytes(2 if small else 4, "little")
    return b"\x93NUMPY" + (b"\x01\x00" if small else b"\x02\x00") + size + body


class NpyWriter:
    """An .npy of `shape` written into an open file: header first, then blocks along `axis` by positioned writes
    (C order), the file first made its full size."""

    def __init__(self, stream: BinaryIO, shape: Shape, dtype: np.dtype[Any], axis: int = -1) -> None:
        self.shape, self.dtype, self.axis = tuple(shape), np.dtype(dtype), axis % max(len(shape), 1)
        header = npy_header(self.shape, self.dtype)
        stream.write(header)
        stream.flush()
        self.fd, self.offset = stream.fileno(), len(header)
        os.ftruncate(self.fd, self.offset + math.prod(self.shape) * self.dtype.itemsize)

    def write(self, start: int, block: Array) -> None:
        (outer, size, inner), _ = _runs(self.shape, self.axis, False)
        data = np.ascontiguousarray(block, dtype=self.dtype)
        width = data.shape[self.axis] if data.ndim else 1
        flat = data.reshape(-1).data.cast("B")
        item = self.dtype.itemsize
        run = width * inner * item
        for o in range(outer):
            position = self.offset + ((o * size + start) * inner) * item
            pwrite_fully(self.fd, flat[o * run:(o + 1) * run], position)


class MemoryWriter:
    """A result assembled in memory from its blocks (when it fits), to be written as any other result."""

    def __init__(self, shape: Shape, dtype: np.dtype[Any], axis: int = -1) -> None:
        self.array = np.empty(shape, dtype=dtype)
        self.axis = axis

    def write(self, start: int, block: Array) -> None:
        width = block.shape[self.axis] if block.ndim else 1
        from ...core.chunks import columns

        axis = self.axis - self.array.ndim if self.axis >= 0 else self.axis
        columns(self.array, axis, start, start + width)[...] = block
