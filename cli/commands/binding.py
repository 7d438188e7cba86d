"""Binding operands: NAME=SOURCE arguments and the shorthand options read once and checked once into a Loaded
problem."""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ... import core
from ...core.notation import shape_text
from ..env import note
from ..errors import InputError
from ..model import Loaded, Sources
from ..read.operands import is_literal, read_operands
from ..read.textparse import shorten
from ..write.output import format_number

Array = np.ndarray[Any, np.dtype[Any]]


def parse_bindings(bindings: list[str] | None, *, upstream: bool = False) -> dict[str, str]:
    """NAME=SOURCE arguments as {name: source}; each name once, a Python-style identifier, never G (unless
    upstream: G is then an operand, in a formula wxb derive wrote)."""
    bound: dict[str, str] = {}
    for binding in bindings or []:
        name, equals, source = binding.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())  # as Python reads the expression's names
        if not equals or not name.isidentifier() or keyword.iskeyword(name):
            raise InputError(f"expected NAME=SOURCE, got {shorten(binding, 60)!r}",
                             hint='bind an operand as W1=w.csv or b1="0.5; -1"')
        if name == "G" and not upstream:
            raise InputError("G is the upstream gradient, not an operand", hint="give it with -G")
        if name in bound:
            raise InputError(f"{name} is bound twice", hint=f"give {name}=SOURCE once")
        bound[name] = source
    return bound

def _specs(sources: Sources) -> tuple[dict[str, str], dict[str, str]]:
    """Every operand source by name, from the shorthands and the bindings (a name given both ways is refused),
    and how the user named each: -W for a shorthand, W= for a binding."""
    specs = parse_bindings(sources.bindings, upstream=sources.formula)
    labels = {name: f"{name}=" for name in specs}
    for name, spec in sources.shorthands.items():
        if spec is None:
            continue
        if name in specs:
            raise InputError(f"{name} is given twice, by -{name} and by {name}=", hint="give each operand once")
        specs[name], labels[name] = spec, f"-{name}"
    return specs, labels

def load(sources: Sources) -> Loaded:
    """Read every operand once and check them once, into the problem the command works on."""
    specs, labels = _specs(sources)
    default = sources.expr is None
    expression = core.parse(sources.expr, upstream=sources.formula) if sources.expr is not None else None
    names = list(expression.operands) if expression else ["W", "X", "b"]
    wanted: dict[str, str | None] = {name: specs.get(name) for name in names}
    key = _target_key(names) if "T" in names else "T"  # an operand T is bound by -T; the target is --target
    if sources.target is not None:
        if key in specs:
            raise InputError(f"the target of --loss mse is given twice, by {labels[key]} and by --target",
                             hint="give it once")
        specs[key], labels[key] = sources.target, "--target"
    for name in specs:
        wanted.setdefault(name, specs[name])
    wanted.setdefault(key, None)
    upstream_operand = expression is not None and "G" in expression.operands  # bound by G=, as any operand
    if not upstream_operand:
        wanted["G"] = sources.G
    arrays = read_operands(wanted, bundle=sources.bundle, delimiter=sources.delimiter, header=sources.header,
                           labels=labels)
    arrays = backend_operands(arrays, sources.lazy, labels)
    if expression is None:
        expression = core.parse(core.DEFAULT if arrays.get("W") is not None else core.DEFAULT_WITHOUT_W)
        _require_default(arrays)
    G = None if upstream_operand else arrays.pop("G", None)
    target = arrays.pop(key, None)
    bound = {name: value for name, value in arrays.items() if value is not None}
    if sources.bundle is not None:
        bound = {name: value for name, value in bound.items() if name in expression.operands or name in specs}
    weak = [name for name, spec in specs.items() if is_literal(spec)]  # an inline literal's dtype does not count
    problem = _build(expression, bound, weak)
    _note_row_readings(problem)
    for name, array in bound.items():
        if array.dtype.kind == "f" and array.dtype.itemsize > 8:
            note(f"{name} is {array.dtype}; wxb computes in float64, so digits beyond it are dropped")
    return Loaded(problem, G, target, default, target is not None and key in specs, sources.G is not None,
                  labels.get(key, "-T"))


def _note_row_readings(problem: core.Problem) -> None:
    """A note for each 1-D operand wxb reads as a column where NumPy's reading, a row, would broadcast too."""
    said = set()
    for item in problem.broadcasts():
        if item.row_reading_differs and item.name not in said:
            said.add(item.name)
            m = item.bias_shape[0]
            row, column = _row_and_column(problem.operands[item.name])
            note(f"{item.name} {shape_text(item.bias_shape)} is read as a column {shape_text((m, 1))}, one value per "
                 f"row (wxb's rule); NumPy reads a 1-D array as a row, which broadcasts here too, to other numbers. "
                 f"Give {item.name} two axes to choose: a row 1×{m}, {item.name}={row!r}, or a column {m}×1, "
                 f"{item.name}={column!r}")


def _row_and_column(vector: Any) -> tuple[str, str]:
    """A 1-D operand as wxb's literal of a row ("10 20 30") and of a column ("10; 20; 30"); placeholders when it
    is long or not in memory."""
    if type(vector).__module__.startswith("numpy") and len(vector) <= 8:
        cells = [text[:-2] if (text := format_number(x)).endswith(".0") else text for x in vector.tolist()]
    else:
        cells = ["b1", "b2", "…"]
    return " ".join(cells), "; ".join(cells)


def backend_operands(arrays: dict[str, Any], lazy: bool, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The operands as the command computes with them: Dask arrays (lazy), else in memory (a zarr array read);
    labels: how each was given (`-X`, `X=`), for the workers' messages."""
    if lazy:
        from ..run.dask import lazy_operands

        return lazy_operands(arrays, labels)
    if not any(type(value).__module__.startswith("zarr") for value in arrays.values()):
        return arrays  # no zarr operand: nothing to import
    from ..stores.zarr import in_memory

    return {name: in_memory(value) for name, value in arrays.items()}


def _target_key(names: list[str]) -> str:
    """The name the mse target is read under beside an operand T: one no operand has."""
    key = "target"
    while key in names:
        key += "_"
    return key

def _require_default(arrays: Mapping[str, Array | None]) -> None:
    """The default expression needs X and b."""
    for name, example in (("X", '-X "1 2; 3 4"'), ("b", '-b "5; 6"')):
        if arrays.get(name) is None:
            raise InputError(f"missing operand -{name}", hint=f"give it as a path or a literal, e.g. {example}")

def _build(expression: core.Expression, bound: dict[str, Array], weak: list[str]) -> core.Problem:
    """The checked problem; a binding error says how to bind."""
    try:
        return core.Problem.build(expression, bound, weak=weak)
    except core.BindingError as exc:
        raise InputError(str(exc), hint=f"bind the operands of {expression.text} with NAME=SOURCE (-W, -X, -b "
                         f"and -T bind W, X, b and T): {', '.join(expression.operands)}") from None


SIZE_NAMES = re.compile(r"[A-Za-z_]\w*|\d+")
SIZES = (3, 4, 5, 2, 6, 7, 8)  # drawn sizes for symbolic ones: distinct, so that a transpose cannot fit by chance
OTHER_SIZES = (7, 5, 3, 6, 9, 4, 2)  # the same names at other sizes (each its own), to find what depends on them


def sized(bindings: list[str] | None, sizes: tuple[int, ...] = SIZES) -> tuple[list[str] | None, dict[str, int]]:
    """Bindings with symbolic sizes (W=mxk, b=m) made concrete, the same name the same size, distinct names
    distinct sizes; and the sizes chosen. A spec that names a file is data, whatever it looks like."""
    if not bindings:
        return bindings, {}
    chosen: dict[str, int] = {}
    out = []
    for binding in bindings:
        name, equals, spec = binding.partition("=")
        parts = re.split(r"\s*[x×]\s*", spec.strip()) if equals else []
        symbolic = parts and all(SIZE_NAMES.fullmatch(p) for p in parts) and any(not p.isdigit() for p in parts)
        if symbolic and not Path(spec).exists():
            for part in parts:
                if not part.isdigit() and part not in chosen:
                    if len(chosen) >= len(sizes):
                        raise InputError("too many symbolic sizes", operand=f"{name}=",
                                         hint=f"use at most {len(sizes)} names")
                    chosen[part] = sizes[len(chosen)]
            binding = f"{name}=" + "x".join(p if p.isdigit() else str(chosen[p]) for p in parts)
        out.append(binding)
    return out, chosen


def sizes_text(sizes: Mapping[str, int]) -> str:
    """The symbolic sizes chosen, as 'm = 3, n = 4'."""
    return ", ".join(f"{k} = {v}" for k, v in sizes.items())


def assumptions(specs: Sequence[str], expression: core.Expression) -> dict[str, str]:
    """--assume NAME=KIND (symmetric, spd, diagonal, orthogonal) as {name: kind}."""
    from ...core.symbolic.simplify import ASSUMPTIONS

    found = {}
    for spec in specs:
        name, equals, kind = (part.strip() for part in spec.partition("="))
        if not equals or kind not in ASSUMPTIONS:
            raise InputError(f"expected --assume NAME=KIND, got {spec!r}", operand="--assume",
                             hint="KIND is one of " + ", ".join(ASSUMPTIONS))
        if name not in expression.operands:
            raise InputError(f"{name} is not an operand of f = {expression.text}", operand="--assume")
        found[name] = kind
    return found
