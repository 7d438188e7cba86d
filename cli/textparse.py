"""Numbers from text: delimited files (CSV, TSV, whitespace) and inline matrix literals.

Text files
    UTF-8 (a BOM is stripped). Blank lines and lines starting with `#` are skipped. The first data row is a
    header, skipped with a note on stderr, when none of its cells is a number and some cell has a letter.
    Cells are separated by the delimiter: forced by the caller, tab for `.tsv`, whitespace for `.txt`/`.dat`,
    and otherwise sniffed from the first data rows: tab if any, else `;`, else `,`, else whitespace. A cell is
    a decimal number in ASCII (`1`, `-2.5`, `.5`, `1e-3`), `nan`, `inf`, `-inf` or `infinity` (any case),
    optionally in double quotes. Nothing else: no decimal commas, no `1_000`, no complex numbers. A file always
    gives a 2-D float64 array whose orientation is the file's: one line is a 1×n row, one column an m×1
    column, one number 1×1. Text over LARGE_TEXT bytes is parsed by polars (same rules, same result); if
    polars refuses it, the careful parser here runs instead, so every error is located the same way.

Matrix literals
    `"1 2; 3 4"` and `"[1, 2; 3, 4]"`: spaces and/or commas between columns, `;` or newlines between rows;
    always 2-D (`"5; 6"` is 2×1, `"5 6"` is 1×2), except a lone number without `;`, `"7"`, which is 0-d.
    JSON nested lists, `"[[1, 2], [3, 4]]"`, give exactly the rank written (`"[1, 2]"` is a 1-D vector).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wxb.cli.errors import InputError

LARGE_TEXT = 1 << 20  # bytes; above this, text is parsed by polars
CHUNK = 8 << 20  # bytes parsed between two steps of a progress bar
WHITESPACE = " "  # the delimiter value meaning "any run of spaces and tabs"
SUFFIX_DELIMITERS = {".tsv": "\t", ".txt": WHITESPACE, ".dat": WHITESPACE}
SNIFFED = ("\t", ";", ",")
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
_MAX_JSON_DEPTH = 32
_BOM = b"\xef\xbb\xbf"

FloatArray = NDArray[np.float64]
Advance = Callable[[int], object]  # told how many more bytes are done


@dataclass(frozen=True)
class Where:
    """Where text came from, for messages: the option (`-X`) and the source (a path, `stdin`, `literal '...'`)."""

    operand: str
    source: str

    def error(self, what: str, line: int | None = None, column: int | None = None, **kw: Any) -> InputError:
        return InputError(what, operand=self.operand, source=self.source, line=line, column=column, **kw)


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


def _cell_error(cell: str, where: Where, line: int | None, column: int, delimiter: str | None) -> InputError:
    """The located error for a cell that is not a number, with a hint when we can guess the cause."""
    text = _unquote(cell)
    if not text:
        return where.error("empty cell", line, column, hint="every row needs a number in every column")
    if _DECIMAL_COMMA.fullmatch(text) and delimiter != ",":
        hint = f"decimal commas are not read; write {text.replace(',', '.')!r} with a point"
        return where.error(f"non-numeric cell {text!r}", line, column, hint=hint)
    if _is_complex(text):
        return where.error(f"complex number {text!r}", line, column, hint="wxb computes with real numbers only")
    return where.error(f"non-numeric cell {_shorten(text)!r}", line, column)


def _is_complex(text: str) -> bool:
    try:
        complex(text.replace(" ", ""))
    except ValueError:
        return False
    return "j" in text.lower()


def _count(n: int, noun: str) -> str:
    """'1 cell', '3 cells'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- text files


def decode(data: bytes, where: Where) -> str:
    """UTF-8 text without its BOM; binary data and invalid UTF-8 raise a located InputError."""
    data = data.removeprefix(_BOM)
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _position(data, nul)
        hint = "is it a .npy or .npz file? give it that suffix"
        raise where.error("binary data, not text (a NUL byte)", line, column, hint=hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        bad = data[exc.start : exc.start + 1].hex()
        raise where.error(f"not UTF-8 text (byte 0x{bad})", line, column, hint="save the file as UTF-8") from None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """Line and column (from 1, in characters) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def data_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, stripped line) for every line that is neither blank nor a `#` comment."""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def sniff_delimiter(lines: list[str]) -> str:
    """Tab if any of these lines has one, else `;`, else `,`, else whitespace."""
    return next((d for d in SNIFFED if any(d in line for line in lines)), WHITESPACE)


def split_cells(line: str, delimiter: str) -> list[str]:
    """The cells of one line; double quotes may protect a delimiter inside a cell."""
    if delimiter == WHITESPACE:
        return line.split()
    if '"' in line:
        import csv

        return next(csv.reader([line], delimiter=delimiter))
    return line.split(delimiter)


def parse_text(data: bytes, where: Where, *, delimiter: str | None = None) -> FloatArray:
    """The 2-D float64 array in delimited text (rules in the module docstring), or a located InputError."""
    text = decode(data, where)
    lines = list(data_lines(text))
    if not lines:
        raise where.error("no numbers (the file is empty)" if not text.strip() else "no numbers (only comments)")
    delimiter = delimiter or sniff_delimiter([line for _, line in lines[:5]])
    first_number, first = lines[0]
    first_cells = split_cells(first, delimiter)
    if is_header(first_cells):
        note(f"skipped header row in {where.operand} {where.source} line {first_number}")
        lines = lines[1:]
        if not lines:
            raise where.error("no numbers (only a header row)", first_number)
    return np.array(_parse_rows(lines, where, delimiter), dtype=np.float64, ndmin=2)


def _parse_rows(lines: list[tuple[int, str]], where: Where, delimiter: str) -> list[list[float]]:
    rows: list[list[float]] = []
    width = -1
    for number, line in lines:
        cells = split_cells(line, delimiter)
        if width < 0:
            width, first_line = len(cells), number
        if len(cells) != width:
            what = f"row has {_count(len(cells), 'cell')} but line {first_line} has {width}"
            raise where.error(what, number, min(len(cells), width) + 1, hint="every row needs the same number of cells")
        rows.append(_parse_cells(cells, where, number, delimiter))
    return rows


def _parse_cells(cells: list[str], where: Where, line: int | None, delimiter: str | None) -> list[float]:
    values = []
    for column, cell in enumerate(cells, start=1):
        text = _unquote(cell)
        if _NUMBER.fullmatch(text) is None:
            raise _cell_error(cell, where, line, column, delimiter)
        values.append(float(text))
    return values


def note(message: str) -> None:
    """A one-line note on stderr (never stdout, which carries results)."""
    print(f"wxb: note: {message}", file=sys.stderr)


# ---------------------------------------------------------------- large text: polars, same rules


def parse_large_text(
    data: bytes | str, where: Where, *, delimiter: str | None = None, advance: Advance | None = None
) -> FloatArray:
    """parse_text's result for big inputs (data or a path), by polars; on any doubt, parse_text decides.

    With `advance`, the text is parsed in CHUNK-sized pieces and advance(bytes) is called after each (a progress
    bar); the result is the same."""
    head = _head(data)
    text = decode(head, where)
    lines = list(data_lines(text))[:6]
    if not lines:
        return parse_text(_all(data), where, delimiter=delimiter)
    delimiter = delimiter or sniff_delimiter([line for _, line in lines[:5]])
    first_cells = split_cells(lines[0][1], delimiter)
    header = is_header(first_cells)
    width = len(split_cells(lines[1][1], delimiter)) if header and len(lines) > 1 else len(first_cells)
    skip = lines[0][0] if header else lines[0][0] - 1
    array = _polars_read(data, delimiter, width, skip, advance)
    if array is None:
        return parse_text(_all(data), where, delimiter=delimiter)
    if header:
        note(f"skipped header row in {where.operand} {where.source} line {lines[0][0]}")
    return array


def _head(data: bytes | str, size: int = 1 << 16) -> bytes:
    if isinstance(data, bytes):
        head = data[:size]
    else:
        with open(data, "rb") as file:
            head = file.read(size)
    cut = head.rfind(b"\n")
    if cut < 0 and len(head) == size:
        return _all(data)  # one enormous line: look at all of it rather than at half a cell
    return head[: cut + 1]


def _all(data: bytes | str) -> bytes:
    if isinstance(data, bytes):
        return data
    with open(data, "rb") as file:
        return file.read()


def _polars_read(
    data: bytes | str, delimiter: str, width: int, skip: int, advance: Advance | None = None
) -> FloatArray | None:
    """The float64 matrix polars reads, or None if it cannot read it exactly as parse_text would."""
    import polars as pl

    if delimiter == WHITESPACE:
        delimiter = "\t" if _uses_tabs(data) else " "
    schema = {f"c{i}": pl.Float64 for i in range(width)}

    def read(source: io.BytesIO | str, skip_lines: int) -> FloatArray | None:
        try:
            frame = pl.read_csv(source, has_header=False, separator=delimiter, schema=schema,
                                skip_lines=skip_lines, comment_prefix="#", glob=False)
        except Exception:  # polars raises many kinds; the careful parser will name the problem
            return None
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


# ---------------------------------------------------------------- literals


def parse_literal(spec: str, operand: str) -> NDArray[np.float64]:
    """The array written inline: a matrix literal or JSON nested lists (rules in the module docstring)."""
    where = Where(operand, f"literal {_shorten(spec.strip())!r}")
    text = spec.strip()
    if not text:
        raise where.error("empty matrix literal", hint='write numbers, e.g. "1 2; 3 4"')
    if text[0] in "[{" or text in ("NaN", "Infinity", "-Infinity"):
        parsed = _json_or_none(text, where)
        if parsed is not None:
            return parsed
        if text[0] == "[" and text[-1] == "]":
            text = text[1:-1]
    return _matrix_literal(text, where)


def _json_or_none(text: str, where: Where) -> FloatArray | None:
    import json

    try:
        value = json.loads(text)
    except RecursionError:
        raise where.error("nested too deeply") from None
    except ValueError:
        return None
    return json_array(value, where)


def json_array(value: object, where: Where) -> FloatArray:
    """A JSON number or nested list as a float64 array of the same rank; ragged or non-numeric raises."""
    _json_shape(value, where, "", 0)
    return np.array(value, dtype=np.float64)


def _json_shape(value: object, where: Where, path: str, depth: int) -> tuple[int, ...]:
    if depth > _MAX_JSON_DEPTH:
        raise where.error(f"nested lists deeper than {_MAX_JSON_DEPTH}")
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        import json

        raise where.error(f"not a number: {_shorten(json.dumps(value))} at {path or 'top level'}")
    if isinstance(value, int) and not abs(value) < 2**1024:
        raise where.error(f"number too large for float64 at {path or 'top level'}")
    if not isinstance(value, list):
        return ()
    shapes = [_json_shape(item, where, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    for i, shape in enumerate(shapes[1:], start=1):
        if shape != shapes[0]:
            hint = "every row needs the same number of items"
            raise where.error(
                f"ragged nested lists: {path}[{i}] has shape {shape}, {path}[0] has {shapes[0]}", hint=hint
            )
    return (len(value), *(shapes[0] if shapes else ()))


def _matrix_literal(text: str, where: Where) -> FloatArray:
    rows = re.split(r"[;\n]", text)
    if rows[-1].strip() == "" and len(rows) > 1:
        rows.pop()  # one trailing row separator is harmless
    parsed: list[list[float]] = []
    for number, row in enumerate(rows, start=1):
        row_where = Where(where.operand, f"{where.source} row {number}")
        cells = [cell for cell in re.split(r"\s*,\s*|\s+", row.strip())] if row.strip() else [""]
        values = _parse_cells(cells, row_where, None, ",")
        if parsed and len(values) != len(parsed[0]):
            what = f"row {number} has {_count(len(values), 'number')} but row 1 has {len(parsed[0])}"
            raise where.error(what, hint="every row needs the same number of cells")
        parsed.append(values)
    if len(rows) == 1 and len(parsed[0]) == 1 and not re.search(r"[;\n]", text):
        return np.array(parsed[0][0], dtype=np.float64)
    return np.array(parsed, dtype=np.float64)
