"""Descriptions as plain data: the records that json, csv and tsv write for jacobian's structure, check and
explain."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model import Blocks
from .output import format_number, json_document

Array = np.ndarray[Any, np.dtype[Any]]


def structure_record(structure: Any, blocks: Blocks) -> dict[str, Any]:
    """The structured Jacobian as plain data (for --format json)."""
    record = {
        "wrt": structure.wrt,
        "f_shape": list(structure.f_shape),
        "operand_shape": list(structure.operand_shape),
        "shape": list(structure.shape),
        "size": structure.size,
        "nonzeros": structure.nonzeros,
        "block_axes": list(structure.block_axes),
        "n_blocks": structure.n_blocks,
        "block_shape": list(structure.block_shape),
        "kron": structure.kron,
        "description": structure.describe(),
    }
    if not structure.kron:
        record["blocks_show"] = blocks.traits
    return record


def json_text(record: object) -> str:
    """A record as standard JSON (NaN and ±inf as null), one line or indented (--pretty), ending with a newline."""
    return json_document(record)


CHECK_FIELDS = ("operand", "n_checked", "method", "max_abs_error", "max_rel_error", "tolerance", "bound", "verdict",
                "reason")


def check_json(report: Any, which: str) -> str:
    """A gradient check as a JSON record: whether it passed, which L it checked, and one row per operand."""
    rows = [{field: _plain(getattr(r, field)) for field in CHECK_FIELDS} for r in report.results]
    return json_text({"passed": report.passed, "L": which, "results": rows})


def check_delimited(report: Any, which: str, sep: str) -> str:
    """A gradient check as csv or tsv: a header row, then one row per operand."""
    lines = [sep.join(CHECK_FIELDS)]
    lines += [sep.join(_field_text(getattr(r, field), sep) for field in CHECK_FIELDS) for r in report.results]
    return "\n".join(lines) + "\n"


def _plain(value: object) -> object:
    return float(value) if isinstance(value, np.floating) else value

def _field_text(value: object, sep: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return format_number(float(value))
    text = str(value)
    return f'"{text}"' if sep in text else text


EXPLAIN_JSON_ENTRIES = 10_000  # an array larger than this is described in explain's json, not written out


def explain_json(expression: str, steps: list[Any]) -> str:
    """A derivation as a JSON record: the expression and each step's title, formula, note and arrays."""
    record = [{"title": s.title, "formula": s.formula, "note": s.note,
               "arrays": {name: json_array(a) for name, a in s.arrays.items()}} for s in steps]
    return json_text({"expression": expression, "steps": record})


def json_array(a: Array) -> object:
    """An array as nested lists of Python floats (a 0-d array as a float); a large one as its shape only: explain
    is a derivation, and forward or backward give the values themselves."""
    array = np.asarray(a)
    if array.size > EXPLAIN_JSON_ENTRIES:
        return {"shape": list(array.shape), "dtype": str(array.dtype),
                "omitted": f"over {EXPLAIN_JSON_ENTRIES:,} entries; forward or backward write the values"}
    return array.astype(float).tolist()
