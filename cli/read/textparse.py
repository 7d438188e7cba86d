"""Numbers from text: delimited files (CSV, TSV, whitespace) and inline matrix literals.

Text files
    UTF-8 (a BOM is stripped), or UTF-16 with a byte-order mark (Excel's "Unicode Text", PowerShell's `>`). Line
    ends are LF, CR LF or a lone CR (classic Mac OS). Blank lines and lines starting with `#` are skipped.
    Cells are separated by the delimiter: forced by the caller, tab for `.tsv`, whitespace for `.txt`/`.dat`,
    and otherwise sniffed from the first data rows: tab if any, else `;`, else `,`, else whitespace. A cell is
    a decimal number in ASCII (`1`, `-2.5`, `.5`, `1e-3`), `nan`, `inf`, `-inf` or `infinity` (any case),
    optionally in double quotes. Nothing else: no decimal commas, no `1_000`, no complex numbers. A file always
    gives a 2-D float64 array whose orientation is the file's: one line is a 1×n row, one column an m×1
    column, one number 1×1. The rules are ours (header, labels, delimiter, what a cell may be); the reading is
    NumPy's C reader below LARGE_TEXT bytes (4× the hand parser) and polars above (same rules, same result).
    When either refuses anything, the careful parser here reads the text, so every error is located the same way.

Header row and row labels (`header`: True = `--header`, False = `--no-header`, None = sniffed)
    The first data row is a header, skipped, when `--header` says so; with `--no-header` it is data. Sniffed, it
    is a header when none of its cells is a number and some cell has a letter, or when it is exactly
    `0,1,…,n−1` (n ≥ 2) above rows that are not and that hold a non-integer (the column numbers pandas writes over
    a float frame; over integers only, such a row is read as data, with a note). A header whose first cell is
    empty and whose others are names or integers (pandas' `df.to_csv()`, R's `write.csv`) sits over row labels:
    the first column is dropped from every row. Whatever was assumed is said in one note on stderr.

Matrix literals
    `"1 2; 3 4"` and `"[1, 2; 3, 4]"`: spaces and/or commas between columns, `;` or newlines between rows;
    always 2-D (`"5; 6"` is 2×1, `"5 6"` is 1×2), except a lone number without `;`, `"7"`, which is 0-d.
    JSON nested lists, `"[[1, 2], [3, 4]]"`, give exactly the rank written (`"[1, 2]"` is a 1-D vector).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..env import note
from ..errors import InputError, Where

LARGE_TEXT = 1 << 20  # bytes; above this, text is parsed by polars
WHITESPACE = " "  # the delimiter value meaning "any run of spaces and tabs"
SUFFIX_DELIMITERS = {".tsv": "\t"}  # .txt and .dat are sniffed like .csv (np.savetxt writes any delimiter)
SNIFFED = ("\t", ";", ",")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian byte-order marks
_NUMBER = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_INTEGER = re.compile(r"[+-]?\d+")  # a signed integer cell (a header of column numbers, a label)
_MISSING = {"na", "n/a", "#n/a", "<na>", "null", "none", "nil", "missing", "nat", "?", "-", "--"}
_OTHER_DELIMITERS = ("|", ";", ",", "\t", ":")
_BOM = b"\xef\xbb\xbf"

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------- cells


def is_header(cells: list[str]) -> bool:
    """A first row is a header when none of its cells is a number, nor looks like one with a decimal comma,
    and some cell has a letter."""
    texts = [_unquote(cell) for cell in cells]
    numberish = any(_NUMBER.fullmatch(text) or _DECIMAL_COMMA.fullmatch(text) for text in texts)
    return not numberish and any(char.isalpha() for text in texts for char in text)


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        cell = cell[1:-1].strip()
    return cell


def _cell_error(
    cell: str, where: Where, line: int | None, column: int, delimiter: str | None, *, trailing: bool = False
) -> InputError:
    """The located error for a cell that is not a number, with a hint when we can guess the cause.

    `delimiter` is None for a literal; `trailing` says the cell is the empty last one of lines that end with the
    delimiter."""
    text = _unquote(cell)
    if not text:
        return where.error("empty cell", line, column, hint=_empty_cell_hint(delimiter, trailing))
    if _DECIMAL_COMMA.fullmatch(text) and delimiter != ",":
        hint = f"decimal commas are not read; write {shorten(text.replace(',', '.'))!r} with a point"
        return where.error(f"non-numeric cell {shorten(text)!r}", line, column, hint=hint)
    if _is_complex(text):
        hint = "wxb computes with real numbers only"
        return where.error(f"complex number {shorten(text)!r}", line, column, hint=hint)
    return where.error(f"non-numeric cell {shorten(text)!r}", line, column, hint=_cell_hint(text, delimiter))


def _empty_cell_hint(delimiter: str | None, trailing: bool) -> str:
    if trailing and delimiter is not None:
        return f"the lines end with a delimiter {delimiter!r}; remove it, or write nan for a missing last value"
    return "a missing value? wxb reads nan: write missing values as nan"


def _cell_hint(text: str, delimiter: str | None) -> str | None:
    """A guess at why a cell is not a number: a missing-value marker, or another delimiter inside it."""
    if text.lower() in _MISSING:
        return "a missing value? wxb reads nan: write missing values as nan"
    if delimiter is None:
        return None
    for other in _OTHER_DELIMITERS:
        parts = text.split(other)
        if other != delimiter and len(parts) > 1 and all(_NUMBER.fullmatch(part.strip()) for part in parts):
            named = "tab" if other == "\t" else repr(other)
            return f"the cells look separated by {named}: give --delimiter {named}"
    return None


def _is_complex(text: str) -> bool:
    try:
        complex(text.replace(" ", ""))
    except ValueError:
        return False
    return "j" in text.lower()


def _count(n: int, noun: str) -> str:
    """'1 cell', '3 cells'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def shorten(text: str, limit: int = 40) -> str:
    """text as shown in a message: at most `limit` characters, cut with '…'."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- text files


def decode(data: bytes, where: Where) -> str:
    """The text in data, UTF-8 (a BOM is dropped) or UTF-16 with a BOM, every line end (CR LF, CR) made LF;
    binary data and invalid text raise a located InputError."""
    text = _utf16(data, where) if data[:2] in UTF16_BOMS else _utf8(data.removeprefix(_BOM), where)
    nul = text.find("\x00")
    if nul >= 0:  # UTF-8 was checked for NULs before decoding; UTF-16 can only be checked after
        _binary(text[:nul], where)
    return unix_line_ends(text)


def _utf8(data: bytes, where: Where) -> str:
    nul = data.find(b"\x00")
    if nul >= 0:
        _binary(data[:nul].decode("utf-8", errors="replace"), where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data[: exc.start].decode("utf-8", errors="replace"))
        bad = data[exc.start : exc.start + 1].hex()
        raise where.error(f"not UTF-8 text (byte 0x{bad})", line, column, hint="save the file as UTF-8") from None


def _utf16(data: bytes, where: Where) -> str:
    try:
        return data.decode("utf-16")  # the BOM gives the byte order and is dropped
    except UnicodeDecodeError as exc:
        line, column = _position(data[: exc.start].decode("utf-16", errors="replace"))
        what = f"not UTF-16 text ({exc.reason}), though it starts with a UTF-16 byte-order mark"
        raise where.error(what, line, column, hint="save the file as UTF-8") from None


def _binary(before: str, where: Where) -> None:
    line, column = _position(before)
    hint = "is it a .npy or .npz file? give it that suffix"
    raise where.error("binary data, not text (a NUL byte)", line, column, hint=hint)


def _position(before: str) -> tuple[int, int]:
    """Line and column (from 1, in characters) of the character that follows the text `before`."""
    before = unix_line_ends(before)
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def unix_line_ends(text: str) -> str:
    """text with CR LF and lone CR line ends made LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def data_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, line without surrounding spaces) for every line that is neither blank nor a `#`
    comment; tabs are kept, since a leading tab is an empty first cell (a row-label column's header)."""
    for number, raw in enumerate(text.split("\n"), start=1):
        bare = raw.strip()
        if bare and not bare.startswith("#"):
            yield number, raw.strip(" \r\f\v")


def sniff_delimiter(lines: list[str]) -> str:
    """Tab if every one of these lines has one, else `;`, else `,`, else whitespace (where a stray tab among
    spaces is just more whitespace)."""
    return next((d for d in SNIFFED if lines and all(d in line for line in lines)), WHITESPACE)


def split_cells(line: str, delimiter: str) -> list[str]:
    """The cells of one line; double quotes may protect a delimiter inside a cell."""
    if delimiter == WHITESPACE:
        return line.split()
    if '"' in line:
        import csv

        return next(csv.reader([line], delimiter=delimiter))
    return line.split(delimiter)


# ---------------------------------------------------------------- the first row and the first column


@dataclass(frozen=True)
class Layout:
    """How a text file's first data row and first column are read, and what was assumed to read them so."""

    header: bool = False  # the first data row is a header: skipped
    labels: bool = False  # the first column holds row labels: dropped from every row
    assumed: str = ""  # "words", "numbers" or "labels": what the note on stderr explains; "" when told

    def say(self, where: Where, first: tuple[int, str]) -> None:
        """The note on stderr about what was assumed, if anything was."""
        number, line = first
        place = f"{where.operand} {where.source} line {number}"
        if self.assumed == "words":
            note(f"skipped header row in {place}")
        elif self.assumed == "labels":
            note(f"skipped header row in {place} and column 1 (row labels: the header's first cell is empty)")
        elif self.assumed == "numbers as data":
            note(f"read line {number} of {where.operand} {where.source}, {shorten(line)!r}, as data, though pandas "
                 "writes column numbers so; give --header if it is a header")
        elif self.assumed == "numbers":
            note(f"read line {number} of {where.operand} {where.source}, {shorten(line)!r}, as a header and skipped "
                 "it (pandas writes column numbers so); give --no-header if it is data")


def layout(lines: list[tuple[int, str]], delimiter: str, header: bool | None) -> Layout:
    """The first row is a header when `header` says so; sniffed (None), when is_header finds words in it or when
    it holds exactly the column numbers 0, 1, …, n−1 above rows that do not. A header whose first cell is empty
    sits over row labels (pandas' index, R's row names)."""
    if header is False:
        return Layout()
    first = [_unquote(cell) for cell in split_cells(lines[0][1], delimiter)]
    below = [[_unquote(cell) for cell in split_cells(line, delimiter)] for _, line in lines[1:6]]
    if _over_row_labels(first, below):
        return Layout(header=True, labels=True, assumed="labels")
    if header:
        return Layout(header=True)
    if is_header(first):
        return Layout(header=True, assumed="words")
    if _column_numbers(first, below):
        if any(not _INTEGER.fullmatch(cell) for row in below for cell in row):
            return Layout(header=True, assumed="numbers")
        return Layout(assumed="numbers as data")  # integers throughout: a matrix, like a permutation
    return Layout()


def _over_row_labels(first: list[str], below: list[list[str]]) -> bool:
    """A first row with an empty first cell and names or integers in the others, above a row that starts with
    a label."""
    names = first[1:]
    headed = all(names) and (is_header(names) or all(_INTEGER.fullmatch(name) for name in names))
    return len(first) > 1 and first[0] == "" and headed and bool(below) and below[0][0] != ""



def _column_numbers(first: list[str], below: list[list[str]]) -> bool:
    """The first row is exactly 0, 1, …, n−1 (n ≥ 2, written as integers) and no row below it is."""
    numbers = [str(i) for i in range(len(first))]
    return len(first) >= 2 and first == numbers and bool(below) and numbers not in below


# ---------------------------------------------------------------- parsing text


def parse_text(data: bytes, where: Where, *, delimiter: str | None = None, header: bool | None = None) -> FloatArray:
    """The 2-D float64 array in delimited text (rules in the module docstring), or a located InputError."""
    text = decode(data, where)
    lines = list(data_lines(text))
    if not lines:
        raise where.error("no numbers (the file is empty)" if not text.strip() else "no numbers (only comments)")
    delimiter = delimiter or sniff_delimiter([line for _, line in lines[:5]])
    shape = layout(lines, delimiter, header)
    if shape.assumed and not shape.header:
        shape.say(where, lines[0])
    if shape.header:
        shape.say(where, lines[0])
        first_number, lines = lines[0][0], lines[1:]
        if not lines:
            raise where.error("no numbers (only a header row)", first_number)
    fast = _loadtxt(lines, delimiter, int(shape.labels))
    if fast is not None:
        return fast
    return np.array(_parse_rows(lines, where, delimiter, int(shape.labels)), dtype=np.float64, ndmin=2)


def _loadtxt(lines: list[tuple[int, str]], delimiter: str, labels: int) -> FloatArray | None:
    """The numbers by NumPy's C reader, 4× faster than _parse_rows (measured from 8 KB to 1.7 MB), or None when it
    refuses any cell or row: then _parse_rows reads them, and locates and explains the error. Every cell NumPy
    accepts is a number by this module's rules too (it refuses quotes, `1_000`, hex, `1.5d3`); no comments are
    stripped here, since data_lines has already dropped the comment lines."""
    if any('"' in line for _, line in lines):
        return None  # quoted cells are unquoted by _parse_rows alone
    width = len(split_cells(lines[0][1], delimiter))
    try:
        array: FloatArray = np.loadtxt([line for _, line in lines], dtype=np.float64, comments=None, ndmin=2,
                                       delimiter=None if delimiter == WHITESPACE else delimiter,
                                       usecols=range(labels, width) if labels else None)
    except ValueError:
        return None
    return array if array.shape[1] == width - labels else None


def _parse_rows(lines: list[tuple[int, str]], where: Where, delimiter: str, labels: int) -> list[list[float]]:
    """The numbers of every line, less the first `labels` cells of each."""
    rows: list[list[float]] = []
    width = -1
    trailing = delimiter != WHITESPACE and lines[0][1].endswith(delimiter)
    for number, line in lines:
        cells = split_cells(line, delimiter)
        if width < 0:
            width, first_line = len(cells), number
        if len(cells) != width:
            what = f"row has {_count(len(cells), 'cell')} but line {first_line} has {width}"
            raise where.error(what, number, min(len(cells), width) + 1, hint="every row needs the same number of cells")
        rows.append(_parse_cells(cells[labels:], where, number, delimiter, first_column=1 + labels, trailing=trailing))
    return rows


def _parse_cells(
    cells: list[str],
    where: Where,
    line: int | None,
    delimiter: str | None,
    *,
    first_column: int = 1,
    trailing: bool = False,
) -> list[float]:
    """The numbers in these cells (column numbers from first_column); `trailing`: the lines end with a delimiter."""
    values = []
    for column, cell in enumerate(cells, start=first_column):
        text = _unquote(cell)
        if _NUMBER.fullmatch(text) is None:
            last = trailing and cell == "" and column == first_column + len(cells) - 1
            raise _cell_error(cell, where, line, column, delimiter, trailing=last)
        values.append(float(text))
    return values
