"""What a person sees at a terminal: each command's result drawn with Rich (imported only for `table` output)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from rich.columns import Columns
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from wxb import core
from wxb.cli import render
from wxb.cli.commands import (
    PREVIEW_BLOCKS,
    Operands,
    Step,
    block_matrix,
    gradient_results,
)

SPY_HEIGHT, SPY_WIDTH = 16, 48


def console() -> Console:
    """The console tables are drawn on (stdout)."""
    return render.make_console()


def forward(console: Console, result: core.Forward, precision: int) -> None:
    """f as a table, then how b was broadcast."""
    console.print(Text("f = W·X ⊕ b", style="bold"))
    console.print(render.array_view(result.f, "f", precision=precision, width=console.width))
    console.print(Text(result.broadcast.describe(), style="dim"))


def backward(console: Console, grads: core.Gradients, results: Mapping[str, np.ndarray], precision: int) -> None:
    """Each gradient as a table, then how it was reduced."""
    for name, value in results.items():
        operand = name[1:]
        console.print(render.array_view(value, f"dL/d{operand}", precision=precision, width=console.width))
        console.print(Text(grads.reductions[operand].describe(), style="dim"))


def block_label(structure: core.JacobianStructure, k: int) -> str:
    """Block k named by the slice of f it differentiates: ∂f[:,1]/∂b, ∂f[0,:,2,3]/∂b, ∂f[:,0]/∂W."""
    sizes = [structure.f_shape[axis] for axis in structure.block_axes]
    position = dict(zip(structure.block_axes, np.unravel_index(k, sizes), strict=True)) if sizes else {}
    index = ",".join(str(position[axis]) if axis in position else ":" for axis in range(len(structure.f_shape)))
    return f"∂f[{index}]/∂{structure.wrt}"


def block(console: Console, structure: core.JacobianStructure, k: int, matrix: np.ndarray, precision: int) -> None:
    """One block as the matrix ∂f[slice]/∂vec θ."""
    console.print(Text(structure.describe(), style="dim"))
    console.print(render.array_view(matrix, block_label(structure, k), precision=precision, width=console.width))


def dense(console: Console, structure: core.JacobianStructure, flat: np.ndarray, precision: int) -> None:
    """The whole Jacobian as the matrix ∂vec f/∂vec θ."""
    console.print(Text(structure.kron, style="bold"))
    title = f"∂vec f/∂vec {structure.wrt}" if structure.wrt != "b" else "∂vec f/∂b"
    console.print(render.array_view(flat, title, precision=precision, width=console.width))


def jacobian_blocks(console: Console, ops: Operands, structure: core.JacobianStructure, precision: int) -> None:
    """The structure in words and Kronecker form, the first blocks as matrices, and the spy plot."""
    width = console.width
    console.print(Text(f"Jacobian of f with respect to {structure.wrt}", style="bold"))
    console.print(structure.describe())
    console.print(Text(structure.kron, style="bold cyan"))
    shown = min(structure.n_blocks, PREVIEW_BLOCKS)
    try:
        blocks = [block_matrix(core.jacobian_block(ops.X, ops.b, ops.W, wrt=structure.wrt, k=k),  # type: ignore[arg-type]
                               structure) for k in range(shown)]
    except core.TooLargeError as exc:
        console.print(Text(f"(blocks not printed: {exc})", style="dim"))
        blocks = []
    side_by_side = bool(blocks) and blocks[0].shape[1] * len(blocks) <= 24
    block_width = width // len(blocks) - 4 if side_by_side else width
    views = [render.array_view(blk, block_label(structure, k), precision=precision, width=block_width)
             for k, blk in enumerate(blocks)]
    console.print(Columns(views, padding=(0, 4)) if side_by_side else Group(*views))
    if blocks and structure.n_blocks > PREVIEW_BLOCKS:
        console.print(
            Text(f"… and {structure.n_blocks - PREVIEW_BLOCKS} more (--block K shows one)", style="dim")
        )
    spy(console, ops, structure)


def spy(console: Console, ops: Operands, structure: core.JacobianStructure) -> None:
    """The sparsity pattern of ∂vec f/∂vec operand, one character per cell, sampled when too big."""
    rows, cols = int(np.prod(structure.f_shape)), int(np.prod(structure.operand_shape))
    if rows == 0 or cols == 0:
        console.print(Text("(the Jacobian is empty: nothing to draw)", style="dim"))
        return

    def entries(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        f_index = np.unravel_index(
            np.broadcast_to(r, np.broadcast_shapes(r.shape, c.shape)), structure.f_shape, order="F"
        )
        op_index = np.unravel_index(
            np.broadcast_to(c, np.broadcast_shapes(r.shape, c.shape)), structure.operand_shape, order="F"
        )
        return core.jacobian_entries(
            ops.X,
            ops.b,
            ops.W,
            wrt=structure.wrt,  # type: ignore[arg-type]
            f_index=tuple(f_index),
            operand_index=tuple(op_index),
        )

    window = rows
    if structure.n_blocks > PREVIEW_BLOCKS:
        window = min(rows, PREVIEW_BLOCKS * max(rows // structure.n_blocks, 1))
    height = min(SPY_HEIGHT, window)
    width = min(SPY_WIDTH, cols, max(console.width - 4, 8))
    grid, sampled = render.spy_grid(window, cols, entries, height=height, width=width)
    cell_rows, cell_cols = -(-window // height), -(-cols // width)
    scale = "one entry per cell" if cell_rows == 1 and cell_cols == 1 else f"each cell {cell_rows}×{cell_cols} entries"
    part = f"rows 0…{window - 1} of " if window < rows else ""
    how = ", sampled at random" if sampled else ""
    name = f"∂vec f/∂{'' if structure.wrt == 'b' else 'vec '}{structure.wrt}"
    title = f"sparsity of {part}{name} ({rows}×{cols}): {scale}{how}"
    console.print(Text(title, style="dim"))
    console.print(render.spy_text(grid))


def check(console: Console, report: core.CheckReport, precision: int) -> None:
    """The gradient check as a table with a verdict per operand."""
    from rich import box

    tolerance = report.results[0].tolerance if report.results else 0.0
    title = (f"gradient check: analytic VJP vs central finite differences\n"
             f"(passes when max abs err ≤ bound = {tolerance:g} · max(1, largest gradient))")
    table = Table(title=title, title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("operand", no_wrap=True)
    table.add_column("checked")
    for heading in ("max abs err", "bound", "max rel err"):
        table.add_column(heading, justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for r in report.results:
        verdict = Text("✓ pass", style="green") if r.passed else Text("✗ FAIL", style="bold red")
        table.add_row(
            f"d{r.operand}",
            _checked(r),
            f"{r.max_abs_error:.{precision}g}",
            f"{r.bound:.{precision}g}",
            f"{r.max_rel_error:.{precision}g}",
            verdict,
        )
    console.print(table)


def _checked(result: core.CheckResult) -> str:
    """What the check compared: every entry of the gradient, or random directional derivatives."""
    if result.method != "every entry":
        return result.method
    return "its one entry" if result.n_checked == 1 else f"all {result.n_checked} entries"


def explain(console: Console, steps: list[Step], precision: int) -> None:
    """Each step of the derivation in a panel: the equation with these numbers, or its formula and tables."""
    from rich.panel import Panel

    width = console.width
    for number, step in enumerate(steps, start=1):
        drawn = render.equation(step.equation, precision) if _drawable(step.equation) else None
        parts: list[Any] = [Text(step.formula, style="bold")]
        if drawn is not None and max(map(len, drawn.plain.splitlines())) <= width - 4:
            parts = [drawn]
        elif step.arrays:
            views = [render.array_view(np.asarray(a), name, precision=precision, width=width // 2)
                     for name, a in step.arrays.items()]
            parts.append(Columns(views, padding=(0, 4)))
        if step.note:
            parts.append(Text(step.note, style="dim"))
        console.print(Panel(Group(*parts), title=f"{number}. {step.title}", title_align="left"))


def _drawable(equation: tuple[str | np.ndarray, ...]) -> bool:
    arrays = [p for p in equation if isinstance(p, np.ndarray)]
    return bool(arrays) and all(render.drawable(a) for a in arrays)


def demo(ops: Operands, precision: int) -> None:
    """The seed example from the design notes: forward, Jacobian blocks, reduced bias gradient."""
    console = render.make_console()
    console.rule("wxb demo: W = I, X = [[1,2],[3,4]], b = [5;6] (a column)")
    result = core.forward(ops.X, ops.b, ops.W)
    forward(console, result, precision)
    console.rule("Jacobian blocks")
    jacobian_blocks(console, ops, core.jacobian_structure(ops.X, ops.b, ops.W, wrt="b"), precision)
    console.rule("Backward pass, L = Σ f so G = 1")
    grads = core.backward(ops.X, ops.b, core.upstream_gradient(result.f, "sum"), ops.W, wrt=("b",))
    backward(console, grads, gradient_results(grads), precision)
