"""Arrays in files wxb reads whole: .npy and .npz, checked before allocating (a .npy header against the bytes
really present, an .npz member against the zip's sizes; allow_pickle=False always, object arrays refused), and
JSON documents of arrays (one nested list, or an object of them)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, Where
from .literals import json_array
from .textparse import (
    decode,
    shorten,
)

if TYPE_CHECKING:
    import zipfile

_MAX_DEFLATE_RATIO = 1100  # zlib cannot expand data more than ~1032×: a zip claiming more is lying

Array = NDArray[np.generic]
Archive = Mapping[str, Callable[[], Array]]  # name → loader: arrays are read only when asked for


# ---------------------------------------------------------------- .npy and .npz: checked before allocating


def _npy_header(stream: IO[bytes], where: Where) -> tuple[tuple[int, ...], bool, np.dtype[np.generic], int]:
    """(shape, fortran_order, dtype, bytes of data) from a .npy header; bad or unsafe headers raise."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise where.error(f"unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, SyntaxError) as exc:
        raise where.error(f"not a valid .npy file ({_first_line(exc)})") from None
    check_dtype(dtype, where)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    return shape, fortran, dtype, count * dtype.itemsize


def check_dtype(dtype: np.dtype[np.generic], where: Where) -> None:
    """Only booleans, integers and real floats; object arrays would need pickle, which wxb never loads."""
    if dtype.kind == "O" or dtype.hasobject:
        raise where.error("holds Python objects (loading them would run pickle, which wxb never does)")
    if dtype.kind == "c":
        raise where.error(f"holds complex numbers ({dtype})", hint="wxb computes with real numbers only")
    if dtype.kind not in "biuf":
        raise where.error(f"holds {shorten(str(dtype))} data, not numbers")


def _truncated(shape: tuple[int, ...], dtype: np.dtype[np.generic], need: int, have: int, where: Where) -> InputError:
    return where.error(f"truncated .npy: its header says {shape} {dtype} ({need} bytes of data) but only {have} follow")


def npy_file(path: Path, where: Where) -> Array:
    """A .npy file, memory-mapped read-only after its header was checked against the file's size."""
    with open(path, "rb") as file:
        shape, _, dtype, need = _npy_header(file, where)
        have = os.fstat(file.fileno()).st_size - file.tell()
    if have < need:
        raise _truncated(shape, dtype, need, have, where)
    try:
        array: Array = np.load(path, mmap_mode="r" if need else None, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise where.error(f"not a valid .npy file ({_first_line(exc)})") from None
    return array


def npy_bytes(data: bytes, where: Where) -> Array:
    """An array from .npy bytes without copying them; the header is checked against the bytes present."""
    stream = io.BytesIO(data)
    shape, fortran, dtype, need = _npy_header(stream, where)
    offset = stream.tell()
    have = len(data) - offset
    if have < need:
        raise _truncated(shape, dtype, need, have, where)
    flat = np.frombuffer(data, dtype=dtype, count=need // dtype.itemsize if dtype.itemsize else 0, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


def _read_into(stream: IO[bytes], head: bytes, where: Where) -> Array:
    """The array of a .npy whose first bytes `head` were read already: the rest read straight into it."""
    header = io.BytesIO(head)
    shape, fortran, dtype, need = _npy_header(header, where)
    offset = header.tell()
    flat = np.empty(need // dtype.itemsize if dtype.itemsize else 0, dtype=dtype)
    view = flat.data.cast("B")
    first = head[offset:offset + need]
    view[:len(first)] = first
    done = len(first)
    while done < need:
        n = stream.readinto(view[done:])  # type: ignore[attr-defined]
        if not n:
            raise _truncated(shape, dtype, need, done, where)
        done += n
    return flat.reshape(shape, order="F" if fortran else "C")


def npy_stream(stream: IO[bytes], head: bytes, where: Where) -> Array:
    """A .npy from a stream, read into its array without a copy of the bytes."""
    return _read_into(stream, head, where)


def npz_archive(source: str | IO[bytes], where: Where) -> Archive:
    """The arrays of an .npz (a zip of .npy members), each read only when asked for."""
    import zipfile

    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise where.error(f"not a valid .npz file ({_first_line(exc)})") from None
    members = {info.filename.removesuffix(".npy"): info for info in archive.infolist() if not info.is_dir()}

    def loader(name: str, info: zipfile.ZipInfo) -> Callable[[], Array]:
        return lambda: _npz_member(archive, info, Where(where.operand, f"{where.source}:{shorten(name)}"))

    return {name: loader(name, info) for name, info in members.items()}


def _npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: Where) -> Array:
    if info.file_size > max(info.compress_size, 1) * _MAX_DEFLATE_RATIO:
        raise where.error("damaged .npz: a member claims to expand more than zip compression can")
    try:
        with archive.open(info) as member:
            head = member.read(min(info.file_size, 1 << 16))
            shape, _, dtype, need = _npy_header(io.BytesIO(head), where)
            if need > info.file_size:
                raise _truncated(shape, dtype, need, info.file_size, where)
            return _read_into(member, head, where)  # straight into the array: no second copy of the bytes
    except InputError:
        raise
    except Exception as exc:  # zipfile, zlib and EOF errors of a damaged archive
        raise where.error(f"damaged .npz member ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    """An exception's first line, without the Python objects a crafted header makes NumPy show (<ast.Call …>)."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"<(?:ast\.)?(\w+) object at 0x[0-9a-fA-F]+>", r"a \1 expression, not a literal", line)


# ---------------------------------------------------------------- JSON


def json_content(data: bytes, where: Where) -> Archive | Array:
    """A JSON number or nested list (one array), or an object of them (named arrays)."""
    import json

    text = decode(data, where)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc.msg})", operand=where.operand, source=where.source, line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise where.error("JSON nested too deeply") from None
    if isinstance(value, dict):
        return {name: _json_loader(item, Where(where.operand, f"{where.source}:{shorten(name)}"))
                for name, item in value.items()}
    return json_array(value, where)


def _json_loader(value: object, where: Where) -> Callable[[], Array]:
    return lambda: json_array(value, where)
