"""Large text read in pieces into .npy: the rows of each piece parsed and appended, the header written last.

The text is read in pieces of PIECE bytes cut at a line end; each piece is parsed (polars, else the careful
parser of wxb.cli.textparse, with the same rules and located errors) and its rows are appended to the .npy file,
whose header is written last, when the number of rows is known (a pipe cannot be read twice). So memory holds one
piece and its numbers, whatever the size of the text. wxb convert writes files this way, and a text operand
arriving on a pipe or stdin is read this way (read_text_stream), never held twice.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

import numpy as np

from ..errors import InputError, Where
from ..stores.blocks import npy_header
from .largetext import _polars_read
from .textparse import (
    _BOM,
    UTF16_BOMS,
    Layout,
    _loadtxt,
    _parse_rows,
    data_lines,
    decode,
    layout,
    sniff_delimiter,
    split_cells,
)

Array = np.ndarray[Any, np.dtype[Any]]
PIECE = 8 << 20  # bytes of text parsed at a time
HEADER_BYTES = 128  # room kept for the .npy header, rewritten at the end with the real shape


# ---- Text in pieces ----

def pieces(stream: IO[bytes], head: bytes = b"", size: int = PIECE) -> Iterator[bytes]:
    """The stream's bytes (after `head`, already read) in pieces of about `size`, each ending at a line end."""
    carry = head
    while True:
        more = stream.read(size)
        if not more:
            break
        data = carry + more
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        yield data[:cut + 1]
        carry = data[cut + 1:]
    if carry:
        yield carry


class TextRows:
    """The rows of delimited text given piece by piece, parsed as parse_text would: float64, one row per line."""

    def __init__(self, where: Where, delimiter: str | None, header: bool | None) -> None:
        self.where, self.delimiter, self.header = where, delimiter, header
        self.shape: Layout | None = None
        self.width = 0
        self.line = 0  # lines before the current piece

    def parse(self, piece: bytes) -> Array:
        """The numbers of one piece of whole lines (the first piece decides delimiter, header and labels)."""
        if self.line == 0:
            if piece[:2] in UTF16_BOMS:
                raise self.where.error("UTF-16 text cannot be converted in pieces", hint="save the file as UTF-8")
            piece = piece.removeprefix(_BOM)
        text = decode(piece, self.where)
        lines = [(number + self.line, line) for number, line in data_lines(text)]
        first_piece = self.shape is None
        skip = 0
        if first_piece and lines:
            self.delimiter = self.delimiter or sniff_delimiter([line for _, line in lines[:5]])
            self.shape = layout(lines[:6], self.delimiter, self.header)
            self.shape.say(self.where, lines[0])
            skip = lines[0][0] if self.shape.header else lines[0][0] - 1
            if self.shape.header:
                lines = lines[1:]
            if lines:
                self.width = len(split_cells(lines[0][1], self.delimiter))
        self.line += text.count("\n")
        if not lines:
            return np.zeros((0, max(self.width - int(self.shape.labels if self.shape else 0), 0)))
        assert self.shape is not None and self.delimiter is not None
        labels = self.shape.labels
        fast = _polars_read(piece, self.delimiter, self.width, skip if first_piece else 0, labels)
        if fast is not None and fast.shape[0] == len(lines):
            return fast
        fast = _loadtxt(lines, self.delimiter, int(labels))  # without polars, NumPy's C reader
        if fast is not None and fast.shape[1] == self.width - int(labels):
            return fast
        rows = _parse_rows(lines, self.where, self.delimiter, int(labels))
        if rows and len(rows[0]) != self.width - int(labels):
            what = f"row has {len(rows[0]) + int(labels)} cells but the first row has {self.width}"
            raise self.where.error(what, lines[0][0], hint="every row needs the same number of cells")
        return np.array(rows, dtype=np.float64, ndmin=2)


# ---- .npy written row by row ----

class NpyRows:
    """An .npy file written as rows come: a header with room to spare first, then the rows; the real header
    (shape, order) is written over it at the end."""

    def __init__(self, stream: BinaryIO, transpose: bool) -> None:
        if not stream.seekable():
            raise InputError("convert writes .npy to a file it can go back to (the header comes last)",
                             operand="-o", hint="give -o a file path, not a pipe")
        self.stream, self.transpose = stream, transpose
        self.rows, self.width = 0, -1
        stream.write(npy_header((0, 0), np.dtype(np.float64), False, HEADER_BYTES))

    def append(self, rows: Array, where: Where) -> None:
        if rows.shape[0] == 0:
            return
        if self.width >= 0 and rows.shape[1] != self.width:
            raise where.error(f"a row has {rows.shape[1]} numbers but the first row has {self.width}",
                              hint="every row needs the same number of cells")
        self.width = rows.shape[1]
        self.stream.write(np.ascontiguousarray(rows, dtype=np.float64).data)
        self.rows += rows.shape[0]

    def close(self, where: Where) -> tuple[int, ...]:
        if self.rows == 0:
            raise where.error("no numbers (the text is empty)")
        shape = (self.width, self.rows) if self.transpose else (self.rows, self.width)
        self.stream.flush()
        os.pwrite(self.stream.fileno(), npy_header(shape, np.dtype(np.float64), self.transpose, HEADER_BYTES), 0)
        return shape


def text_to_npy(source: IO[bytes], head: bytes, stream: BinaryIO, where: Where, *, delimiter: str | None,
                header: bool | None, transpose: bool = False) -> tuple[int, ...]:
    """Parse the text of `source` (after `head`, already read) into an .npy written to `stream`; its shape."""
    rows = TextRows(where, delimiter, header)
    out = NpyRows(stream, transpose)
    for piece in pieces(source, head):
        out.append(rows.parse(piece), where)
    return out.close(where)


def read_text_stream(source: IO[bytes], head: bytes, where: Where, *, delimiter: str | None,
                     header: bool | None) -> Array:
    """The array in text read from a stream (stdin, a pipe), holding at most the array and one piece: the rows go
    to a temporary .npy first, then into one array."""
    with tempfile.TemporaryFile(prefix="wxb-text-") as spool:
        shape = text_to_npy(source, head, spool, where, delimiter=delimiter, header=header)
        array = np.empty(shape, dtype=np.float64)
        spool.seek(HEADER_BYTES)
        view = array.data.cast("B")
        done = 0
        while done < len(view):
            n = spool.readinto(view[done:])
            if not n:
                raise where.error("the temporary copy of the text ended early")
            done += n
    return array
