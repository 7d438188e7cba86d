"""Results out: writing numbers that round-trip, and writing files atomically.

Formats (`--format`, chosen in wxb.cli.formats): table (rendered by the caller with Rich, for terminals), csv,
tsv, json, npy, npz. Without `--format`, the suffix of `-o` decides (.csv → csv, .tsv/.txt/.dat → tsv, .json,
.npy, .npz); without `-o` (or with `-o -`), stdout gets a table on a terminal and csv in a pipe. A table is never
written to a file, and npy/npz are never written to a terminal.

One result (`f`, `db`, `dW`, `dX` or `J`): csv/tsv write its values: a 0-d result is one number, a 1-D result
one value per line (wxb's vectors are columns), a 2-D result its rows; N-d is refused (use json or npy).
json writes the bare nested list, npy the array, npz {name: array}. Several results: json writes an object
keyed by name and npz an archive keyed by name; csv, tsv and npy refuse (use npz or json).

Numbers as text round-trip exactly: reading them back gives the same number of the result's own type, bit for
bit. A number is written in its shortest round-trip form, laid out as Python's repr: `0.1`, `1e-05`, `1e+20`,
`nan`, `inf`, `-inf`, `-0.0`, and an integer value keeps its point: `6.0`. float32 results are written with
float32's own shortest digits (`5.6290164`, not the float64 `5.629016399383545`). Large csv/tsv results (over
LARGE_CELLS numbers) are written by polars, which writes the same shortest digits (float32's own for float32) but
lays out exponents its own way (`1.5e-7`, `0.00001`); those round-trip exactly too (tested). JSON is standard JSON
(RFC 8259): nan and ±inf are written as null (the warning on stderr says where they came from), on one line
unless --pretty; a large float vector or matrix in json is written by polars too, chunk by chunk of rows, in the
same digits as csv. Without polars (the optional extra fast-csv), the same text is written by NumPy and Python.

`-o` writes through: see wxb.cli.write.through.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, OutputError
from ..show.progress import working
from .through import Emit, _reason, resolve_output, write_through

LARGE_CELLS = 100_000  # numbers; above this, csv/tsv/json are written by polars (when installed) in chunks of rows
Array = NDArray[np.generic]


JSON_SPECIALS = {"nan": "null", "inf": "null", "-inf": "null"}  # RFC 8259 has no NaN or infinity


def format_number(x: float | np.floating[Any]) -> str:
    """The shortest text that reads back as the same number of x's own type, laid out as Python's repr: a float64
    (or Python float) is its repr ("6.0", "0.1", "1e-05", "nan"); a float32 or float16 has its own shortest
    digits ("5.6290164", not "5.629016399383545")."""
    if isinstance(x, np.floating) and x.dtype.itemsize < 8:
        return _short_float_text(x)
    return repr(float(x))


def _short_float_text(x: np.floating[Any]) -> str:
    """A float32 or float16 in its own shortest round-trip digits, positional from 1e-4 up to 1e16 as repr is."""
    if not np.isfinite(x):
        return repr(float(x))
    magnitude = abs(x)
    if x == 0 or (x.dtype.type(1e-4) <= magnitude and float(magnitude) < 1e16):
        return np.format_float_positional(x, unique=True, trim="0")
    return np.format_float_scientific(x, unique=True, trim="-", exp_digits=2)


def number_formatter(dtype: np.dtype[Any]) -> Callable[[Any], str]:
    """How each value of `array.tolist()` is written for an array of this dtype: integers as they are, floats by
    format_number in the array's own precision (a float32's Python float is cast back to float32, exactly)."""
    if dtype.kind in "iu":
        return str
    if dtype.kind == "f" and dtype.itemsize < 8:
        own = dtype.type
        return lambda x: _short_float_text(own(x))
    return format_number


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
    if _for_polars(array):
        native = table.astype(table.dtype.newbyteorder("="), copy=False)
        return partial(_polars_delimited, native, separator)
    if array.ndim >= 1 and array.size > LARGE_CELLS:
        return partial(_delimited_rows, table, separator)
    return lambda stream: stream.write(_delimited_text(array if array.ndim == 0 else table, separator).encode())


def _for_polars(array: Array) -> bool:
    """Whether polars (when installed: the optional extra fast-csv) writes this array: a large float32/64 one."""
    from ..read.largetext import polars_module

    big_float = array.size > LARGE_CELLS and array.dtype.kind == "f" and array.dtype.itemsize in (4, 8)
    return array.ndim >= 1 and big_float and polars_module() is not None


def _delimited_rows(table: Array, separator: str, stream: BinaryIO) -> None:
    """A large table without polars: the same text as _delimited_text, written chunk by chunk of rows."""
    step = max(JSON_CHUNK // max(table.shape[1], 1), 1)
    for start in range(0, table.shape[0], step):
        stream.write(_delimited_text(table[start:start + step], separator).encode())


def _delimited_text(array: Array, separator: str) -> str:
    cell = number_formatter(array.dtype)
    if array.ndim == 0:
        return cell(array.item()) + "\n"
    return "".join(separator.join(map(cell, row)) + "\n" for row in array.tolist())


def _polars_delimited(table: Array, separator: str, stream: BinaryIO) -> None:
    """Large float32 or float64 tables by polars, whose float text round-trips exactly in the column's own type;
    NaN respelled `nan` like format_number."""
    import polars as pl

    frame = pl.from_numpy(table)
    if not np.isnan(table).any():
        frame.write_csv(stream, include_header=False, separator=separator)
        return
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, separator=separator)
    stream.write(buffer.getvalue().replace(b"NaN", b"nan"))


def json_document(value: object) -> str:
    """Plain data as standard JSON (NaN and ±inf as null), one line or indented (--pretty), ending with a newline."""
    import json

    from ..env import current

    indent = 2 if current().pretty else None
    return json.dumps(_finite_or_null(value), ensure_ascii=False, indent=indent, allow_nan=False) + "\n"


def _finite_or_null(value: object) -> object:
    """value with every NaN and ±inf (which RFC 8259 cannot hold) replaced by None, at any depth."""
    if isinstance(value, float):
        return value if value - value == 0 else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item) for item in value]
    return value


def _json(results: Mapping[str, Array], record: bool = False) -> Emit:
    """json: the bare nested list of one result, or an object of them keyed by name (laid out as json.dumps);
    always the object for a record (`--wrt all`), whatever the number of results. Written as it is made."""
    import json

    from ..env import current

    pretty = current().pretty

    def emit(stream: BinaryIO) -> None:
        if pretty:
            data = {name: np.asarray(a).tolist() for name, a in results.items()}
            one = len(results) == 1 and not record
            stream.write(json_document(next(iter(data.values())) if one else data).encode())
            return
        if len(results) == 1 and not record:
            _write_json_array(np.asarray(next(iter(results.values()))), stream)
        else:
            for i, (name, a) in enumerate(results.items()):
                stream.write(("{" if i == 0 else ", ").encode() + f"{json.dumps(name)}: ".encode())
                _write_json_array(np.asarray(a), stream)
            stream.write(b"}" if results else b"{}")
        stream.write(b"\n")

    return emit


def _write_json_array(array: Array, stream: BinaryIO) -> None:
    """One array as JSON; a large float vector or matrix streamed in chunks of rows by polars, as csv is."""
    if array.ndim in (1, 2) and _for_polars(array):
        table = array.reshape(-1, 1) if array.ndim == 1 else array
        _polars_json(table.astype(table.dtype.newbyteorder("="), copy=False), array.ndim == 2, stream)
    else:
        stream.write(_json_array(array).encode())


JSON_CHUNK = 1 << 16  # numbers per chunk of rows written by _polars_json


def _polars_json(table: Array, rows: bool, stream: BinaryIO) -> None:
    """A large float table as JSON nested lists (rows) or one flat list (a column), chunk by chunk of rows: polars
    writes each chunk's numbers in the same shortest digits as csv, respelled as JSON (NaN and ±inf as null),
    so no Python object is made per number."""
    import polars as pl

    frame = pl.from_numpy(table)
    step = max(JSON_CHUNK // max(table.shape[1], 1), 1)
    stream.write(b"[")
    for start in range(0, table.shape[0], step):
        buffer = io.BytesIO()
        frame.slice(start, step).write_csv(buffer, include_header=False)
        text = buffer.getvalue().rstrip(b"\n").replace(b"-inf", b"null").replace(b"inf", b"null")
        text = text.replace(b"NaN", b"null").replace(b",", b", ")
        lines = text.split(b"\n")
        stream.write((b", " if start else b"") + (b"[" + b"], [".join(lines) + b"]" if rows else b", ".join(lines)))
    stream.write(b"]")


def _json_array(array: Array) -> str:
    """One array as JSON nested lists, each number in its shortest round-trip form of the array's own type."""
    if array.dtype.kind != "f" or (array.dtype.itemsize >= 8 and bool(np.isfinite(array).all())):
        import json

        return json.dumps(array.tolist())
    cell = number_formatter(array.dtype)
    return _nested_json(array.tolist(), lambda x: JSON_SPECIALS.get(text := cell(x), text))


def _nested_json(value: object, cell: Callable[[Any], str]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_nested_json(item, cell) for item in value) + "]"
    return cell(value)


def _npy(results: Mapping[str, Array]) -> Emit:
    _, array = _single(results, "npy")
    return lambda stream: np.save(stream if _seekable(stream) else WriteOnly(stream), array, allow_pickle=False)


class WriteOnly:
    """A stream seen only through its write method: NumPy then writes an array in chunks, where it would call
    tofile on a real file, which needs a file position that a FIFO or a pipe has not."""

    def __init__(self, stream: BinaryIO) -> None:
        self.write = stream.write


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
# ---------------------------------------------------------------- writing


def write_results(results: Mapping[str, Array], fmt: str, output: Path | None = None, *,
                  record: bool = False) -> None:
    """Write results as fmt to stdout, or through to `output`; everything is validated before writing."""
    if fmt not in WRITERS and fmt != "zarr":
        raise ValueError(f"write_results cannot write {fmt!r}; tables are rendered by the caller")
    if not results:
        raise ValueError("write_results needs at least one result")
    if fmt == "zarr":
        _write_zarr(results, output, record)
        return
    emit = _json(results, record) if fmt == "json" else WRITERS[fmt](results)
    size = sum(np.asarray(array).nbytes for array in results.values())
    with working(f"writing {fmt}", size):
        _write(emit, output)


def _write_zarr(results: Mapping[str, Array], output: Path | None, record: bool) -> None:
    """A zarr store is a folder: written at -o's path (the end of its links), never to a stream."""
    target = None if output is None or str(output) == "-" else resolve_output(output)
    if not isinstance(target, str):
        raise InputError("a zarr store is a folder, not a stream", operand="--format",
                         hint="give -o NAME.zarr, or use npy or npz for a stream")
    from ..stores import zarr as zarrio

    assert output is not None
    with working("writing zarr", sum(np.asarray(a).nbytes for a in results.values())):
        zarrio.write(results, Path(target), record, shown=str(output))


def write_text(text: str, output: Path | None = None) -> None:
    """Text already laid out (a json record, a csv report) to stdout, or through to `output`."""
    _write(partial(_write_encoded, text), output)


def _write_encoded(text: str, stream: BinaryIO) -> None:
    stream.write(text.encode("utf-8"))


def _write(emit: Emit, output: Path | None) -> None:
    if output is None or str(output) == "-":
        _to_stdout(emit)
    else:
        write_through(output, emit)


def _to_stdout(emit: Emit) -> None:
    """Emit to stdout; a closed stdout or one that fails (a full disk) is an OutputError naming stdout."""
    from ..env import current

    stdout = current().stdout
    if stdout is None or getattr(stdout, "closed", False):
        raise OutputError("cannot write to stdout: it is closed")
    try:
        stdout.flush()
        emit(stdout.buffer)
        stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write to stdout: {_reason(exc)}") from None


