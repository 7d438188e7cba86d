"""The work behind each wxb command: bind the operands into one checked problem, call wxb.core, then write data or
hand a view what to draw.

Data flows one way: command → operands (read once, checked once into a core.Problem) → core → results → a view
(wxb.cli.views, imported only for terminals and text) or a writer (wxb.cli.output). Views never call back here.
"""

from __future__ import annotations

import keyword
import math
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .. import core
from ..core.losses import loss_row
from .errors import InputError
from .operands import is_literal, read_operands
from .output import choose_format, format_number, write_results, write_text
from .textparse import note, shorten

Array = np.ndarray[Any, np.dtype[Any]]
SEED = {"W": np.eye(2), "X": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0, 6.0])}
PREVIEW_BLOCKS = 3
TEXT_SUFFIXES = {".txt": "text", ".json": "json", ".md": "markdown", ".markdown": "markdown", ".tex": "latex",
                 ".csv": "csv", ".tsv": "tsv"}


class OutputChoice(NamedTuple):
    """Where results go: --format, -o and the display precision of tables."""

    fmt: str | None
    output: Path | None
    precision: int


class Sources(NamedTuple):
    """What the user gave for the operands: the expression, NAME=SOURCE bindings and the shorthand options."""

    expr: str | None
    bindings: list[str] | None
    shorthands: dict[str, str | None]
    G: str | None
    bundle: str | None
    delimiter: str | None
    header: bool | None


@dataclass(frozen=True)
class Loaded:
    """The checked problem, and what goes with it: G (-G), the mse target T when T is not an operand of the
    expression, and whether the expression is the default W @ X + b."""

    problem: core.Problem
    G: Array | None
    target: Array | None
    default: bool
    target_given: bool = False
    G_given: bool = False

    @property
    def heading(self) -> str:
        """f = W·X ⊕ b for the default expression (W absent is the identity), else f = the expression as given."""
        return "f = W·X ⊕ b" if self.default else f"f = {self.problem.expression.text}"


# ---- Binding operands ----

def parse_bindings(bindings: list[str] | None) -> dict[str, str]:
    """NAME=SOURCE arguments as {name: source}; each name once, a Python-style identifier, never G."""
    bound: dict[str, str] = {}
    for binding in bindings or []:
        name, equals, source = binding.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())  # as Python reads the expression's names
        if not equals or not name.isidentifier() or keyword.iskeyword(name):
            raise InputError(f"expected NAME=SOURCE, got {shorten(binding, 60)!r}",
                             hint='bind an operand as W1=w.csv or b1="0.5; -1"')
        if name == "G":
            raise InputError("G is the upstream gradient, not an operand", hint="give it with -G")
        if name in bound:
            raise InputError(f"{name} is bound twice", hint=f"give {name}=SOURCE once")
        bound[name] = source
    return bound


def _specs(sources: Sources) -> tuple[dict[str, str], dict[str, str]]:
    """Every operand source by name, from the shorthands and the bindings (a name given both ways is refused),
    and how the user named each: -W for a shorthand, W= for a binding."""
    specs = parse_bindings(sources.bindings)
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
    expression = core.parse(sources.expr) if sources.expr is not None else None
    names = list(expression.operands) if expression else ["W", "X", "b"]
    wanted: dict[str, str | None] = {name: specs.get(name) for name in names}
    for name in specs:
        wanted.setdefault(name, specs[name])
    wanted.setdefault("T", None)
    wanted["G"] = sources.G
    arrays = read_operands(wanted, bundle=sources.bundle, delimiter=sources.delimiter, header=sources.header,
                           labels=labels)
    if expression is None:
        expression = core.parse(core.DEFAULT if arrays.get("W") is not None else core.DEFAULT_WITHOUT_W)
        _require_default(arrays)
    uses_t = "T" in expression.operands
    G, target = arrays.pop("G", None), None if uses_t else arrays.pop("T", None)
    bound = {name: value for name, value in arrays.items() if value is not None}
    if sources.bundle is not None:
        bound = {name: value for name, value in bound.items() if name in expression.operands or name in specs}
    weak = [name for name, spec in specs.items() if is_literal(spec)]  # an inline literal's dtype does not count
    problem = _build(expression, bound, weak)
    for name, array in bound.items():
        if array.dtype.kind == "f" and array.dtype.itemsize > 8:
            note(f"{name} is {array.dtype}; wxb computes in float64, so digits beyond it are dropped")
    return Loaded(problem, G, target, default, target is not None and "T" in specs, sources.G is not None)


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


# ---- Formats ----

def views() -> ModuleType:
    """The Rich views, imported only when a person is looking (table or text output)."""
    from . import views

    return views


def stdout_is_terminal() -> bool:
    """True when stdout is an open terminal."""
    stdout = sys.stdout
    return stdout is not None and not getattr(stdout, "closed", False) and stdout.isatty()


def output_format(out: OutputChoice) -> str:
    """The format data results go out in: --format, else -o's suffix, else table on a terminal and csv in a pipe."""
    return choose_format(out.fmt, out.output, stdout_is_terminal=stdout_is_terminal())


def descriptive_format(out: OutputChoice, allowed: tuple[str, ...], hint: str = "") -> str:
    """The format of a descriptive command: --format, else -o's suffix, else table on a terminal and, in a pipe
    or a file, the same text without colour."""
    to_file = out.output is not None and str(out.output) != "-"
    fmt = out.fmt.lower() if out.fmt else None
    if fmt is None and to_file:
        assert out.output is not None
        suffix = out.output.suffix.lower()
        fmt = suffix[1:] if suffix in (".npy", ".npz") else TEXT_SUFFIXES.get(suffix, "text")
    if fmt is None:
        fmt = "table" if stdout_is_terminal() else "text"
    if fmt == "table" and (to_file or not stdout_is_terminal()):
        fmt = "text"
    if fmt == "md":
        fmt = "markdown"
    if fmt == "tex":
        fmt = "latex"
    if fmt not in ("table", "text", *allowed):
        raise InputError(f"this command has no {fmt} form", operand="--format",
                         hint=hint or "use " + ", ".join(("table", "text", *allowed)))
    return fmt


def show(fmt: str, out: OutputChoice, draw: Any) -> None:
    """A view drawn on the terminal (table), or as plain text without colour to a pipe or file (text)."""
    if fmt == "table":
        draw(views().console())
    else:
        write_text(views().plain_text(draw), out.output)


def emit(results: Mapping[str, Array], out: OutputChoice, draw: Any, *, record: bool = False,
         problem: core.Problem | None = None) -> None:
    """Results as a table for a person (the view), or as data for a pipe or a file; a NaN or an infinity in a
    result is reported first, one warning line each."""
    for line in nonfinite_warnings(results, problem):
        note(line, "warning")
    fmt = output_format(out)
    if fmt == "table":
        draw(views().console())
    else:
        write_results(results, fmt, out.output, record=record)


def _entries(n: int, kind: str) -> str:
    """'1 NaN entry', '3 infinite entries'."""
    return f"{n:,} {kind} {'entry' if n == 1 else 'entries'}"


def nonfinite_warnings(results: Mapping[str, Array], problem: core.Problem | None) -> list[str]:
    """For each result holding NaN or ±inf: how many entries, and why (the operands had them, or the maths
    produced them: an overflow, a division by zero, an invalid operation)."""
    lines = []
    operands = list(problem.operands.values()) if problem is not None else []
    for name, value in results.items():
        array = np.asarray(value)
        if array.dtype.kind != "f" or np.isfinite(np.sum(array)):
            continue
        nans, infs = int(np.count_nonzero(np.isnan(array))), int(np.count_nonzero(np.isinf(array)))
        parts = []
        if nans:
            given = any(np.isnan(np.sum(a)) for a in operands)
            why = "from NaN in the operands" if given else "from an invalid operation: 0/0, ∞ − ∞, 0·∞, or log " \
                "or sqrt of a negative number"
            parts.append(f"{_entries(nans, 'NaN')} ({why})")
        if infs:
            limit = float(np.finfo(array.dtype).max)
            given = any(np.isinf(a).any() for a in operands)
            why = "from infinities in the operands" if given else f"from an overflow beyond ±{limit:.2g} for " \
                f"{array.dtype}, or a pole such as 1/0 or log 0"
            parts.append(f"{_entries(infs, 'infinite')} ({why})")
        lines.append(f"{name} has " + " and ".join(parts))
    return lines


# ---- The memory plan's fast path ----

SMALL = 64 << 20  # bytes: eight times every value of a command under this fits on any machine


def small(loaded: Loaded, chunk: str | None = None) -> bool:
    """True when a command is so small that it fits anywhere: then the memory plan (cli.chunked) is not even
    imported, which keeps start-up as it was. Never with --chunk or a WXB_MEMORY cap."""
    import os

    problem = loaded.problem
    values = sum(math.prod(shape) for shape in problem.shapes.values()) * problem.dtype.itemsize
    return chunk is None and "WXB_MEMORY" not in os.environ and 8 * values < SMALL


# ---- forward ----

def forward(loaded: Loaded, out: OutputChoice, chunk: str | None = None) -> None:
    """f, the expression's value: whole, or block by block when it does not fit or --chunk asks (cli.chunked)."""
    if not small(loaded, chunk):
        from . import chunked

        fmt = output_format(out)
        decision = chunked.decide(loaded, None, chunked.chunk_option(chunk), fmt)
        if decision.plan is not None:
            def shown(results: dict[str, Array]) -> None:
                f = results["f"]
                emit(results, out, lambda console: views().forward(console, loaded, f, out.precision))

            chunked.forward(loaded, decision, out, fmt, shown)
            return
    f = loaded.problem.forward()
    emit({"f": f}, out, lambda console: views().forward(console, loaded, f, out.precision), problem=loaded.problem)


# ---- backward ----

def check_upstream(loaded: Loaded, loss: str | None) -> None:
    """-G and --loss exclude each other (a G from a --from bundle gives way to --loss); -T (when not an operand)
    goes with --loss mse."""
    if loaded.G_given and loss is not None:
        raise InputError("give -G or --loss, not both", hint="-G is ∂L/∂f itself; --loss derives it from f")
    if loaded.G is None and loss != "mse" and loaded.target_given:
        raise InputError("-T is only used with --loss mse", hint="add --loss mse, or use T in the expression")


def upstream(loaded: Loaded, loss: str | None) -> tuple[Array, str]:
    """G = ∂L/∂f from -G, or from the loss (sum by default; G = 1 for a scalar f), with a note of where from."""
    problem = loaded.problem
    check_upstream(loaded, loss)
    if loaded.G is not None:
        return problem.upstream(loaded.G), ""
    name = loss or "sum"
    row = loss_row(name)
    if problem.f_shape == () and loss is None:
        return problem.upstream(None), "G = ∂L/∂f = 1 for L = f, a scalar."
    f = problem.forward()
    G = core.upstream_gradient(f, name, loaded.target)
    return G.astype(problem.dtype, copy=False), f"G = ∂L/∂f for {row.text} (give -G for your own)."


def wrt_names(loaded: Loaded, wrt: str | None) -> tuple[tuple[str, ...], bool]:
    """The operands to differentiate (default: b for W @ X + b, every operand with -e), and whether they form a
    keyed record ('all' always does)."""
    if wrt is None and loaded.default:
        return ("b",), False
    names = _wrt_list(wrt)
    return checked_wrt(loaded, names), names is None or "all" in names or len(names) > 1


def _wrt_list(wrt: str | None) -> list[str] | None:
    """--wrt's comma-separated names (None when it was not given)."""
    if wrt is None:
        return None
    names = [name.strip() for name in wrt.split(",") if name.strip()]
    if not names:
        raise InputError("--wrt needs operand names or all", hint="e.g. --wrt all or --wrt W,b")
    return names


def checked_wrt(loaded: Loaded, names: list[str] | None) -> tuple[str, ...]:
    """The operands named (None or 'all': every one), refused with --wrt named when one is not an operand."""
    try:
        return loaded.problem.wrt_names(names)
    except core.WxbError as exc:
        hint = exc.hint or ""
        if loaded.default and names and "W" in names:
            hint += "; give -W for f = W·X ⊕ b"
        raise InputError(str(exc), operand="--wrt" if names else None, hint=hint) from None


def backward(loaded: Loaded, loss: str | None, wrt: str | None, out: OutputChoice, chunk: str | None = None) -> None:
    """dL/dθ for each operand asked for, from G = ∂L/∂f (-G, or the loss's G from f in the same forward pass);
    block by block when it does not fit or --chunk asks (cli.chunked)."""
    names, record = wrt_names(loaded, wrt)
    check_upstream(loaded, loss)
    problem = loaded.problem
    if not small(loaded, chunk):
        from . import chunked

        fmt = output_format(out)
        decision = chunked.decide(loaded, names, chunked.chunk_option(chunk), fmt, loss)
        if decision.plan is not None:
            def shown(grads: core.Gradients, results: dict[str, Array]) -> None:
                if results:
                    whole = replace(grads, grads={key[1:]: value for key, value in results.items()})
                    emit(results, out, lambda console: views().backward(console, whole, out.precision),
                         record=record)

            chunked.backward(loaded, decision, names, loss, out, fmt, shown)
            return
    if loaded.G is not None and (loss is None or loaded.G_given):
        grads = problem.backward(problem.upstream(loaded.G), names)
    elif problem.f_shape == () and loss is None:
        grads = problem.backward(None, names)
    else:
        grads = problem.backward(None, names, loss=loss or "sum", target=loaded.target)
    results = grads.keyed()
    emit(results, out, lambda console: views().backward(console, grads, out.precision), record=record,
         problem=loaded.problem)


# ---- jacobian ----

class JacobianRequest(NamedTuple):
    wrt: str | None
    block: int | None
    dense: bool
    limit: int


def jacobian_wrt(loaded: Loaded, wrt: str | None) -> str:
    """The one operand the Jacobian is taken with respect to (default: b if there is one, else the first)."""
    operands = checked_wrt(loaded, None)
    if wrt is None:
        return "b" if "b" in operands else operands[0]
    if wrt not in operands:
        hint = "choose one of " + ", ".join(operands)
        if loaded.default and wrt == "W":
            hint += "; give -W for f = W·X ⊕ b"
        raise InputError(f"{wrt} is not an operand of {loaded.problem.expression.text}", operand="--wrt", hint=hint)
    return wrt


def jacobian(loaded: Loaded, request: JacobianRequest, out: OutputChoice) -> None:
    """The Jacobian of f with respect to one operand: its structure, one block, or all of it (dense).

    Data formats get the tensor (f.shape + θ.shape; one block: its slice of it); csv and tsv, which hold only
    matrices, get the matrix ∂vec f/∂vec θ (one block: its rows of it)."""
    from ..core import jacobian as jac

    problem = loaded.problem
    if request.dense and request.block is not None:
        raise InputError("give --block K or --dense, not both", hint="--block K is one block, --dense all of them")
    wrt = jacobian_wrt(loaded, request.wrt)
    structure = jac.structure(problem, wrt)
    if not request.dense and request.block is None:
        fmt = descriptive_format(out, ("json",), "the structure is text or json; use --block K for one block or "
                                 "--dense for all of it as data")
        if fmt == "json":  # the record needs blocks only to say what they show, where there is no closed form
            blocks = Blocks([], "", "", 0) if structure.kron else preview_blocks(problem, structure)
            write_text(_json(structure_record(structure, blocks)), out.output)
            return
        blocks = preview_blocks(problem, structure)
        show(fmt, out, lambda console: views().jacobian_blocks(
            console, structure, blocks, sparsity(problem, structure, blocks, console.width), out.precision))
        return
    fmt = output_format(out)
    if request.dense:
        tensor = jac.dense(problem, wrt, limit=request.limit)
        matrix = jac.matrix_view(tensor, structure.f_shape, structure.operand_shape)

        def draw(console: Any) -> None:
            views().dense(console, structure, matrix, out.precision)
    else:
        k = request.block
        assert k is not None
        tensor = jac.block(problem, wrt, k)
        matrix = jac.matrix_view(tensor, tensor.shape[: tensor.ndim - len(structure.operand_shape)],
                                 structure.operand_shape)

        def draw(console: Any) -> None:
            views().block(console, structure, k, matrix, out.precision)

    emit({"J": matrix if fmt in ("csv", "tsv") else tensor}, out, draw)


class Blocks(NamedTuple):
    """The first blocks of a Jacobian as matrices (`asked` of them wanted), what they show, or why they were
    not computed."""

    matrices: list[Array]
    traits: str
    skipped: str
    asked: int


def preview_blocks(problem: core.Problem, structure: Any, count: int = PREVIEW_BLOCKS) -> Blocks:
    """The first `count` blocks as matrices ∂f[slice]/∂vec θ (under the size guard)."""
    from ..core import jacobian as jac
    from ..core import notation

    shown = min(structure.n_blocks, count)
    limit = 10**7 if structure.kron else 10**5
    try:
        tensors = [jac.block(problem, structure.wrt, k, limit=limit) for k in range(shown)]
    except core.TooLargeError as exc:
        return Blocks([], "", str(exc), shown)
    matrices = [jac.matrix_view(t, t.shape[: t.ndim - len(structure.operand_shape)], structure.operand_shape)
                for t in tensors]
    return Blocks(matrices, "" if structure.kron else notation.describe_blocks(matrices), "", shown)


SPY_HEIGHT, SPY_WIDTH = 16, 48


class Spy(NamedTuple):
    """A sparsity picture: its title, and its grid of filled cells (None when there is nothing to draw)."""

    title: str
    grid: Array | None


def sparsity(problem: core.Problem, structure: Any, blocks: Blocks, width: int) -> Spy | None:
    """The sparsity pattern of ∂vec f/∂vec θ in at most SPY_HEIGHT × SPY_WIDTH cells (and width − 4), read from
    the entry rules of a closed form, or from the computed blocks; sampled at random when too big to read all."""
    from ..core import jacobian as jac
    from .render import spy_grid

    rows, cols = math.prod(structure.f_shape), math.prod(structure.operand_shape)
    if rows == 0 or cols == 0:
        return Spy("(the Jacobian is empty: nothing to draw)", None)
    window = rows
    if structure.n_blocks > blocks.asked:
        window = min(rows, blocks.asked * max(rows // structure.n_blocks, 1))
    if structure.kron:
        def entries(r: Array, c: Array) -> Array:
            both = np.broadcast_shapes(r.shape, c.shape)
            f_index = _unravel(np.broadcast_to(r, both), structure.f_shape)
            op_index = _unravel(np.broadcast_to(c, both), structure.operand_shape)
            return np.broadcast_to(jac.entries(problem, structure.wrt, f_index=f_index, operand_index=op_index), both)
    elif blocks.matrices and len(structure.f_shape) <= 2:
        stacked = np.concatenate(blocks.matrices)
        window = min(window, stacked.shape[0])

        def entries(r: Array, c: Array) -> Array:
            found: Array = stacked[r, c]
            return found
    else:
        return None
    height = min(SPY_HEIGHT, window)
    across = min(SPY_WIDTH, cols, max(width - 4, 8))
    grid, sampled = spy_grid(window, cols, entries, height=height, width=across)
    cell_rows, cell_cols = -(-window // height), -(-cols // across)
    scale = "one entry per cell" if cell_rows == 1 and cell_cols == 1 else f"each cell {cell_rows}×{cell_cols} entries"
    part = f"rows 0…{window - 1} of " if window < rows else ""
    how = ", sampled at random" if sampled else ""
    vec = "vec " if len(structure.operand_shape) >= 2 else ""
    return Spy(f"sparsity of {part}∂vec f/∂{vec}{structure.wrt} ({rows}×{cols}): {scale}{how}", grid)


def _unravel(flat: Array, shape: tuple[int, ...]) -> tuple[Array, ...]:
    """Column-major (vec) positions as index arrays into shape; a scalar has no axes to index."""
    return tuple(np.unravel_index(flat, shape, order="F")) if shape else ()


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


def _json(record: object) -> str:
    import json

    return json.dumps(record, ensure_ascii=False, indent=2, allow_nan=True) + "\n"


# ---- check ----

CHECK_FIELDS = ("operand", "n_checked", "method", "max_abs_error", "max_rel_error", "tolerance", "bound", "verdict",
                "reason")


def check(loaded: Loaded, wrt: str | None, out: OutputChoice) -> bool:
    """Finite differences against the analytic gradients; True unless an operand fails."""
    from ..core import gradcheck

    names = checked_wrt(loaded, _wrt_list(wrt))
    if not small(loaded):
        from .chunked import require_fits

        require_fits(loaded, names, "check")
    report = gradcheck.check_problem(loaded.problem, loaded.G, names)
    fmt = descriptive_format(out, ("csv", "tsv", "json"))
    if fmt in ("table", "text"):
        show(fmt, out, lambda console: views().check(console, report, out.precision))
    elif fmt == "json":
        rows = [{field: _plain(getattr(r, field)) for field in CHECK_FIELDS} for r in report.results]
        write_text(_json({"passed": report.passed, "results": rows}), out.output)
    else:
        sep = "," if fmt == "csv" else "\t"
        lines = [sep.join(CHECK_FIELDS)]
        lines += [sep.join(_field_text(getattr(r, field), sep) for field in CHECK_FIELDS) for r in report.results]
        write_text("\n".join(lines) + "\n", out.output)
    return report.passed


def _plain(value: object) -> object:
    return float(value) if isinstance(value, np.floating) else value


def _field_text(value: object, sep: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return format_number(float(value))
    text = str(value)
    return f'"{text}"' if sep in text else text


# ---- explain ----

def explain(loaded: Loaded, wrt: str | None, out: OutputChoice) -> None:
    """The chain rule step by step with the operands' own numbers."""
    from . import derivation, notation

    names, _ = wrt_names(loaded, wrt)
    if not small(loaded):
        from .chunked import require_fits

        require_fits(loaded, names, "explain")
    G, note = upstream(loaded, None)
    steps = derivation.derivation(loaded.problem, G, names, note, default=loaded.default)
    fmt = descriptive_format(out, ("json", "markdown", "latex"))
    if fmt in ("table", "text"):
        show(fmt, out, lambda console: views().explain(console, steps, out.precision))
    elif fmt == "json":
        record = [{"title": s.title, "formula": s.formula, "note": s.note,
                   "arrays": {name: _json_array(a) for name, a in s.arrays.items()}} for s in steps]
        write_text(_json({"expression": loaded.problem.expression.text, "steps": record}), out.output)
    else:
        heading = f"wxb explain: {loaded.heading}"
        write_text(notation.WRITERS[fmt](steps, heading, out.precision), out.output)


EXPLAIN_JSON_ENTRIES = 10_000  # an array larger than this is described in explain's json, not written out


def _json_array(a: Array) -> object:
    """An array as nested lists of Python floats (a 0-d array as a float); a large one as its shape only: explain
    is a derivation, and forward or backward give the values themselves."""
    array = np.asarray(a)
    if array.size > EXPLAIN_JSON_ENTRIES:
        return {"shape": list(array.shape), "dtype": str(array.dtype),
                "omitted": f"over {EXPLAIN_JSON_ENTRIES:,} entries; forward or backward write the values"}
    return array.astype(float).tolist()


# ---- demo ----

def demo(out: OutputChoice) -> None:
    """The seed example: forward, Jacobian blocks, reduced bias gradient, computed here and drawn by the view."""
    from ..core import jacobian as jac

    problem = core.Problem.build(core.DEFAULT, SEED)
    loaded = Loaded(problem, None, None, True)
    f = problem.forward()
    structure = jac.structure(problem, "b")
    blocks = preview_blocks(problem, structure)
    grads = problem.backward(core.upstream_gradient(f, "sum"), ["b"])
    fmt = descriptive_format(out, ())
    show(fmt, out, lambda console: views().demo(console, loaded, f, structure, blocks,
                                                sparsity(problem, structure, blocks, console.width), grads,
                                                out.precision))
