"""Large text, parsed by polars in pieces (a progress bar between them), under the same rules as textparse's:
the same header, labels, delimiter and cells, the same result; whatever polars refuses, the careful parser reads,
so every error is located the same way."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import Where
from .textparse import (
    UTF16_BOMS,
    WHITESPACE,
    FloatArray,
    data_lines,
    decode,
    layout,
    parse_text,
    sniff_delimiter,
    split_cells,
)

CHUNK = 8 << 20  # bytes parsed between two steps of a progress bar
_LONE_CR = re.compile(rb"\r[^\n]")
Advance = Callable[[int], object]  # told how many more bytes are done


def parse_large_text(
    data: bytes | str,
    where: Where,
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    advance: Advance | None = None,
) -> FloatArray:
    """parse_text's result for big inputs (data or a path), by polars; on any doubt, parse_text decides.

    With `advance`, the text is parsed in CHUNK-sized pieces and advance(bytes) is called after each (a progress
    bar); the result is the same."""
    data = _polars_ready(data, where)
    lines = list(data_lines(decode(_head(data), where)))[:6]
    if not lines:
        return parse_text(_all(data), where, delimiter=delimiter, header=header)
    delimiter = delimiter or sniff_delimiter([line for _, line in lines[:5]])
    shape = layout(lines, delimiter, header)
    widest = lines[1] if shape.header and len(lines) > 1 else lines[0]
    skip = lines[0][0] if shape.header else lines[0][0] - 1
    array = _polars_read(data, delimiter, len(split_cells(widest[1], delimiter)), skip, shape.labels, advance)
    if array is None:
        return parse_text(_all(data), where, delimiter=delimiter, header=header)
    shape.say(where, lines[0])
    return array


def _polars_ready(data: bytes | str, where: Where) -> bytes | str:
    """data itself when polars can read it (UTF-8, LF or CR LF line ends), else its text re-encoded so."""
    start = _start(data)
    if start[:2] in UTF16_BOMS or _LONE_CR.search(start):
        return decode(_all(data), where).encode("utf-8")
    return data


def _start(data: bytes | str, size: int = 1 << 16) -> bytes:
    """The first `size` bytes of data (bytes, or a path)."""
    if isinstance(data, bytes):
        return data[:size]
    with open(data, "rb") as file:
        return file.read(size)


def _head(data: bytes | str, size: int = 1 << 16) -> bytes:
    """The whole lines among the first `size` bytes of data."""
    head = _start(data, size)
    cut = head.rfind(b"\n")
    if cut < 0 and len(head) == size:
        return _all(data)  # one enormous line: look at all of it rather than at half a cell
    return head[: cut + 1]


def _all(data: bytes | str) -> bytes:
    if isinstance(data, bytes):
        return data
    with open(data, "rb") as file:
        return file.read()


def polars_module() -> Any:
    """polars, if installed (the optional extra fast-csv), else None: then NumPy reads and writes what it would."""
    try:
        import polars
    except ImportError:
        return None
    return polars


def _polars_read(
    data: bytes | str, delimiter: str, width: int, skip: int, labels: bool, advance: Advance | None = None
) -> FloatArray | None:
    """The float64 matrix polars reads (less the first column if it holds `labels`), or None if it cannot read it
    exactly as parse_text would (or if polars, the optional extra fast-csv, is not installed)."""
    pl = polars_module()
    if pl is None:
        return None
    if delimiter == WHITESPACE:
        delimiter = "\t" if _uses_tabs(data) else " "
    schema = {f"c{i}": pl.String if labels and i == 0 else pl.Float64 for i in range(width)}

    def read(source: io.BytesIO | str, skip_lines: int) -> FloatArray | None:
        try:
            frame = pl.read_csv(source, has_header=False, separator=delimiter, schema=schema,
                                skip_lines=skip_lines, comment_prefix="#", glob=False)
        except Exception:  # polars raises many kinds; the careful parser will name the problem
            return None
        if labels:
            frame = frame.drop("c0")
        if any(count for count in frame.null_count().row(0)):
            return None
        return np.asarray(frame.to_numpy(), dtype=np.float64)

    if advance is None:
        whole = read(io.BytesIO(data) if isinstance(data, bytes) else data, skip)
        return whole if whole is not None and len(whole) else None
    parts = []
    content = _all(data)
    for start, end in _chunks(content, CHUNK):
        part = read(io.BytesIO(content[start:end]), skip if start == 0 else 0)
        if part is None:
            return None
        parts.append(part)
        advance(end - start)
    result = np.concatenate(parts) if parts else np.zeros((0, width))
    return result if len(result) else None


def _chunks(data: bytes, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive pieces of about `size` bytes, each ending just after a newline (or at the end)."""
    start = 0
    while start < len(data):
        cut = data.find(b"\n", min(start + size, len(data)) - 1)
        end = len(data) if cut < 0 else cut + 1
        yield start, end
        start = end


def _uses_tabs(data: bytes | str) -> bool:
    return b"\t" in _head(data)
