"""Results out: choosing a format, writing numbers that round-trip, and writing files atomically.

Formats (`--format`): table (rendered by the caller with Rich, for terminals), csv, tsv, json, npy, npz.
Without `--format`, the suffix of `-o` decides (.csv → csv, .tsv/.txt/.dat → tsv, .json, .npy, .npz); without
`-o` (or with `-o -`), stdout gets a table on a terminal and csv in a pipe. A table is never written to a file,
and npy/npz are never written to a terminal.

One result (`f`, `db`, `dW`, `dX` or `J`): csv/tsv write its values: a 0-d result is one number, a 1-D result
one value per line (wxb's vectors are columns), a 2-D result its rows; N-d is refused (use json or npy).
json writes the bare nested list, npy the array, npz {name: array}. Several results: json writes an object
keyed by name and npz an archive keyed by name; csv, tsv and npy refuse (use npz or json).

Numbers as text round-trip exactly: reading them back gives the same float64, bit for bit. A number is
written in its shortest round-trip form, Python's repr: `0.1`, `1e-300`, `nan`, `inf`, `-inf`, `-0.0`, and an
integer value keeps its point: `6.0`. Large csv/tsv results (over LARGE_CELLS numbers) are written by polars,
which writes the same shortest digits but may lay out exponents differently (`6.5e-6`, `0.00002`); those
round-trip exactly too (tested). JSON writes nan and ±inf as NaN and ±Infinity, as Python's json reads them.

Files are written atomically: to a temporary file in the same folder, flushed, then renamed over
the target. On any failure the temporary file is removed and an existing file is left untouched.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from wxb.cli.errors import InputError
from wxb.cli.progress import working

LARGE_CELLS = 100_000  # numbers; above this, csv/tsv are written by polars
Array = NDArray[np.generic]
Emit = Callable[[BinaryIO], object]  # writes the prepared output to a binary stream


def format_number(x: float) -> str:
    """The shortest text that reads back as the same float64: Python's repr ("6.0", "0.1", "nan", "-inf")."""
    return repr(float(x))


# ---------------------------------------------------------------- writers: validate first, then emit


def _single(results: Mapping[str, Array], fmt: str) -> tuple[str, Array]:
    if len(results) != 1:
        hint = "use --format npz or json, which hold several named arrays"
        raise InputError(f"{len(results)} results ({', '.join(results)}) cannot be written as {fmt}", hint=hint)
    ((name, array),) = results.items()
    return name, np.asarray(array)


def _delimited(results: Mapping[str, Array], separator: str) -> Emit:
    """csv/tsv: one number, a column (1-D), or rows (2-D)."""
    fmt = "csv" if separator == "," else "tsv"
    name, array = _single(results, fmt)
    if array.ndim > 2:
        hint = "use --format json or npy, which keep every dimension"
        raise InputError(f"{name} has {array.ndim} dimensions {array.shape}; {fmt} holds at most 2", hint=hint)
    table = array.reshape(-1, 1) if array.ndim == 1 else array
    if array.ndim >= 1 and array.size > LARGE_CELLS and array.dtype.kind == "f":
        return partial(_polars_delimited, np.asarray(table, dtype=np.float64), separator)
    return lambda stream: stream.write(_delimited_text(array if array.ndim == 0 else table, separator).encode())


def _delimited_text(array: Array, separator: str) -> str:
    cell = str if array.dtype.kind in "iu" else format_number
    if array.ndim == 0:
        return cell(array.item()) + "\n"
    return "".join(separator.join(map(cell, row)) + "\n" for row in array.tolist())


def _polars_delimited(table: NDArray[np.float64], separator: str, stream: BinaryIO) -> None:
    """Large tables by polars, whose float text round-trips exactly; NaN respelled `nan` like format_number."""
    import polars as pl

    frame = pl.from_numpy(table)
    if not np.isnan(table).any():
        frame.write_csv(stream, include_header=False, separator=separator)
        return
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, separator=separator)
    stream.write(buffer.getvalue().replace(b"NaN", b"nan"))


def _json(results: Mapping[str, Array]) -> Emit:
    """json: the bare nested list of one result, or an object of them keyed by name."""
    if len(results) == 1:
        value: object = np.asarray(next(iter(results.values()))).tolist()
    else:
        value = {name: np.asarray(array).tolist() for name, array in results.items()}
    import json

    return lambda stream: stream.write((json.dumps(value) + "\n").encode())


def _npy(results: Mapping[str, Array]) -> Emit:
    _, array = _single(results, "npy")
    return lambda stream: np.save(stream, array, allow_pickle=False)


def _npz(results: Mapping[str, Array]) -> Emit:
    def emit(stream: BinaryIO) -> None:
        arrays: dict[str, Any] = {name: np.asarray(array) for name, array in results.items()}
        if _seekable(stream):
            np.savez(stream, **arrays)
            return
        buffer = io.BytesIO()  # zip needs to seek; a pipe cannot
        np.savez(buffer, **arrays)
        stream.write(buffer.getbuffer())

    return emit


def _seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError, ValueError):
        return False


WRITERS: dict[str, Callable[[Mapping[str, Array]], Emit]] = {
    "csv": partial(_delimited, separator=","),
    "tsv": partial(_delimited, separator="\t"),
    "json": _json,
    "npy": _npy,
    "npz": _npz,
}
FORMATS = ("table", *WRITERS)
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "tsv",
    ".dat": "tsv",
    ".json": "json",
    ".npy": "npy",
    ".npz": "npz",
}
BINARY = ("npy", "npz")


# ---------------------------------------------------------------- choosing


def choose_format(requested: str | None, output: Path | None, *, stdout_is_terminal: bool) -> str:
    """--format wins; else -o's suffix; else table on a terminal, csv in a pipe."""
    to_file = output is not None and str(output) != "-"
    if requested is not None:
        fmt = requested.lower()
        if fmt not in FORMATS:
            raise InputError(
                f"unknown format {requested!r}", operand="--format", hint=f"use one of {', '.join(FORMATS)}"
            )
    elif to_file:
        assert output is not None
        fmt = SUFFIX_FORMATS.get(output.suffix.lower(), "")
        if not fmt:
            suffixes = " ".join(SUFFIX_FORMATS)
            hint = f"name it with one of {suffixes}, or give --format"
            raise InputError(f"cannot tell the format from the file name {output.name!r}", operand="-o", hint=hint)
    else:
        fmt = "table" if stdout_is_terminal else "csv"
    if fmt == "table" and to_file:
        raise InputError("a table is for the terminal, not a file", operand="--format", hint="use csv or json")
    if fmt in BINARY and not to_file and stdout_is_terminal:
        hint = f"write it to a file with -o result.{fmt}, or pipe it"
        raise InputError(f"{fmt} is binary and stdout is a terminal", operand="--format", hint=hint)
    return fmt


# ---------------------------------------------------------------- writing


def write_results(results: Mapping[str, Array], fmt: str, output: Path | None = None) -> None:
    """Write results as fmt to stdout, or atomically to `output`; everything is validated before writing."""
    if fmt not in WRITERS:
        raise ValueError(f"write_results cannot write {fmt!r}; tables are rendered by the caller")
    if not results:
        raise ValueError("write_results needs at least one result")
    emit = WRITERS[fmt](results)
    size = sum(np.asarray(array).nbytes for array in results.values())
    with working(f"writing {fmt}", size):
        if output is None or str(output) == "-":
            _to_stdout(emit)
        else:
            write_atomically(output, emit)


def _to_stdout(emit: Emit) -> None:
    sys.stdout.flush()
    stream = sys.stdout.buffer
    emit(stream)
    stream.flush()


def write_atomically(path: Path, emit: Emit) -> None:
    """Emit into a temp file beside `path`, flush it, rename it over `path`; on failure remove the temp.

    No fsync: the rename makes the replacement atomic for readers, and durability across a power cut is the
    file system's business, as it is for the plain scripts wxb is measured against."""
    if path.is_dir():
        raise InputError("is a folder, not a file", operand="-o", source=str(path))
    import tempfile

    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write there: {exc.strerror or exc}", operand="-o", source=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as stream:
            emit(stream)
            stream.flush()
        os.chmod(temp, _mode_for(path))
        os.replace(temp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise InputError(f"cannot write it: {exc.strerror or exc}", operand="-o", source=str(path)) from None
        raise


def _mode_for(path: Path) -> int:
    """An existing file keeps its permissions; a new one gets the usual 0o666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text(text: str, output: Path | None = None) -> None:
    """Text already laid out (a json record, a csv report) to stdout, or atomically to `output`."""
    emit: Emit = partial(_write_encoded, text)
    if output is None or str(output) == "-":
        _to_stdout(emit)
    else:
        write_atomically(output, emit)


def _write_encoded(text: str, stream: BinaryIO) -> None:
    stream.write(text.encode("utf-8"))
