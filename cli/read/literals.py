"""Matrix literals given inline: `"1 2; 3 4"`, `"[1, 2; 3, 4]"` (always 2-D, but a lone number, which is 0-d) and
JSON nested lists, `"[[1, 2], [3, 4]]"`, of exactly the rank written (see textparse's docstring)."""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray

from ..errors import Where
from .textparse import (
    FloatArray,
    _count,
    _parse_cells,
    shorten,
)

_MAX_JSON_DEPTH = 32


def parse_literal(spec: str, operand: str) -> NDArray[np.float64]:
    """The array written inline: a matrix literal or JSON nested lists (rules in the module docstring)."""
    where = Where(operand, f"literal {shorten(spec.strip())!r}")
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
    """A JSON number or nested list as a float64 array of the same rank; null is NaN (as standard JSON writers,
    wxb's own included, write NaN and ±inf); ragged or non-numeric raises."""
    _json_shape(value, where, "", 0)
    return np.array(value, dtype=np.float64)


def _json_shape(value: object, where: Where, path: str, depth: int) -> tuple[int, ...]:
    if depth > _MAX_JSON_DEPTH:
        raise where.error(f"nested lists deeper than {_MAX_JSON_DEPTH}")
    if value is None:
        return ()
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        import json

        raise where.error(f"not a number: {shorten(json.dumps(value))} at {path or 'top level'}")
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
        values = _parse_cells(cells, row_where, None, None)
        if parsed and len(values) != len(parsed[0]):
            what = f"row {number} has {_count(len(values), 'number')} but row 1 has {len(parsed[0])}"
            raise where.error(what, hint="every row needs the same number of cells")
        parsed.append(values)
    if len(rows) == 1 and len(parsed[0]) == 1 and not re.search(r"[;\n]", text):
        return np.array(parsed[0][0], dtype=np.float64)
    return np.array(parsed, dtype=np.float64)
