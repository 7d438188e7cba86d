"""The work behind each wxb command: read operands, call wxb.core, then render a table or write data.

No maths here beyond calling wxb.core; what a person sees is built in wxb.cli.views, what a pipe gets
goes through wxb.cli.output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from wxb import core
from wxb.cli.errors import InputError
from wxb.cli.operands import read_operands
from wxb.cli.output import choose_format, format_number, write_results, write_text

if TYPE_CHECKING:
    from rich.console import Console

SEED_W = np.eye(2)
SEED_X = np.array([[1.0, 2.0], [3.0, 4.0]])
SEED_B = np.array([5.0, 6.0])
PREVIEW_BLOCKS = 3
INLINE_JACOBIAN = 64  # entries: explain writes a Jacobian this small out in full


class OutputChoice(NamedTuple):
    """Where results go: --format, -o and the display precision of tables."""

    fmt: str | None
    output: Path | None
    precision: int


class Operands(NamedTuple):
    X: np.ndarray
    b: np.ndarray
    W: np.ndarray | None = None
    G: np.ndarray | None = None
    T: np.ndarray | None = None


def load(*, bundle: str | None, delimiter: str | None, **specs: str | None) -> Operands:
    """Read the operands given by option or bundle; X and b are required by every command."""
    wanted = {name: specs.get(name) for name in ("W", "X", "b", "G", "T")}
    arrays = read_operands(wanted, bundle=bundle, delimiter=delimiter)
    for name, hint in (("X", '-X "1 2; 3 4"'), ("b", '-b "5; 6"')):
        if arrays.get(name) is None:
            raise InputError(f"missing operand -{name}", hint=f"give it as a path or a literal, e.g. {hint}")
    X, b = arrays["X"], arrays["b"]
    assert X is not None and b is not None
    return Operands(X=X, b=b, W=arrays.get("W"), G=arrays.get("G"), T=arrays.get("T"))


def views() -> ModuleType:
    """The Rich views, imported only when a person is looking (table output)."""
    from wxb.cli import views

    return views


def output_format(out: OutputChoice) -> str:
    """The format results go out in: --format, else -o's suffix, else table on a terminal and csv in a pipe."""
    return choose_format(out.fmt, out.output, stdout_is_terminal=sys.stdout.isatty())


def emit(results: Mapping[str, np.ndarray], out: OutputChoice, view: Callable[[Console], None],
         fmt: str | None = None) -> None:
    """Results as a table for a person (the view), or as data for a pipe or a file."""
    fmt = fmt or output_format(out)
    if fmt == "table":
        view(views().console())
    else:
        write_results(results, fmt, out.output)


# ---- forward ------------------------------------------------------------------------------------------------


def forward(ops: Operands, out: OutputChoice) -> None:
    """f = W·X ⊕ b."""
    result = core.forward(ops.X, ops.b, ops.W)
    emit({"f": result.f}, out, lambda console: views().forward(console, result, out.precision))


# ---- backward -----------------------------------------------------------------------------------------------


def upstream(ops: Operands, loss: str | None) -> np.ndarray:
    """G from -G, or from the scalar loss (sum by default); f is computed only when a loss needs it."""
    if ops.G is not None:
        if loss is not None:
            raise InputError("give -G or --loss, not both", hint="-G is ∂L/∂f itself; --loss derives it from f")
        return ops.G
    if loss != "mse" and ops.T is not None:
        raise InputError("-T is only used with --loss mse", hint="add --loss mse")
    f = core.forward(ops.X, ops.b, ops.W).f
    return core.upstream_gradient(f, loss or "sum", ops.T)  # type: ignore[arg-type]


def backward(ops: Operands, loss: str | None, wrt: tuple[str, ...], out: OutputChoice) -> None:
    """dL/db (and dL/dW, dL/dX) for G = ∂L/∂f."""
    if ops.W is None and wrt == ("b", "W", "X"):
        wrt = ("b",)
    grads = core.backward(ops.X, ops.b, upstream(ops, loss), ops.W, wrt=wrt)  # type: ignore[arg-type]
    results = gradient_results(grads)
    emit(results, out, lambda console: views().backward(console, grads, results, out.precision))


def gradient_results(grads: core.Gradients) -> dict[str, np.ndarray]:
    """The computed gradients keyed db, dW, dX, in that order."""
    found = {"db": grads.db, "dW": grads.dW, "dX": grads.dX}
    return {name: value for name, value in found.items() if value is not None}


# ---- jacobian -----------------------------------------------------------------------------------------------


class JacobianRequest(NamedTuple):
    wrt: str
    block: int | None
    dense: bool
    limit: int


def _operand(ops: Operands, wrt: str) -> np.ndarray:
    value = {"b": ops.b, "W": ops.W, "X": ops.X}[wrt]
    if value is None:
        raise InputError(f"--wrt {wrt} needs the operand -{wrt}", hint=f"give -{wrt}, or use --wrt b")
    return value


def matrix_view(tensor: np.ndarray, f_shape: tuple[int, ...], operand_shape: tuple[int, ...]) -> np.ndarray:
    """A Jacobian tensor (f.shape + operand.shape) as the matrix ∂vec f/∂vec operand, vec stacking columns."""
    rows, cols = int(np.prod(f_shape)), int(np.prod(operand_shape))
    lead = tensor.ndim - len(operand_shape)
    f_part = tuple(range(lead - 1, -1, -1))
    op_part = tuple(range(tensor.ndim - 1, lead - 1, -1))
    return np.ascontiguousarray(tensor.transpose(f_part + op_part)).reshape(rows, cols)


def jacobian(ops: Operands, request: JacobianRequest, out: OutputChoice) -> None:
    """The Jacobian of f with respect to b, W or X: structured, one block, or dense.

    Data formats get the tensor (f.shape + θ.shape, one block: its slice of it); csv and tsv, which hold only
    matrices, get the matrix ∂vec f/∂vec θ (one block: its rows of it)."""
    _operand(ops, request.wrt)
    wrt = request.wrt
    structure = core.jacobian_structure(ops.X, ops.b, ops.W, wrt=wrt)  # type: ignore[arg-type]
    fmt = output_format(out)
    if request.dense:
        tensor = core.dense_jacobian(ops.X, ops.b, ops.W, wrt=wrt, limit=request.limit)  # type: ignore[arg-type]
        matrix = matrix_view(tensor, structure.f_shape, structure.operand_shape)

        def show(console: Console) -> None:
            views().dense(console, structure, matrix, out.precision)

    elif request.block is not None:
        k = request.block
        tensor = core.jacobian_block(ops.X, ops.b, ops.W, wrt=wrt, k=k)  # type: ignore[arg-type]
        matrix = block_matrix(tensor, structure)

        def show(console: Console) -> None:
            views().block(console, structure, k, matrix, out.precision)

    elif fmt == "table":
        views().jacobian_blocks(views().console(), ops, structure, out.precision)
        return
    elif fmt == "json":
        write_text(_json(structure_record(structure)), out.output)
        return
    else:
        raise InputError(
            f"the structured Jacobian has no {fmt} form",
            hint="use --format json for its description, --block K for one block, or --dense for all of it",
        )
    emit({"J": matrix if fmt in ("csv", "tsv") else tensor}, out, show, fmt)


def structure_record(structure: core.JacobianStructure) -> dict[str, Any]:
    """The structured Jacobian as plain data (for --format json)."""
    return {
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


def _json(record: object) -> str:
    import json

    return json.dumps(record, ensure_ascii=False, indent=2) + "\n"


def block_matrix(blk: np.ndarray, structure: core.JacobianStructure) -> np.ndarray:
    """One block as a matrix: rows the f entries it covers, columns the operand's entries (both column-stacked)."""
    op_shape = structure.operand_shape
    f_part = blk.shape[: blk.ndim - len(op_shape)]
    return matrix_view(blk, f_part, op_shape)


# ---- check --------------------------------------------------------------------------------------------------

CHECK_FIELDS = ("operand", "n_checked", "method", "max_abs_error", "max_rel_error", "tolerance", "bound", "passed")


def check(ops: Operands, out: OutputChoice) -> bool:
    """Finite differences against the analytic gradients; True when every operand passes."""
    report = core.gradient_check(ops.X, ops.b, ops.W, ops.G)
    fmt = output_format(out)
    if fmt == "table":
        views().check(views().console(), report, out.precision)
    elif fmt == "json":
        rows = [{field: _plain(getattr(r, field)) for field in CHECK_FIELDS} for r in report.results]
        write_text(_json({"passed": report.passed, "results": rows}), out.output)
    elif fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        lines = [sep.join(CHECK_FIELDS)]
        lines += [sep.join(_field_text(getattr(r, field)) for field in CHECK_FIELDS) for r in report.results]
        write_text("\n".join(lines) + "\n", out.output)
    else:
        raise InputError(f"check results have no {fmt} form", hint="use table, csv, tsv or json")
    return report.passed


def _plain(value: object) -> object:
    return float(value) if isinstance(value, np.floating) else value


def _field_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return format_number(float(value))
    return str(value)


# ---- explain ------------------------------------------------------------------------------------------------


class Step(NamedTuple):
    """One step of the derivation: a title, the formula, the arrays that make it concrete, and, where they are
    small enough, the same formula written out with those arrays."""

    title: str
    formula: str
    arrays: dict[str, np.ndarray]
    note: str = ""
    equation: tuple[str | np.ndarray, ...] = ()


def _bias_kind(reduction: core.Reduction, ndim: int) -> str:
    """Which story the bias tells: column, row, scalar or same (on a 2-D f), else nd."""
    if ndim == 2 and not reduction.dropped_axes:
        return {(1,): "column", (0,): "row", (0, 1): "scalar", (): "same"}.get(reduction.kept_axes, "nd")
    if ndim == 2 and reduction.summed_axes == (0, 1):
        return "scalar"
    return "same" if not reduction.summed_axes else "nd"


BUILD = {
    "column": "B = b·1ᵀ  (b repeated as columns)",
    "row": "B = 1·b  (b repeated as rows)",
    "scalar": "B = b·1·1ᵀ  (b everywhere)",
    "same": "B = b  (nothing to broadcast)",
}
REDUCE = {
    "column": "dL/db = G·1  (the row sums of G)",
    "row": "dL/db = 1ᵀ·G  (the column sums of G)",
    "scalar": "dL/db = 1ᵀ·G·1  (the sum of all of G)",
    "same": "dL/db = G",
}


def explain_steps(ops: Operands) -> list[Step]:
    """The derivation of dL/db with these operands' own numbers."""
    result = core.forward(ops.X, ops.b, ops.W)
    f = result.f
    G = ops.G if ops.G is not None else core.upstream_gradient(f, "sum")
    grads = core.backward(ops.X, ops.b, G, ops.W, wrt=("b",))
    assert grads.db is not None
    db, reduction = grads.db, grads.reductions["b"]
    B = np.ascontiguousarray(core.expand_bias(ops.b, f.shape))
    structure = core.jacobian_structure(ops.X, ops.b, ops.W, wrt="b")
    kind = _bias_kind(reduction, f.ndim)
    axes = ", ".join(str(a) for a in reduction.summed_axes)
    build = BUILD.get(kind, f"B = b repeated along axes {axes}")
    reduce = REDUCE.get(kind, f"dL/db = G summed over axes {axes}, in b's shape")
    product = "W·X" if ops.W is not None else "X"
    wx = core.forward(ops.X, np.zeros(()), ops.W).f
    b = np.asarray(ops.b)
    m, n = (f.shape[0], f.shape[1]) if f.ndim == 2 else (1, 1)
    build_eq: dict[str, tuple[str | np.ndarray, ...]] = {
        "column": ("B = b·1ᵀ = ", core.align_bias(b, f.shape), " · ", np.ones((1, n)), " = ", B),
        "row": ("B = 1·b = ", np.ones((m, 1)), " · ", b, " = ", B),
        "scalar": ("B = b·1·1ᵀ = ", B),
        "same": ("B = b = ", B),
    }
    reduce_eq: dict[str, tuple[str | np.ndarray, ...]] = {
        "column": ("dL/db = G·1 = ", G, " · ", np.ones((n, 1)), " = ", db),
        "row": ("dL/db = 1ᵀ·G = ", np.ones((1, m)), " · ", G, " = ", db),
        "scalar": ("dL/db = 1ᵀ·G·1 = ", db),
        "same": ("dL/db = G = ", db),
    }
    sum_eq: tuple[str | np.ndarray, ...] = (
        (f"f = {product} + B = ", ops.W, " · ", ops.X, " + ", B, " = ", f) if ops.W is not None
        else ("f = X + B = ", ops.X, " + ", B, " = ", f)
    )
    jacobian_eq: tuple[str | np.ndarray, ...] = ()
    if structure.size <= INLINE_JACOBIAN:
        dense = core.dense_jacobian(ops.X, ops.b, ops.W, wrt="b")
        jacobian_eq = (structure.kron + " = ", matrix_view(dense, structure.f_shape, structure.operand_shape))
    g_note = "G = ∂L/∂f = 1 for L = Σ f (give -G for your own). " if ops.G is None else ""
    return [
        Step("Broadcasting is a matrix product in disguise", build, {"b": b, "B": B},
             result.broadcast.describe(), build_eq.get(kind, ())),
        Step("So the map is an ordinary sum", f"f = {product} + B", {product: np.asarray(wx), "f": f}, "", sum_eq),
        Step("The Jacobian is made of identity blocks", structure.kron, {},
             structure.describe() + "  (∂f_ik/∂b_j = δ_ij)", jacobian_eq),
        Step("The gradient sums G over the broadcast axis", reduce, {"G": np.asarray(G), "dL/db": db},
             g_note + reduction.describe(), reduce_eq.get(kind, ())),
    ]


def explain(ops: Operands, out: OutputChoice) -> None:
    steps = explain_steps(ops)
    fmt = output_format(out)
    if fmt == "table":
        views().explain(views().console(), steps, out.precision)
    elif fmt == "json":
        record = [
            {
                "title": s.title,
                "formula": s.formula,
                "note": s.note,
                "arrays": {name: _nested(a) for name, a in s.arrays.items()},
            }
            for s in steps
        ]
        write_text(_json({"steps": record}), out.output)
    else:
        raise InputError(f"explain has no {fmt} form", hint="use a terminal (table) or --format json")


def _nested(a: np.ndarray) -> object:
    """An array as nested lists of Python floats (json writes their shortest round-trip form)."""
    return np.asarray(a, dtype=float).tolist()


# ---- demo ---------------------------------------------------------------------------------------------------


def demo(precision: int) -> None:
    """The seed example from the design notes: forward, Jacobian blocks, reduced bias gradient."""
    views().demo(Operands(X=SEED_X, b=SEED_B, W=SEED_W), precision)
