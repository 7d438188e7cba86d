"""What a person sees: each command's result drawn with Rich, on a terminal or as plain text for a pipe or a file.

Views receive what the commands computed and only draw it; they never compute results or call back into commands.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.columns import Columns
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ... import core
from . import render
from .derivation import Step

if TYPE_CHECKING:
    from ...core.gradcheck import CheckReport, CheckResult
    from ...core.jacobian import JacobianStructure
    from ..model import Blocks, Loaded, Spy

Draw = Callable[[Console], None]


def console() -> Console:
    """The console tables are drawn on (stdout)."""
    return render.make_console()


def plain_text(draw: Draw) -> str:
    """What draw shows on a terminal, as plain text without colour (for a pipe or a file); $COLUMNS wide, else 100."""
    from ..env import current

    width = current().width
    buffer = io.StringIO()
    plain = Console(file=buffer, width=width, no_color=True, color_system=None, force_terminal=False,
                    highlight=False, soft_wrap=False, emoji=False)
    draw(plain)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def forward(console: Console, loaded: Loaded, f: np.ndarray, precision: int) -> None:
    """f as a table, then how each broadcast operand was stretched."""
    console.print(Text(loaded.heading, style="bold"))
    console.print(render.array_view(f, "f", precision=precision, width=console.width))
    for item in loaded.problem.broadcasts():
        console.print(Text(item.describe(), style="dim"))


def jvp(console: Console, loaded: Loaded, f: np.ndarray | None, df: np.ndarray, along: tuple[str, ...],
        precision: int) -> None:
    """f (when asked for), then its tangent df = J·v along the operands named."""
    console.print(Text(loaded.heading, style="bold"))
    if f is not None:
        console.print(render.array_view(f, "f", precision=precision, width=console.width))
    console.print(render.array_view(df, "df", precision=precision, width=console.width))
    still = [name for name in loaded.problem.expression.operands if name not in along]
    moved = f"along the tangent of {', '.join(along)}" if along else "along no tangent"
    console.print(Text(f"df = J·v, {moved}" + (f" (0 for {', '.join(still)})" if still else ""), style="dim"))


def backward(console: Console, grads: core.Gradients, precision: int) -> None:
    """Each gradient as a table, then how it was reduced."""
    for name, value in grads.grads.items():
        console.print(render.array_view(value, f"dL/d{name}", precision=precision, width=console.width))
        console.print(Text(grads.describe(name), style="dim"))


def block_label(structure: JacobianStructure, k: int) -> str:
    """Block k named by the slice of f it differentiates: ∂f[:,1]/∂b, ∂f[0,:,2,3]/∂b, ∂f[:,0]/∂W."""
    sizes = [structure.f_shape[axis] for axis in structure.block_axes]
    position = dict(zip(structure.block_axes, np.unravel_index(k, sizes), strict=True)) if sizes else {}
    index = ",".join(str(position[axis]) if axis in position else ":" for axis in range(len(structure.f_shape)))
    return f"∂f[{index}]/∂{structure.wrt}" if structure.f_shape else f"∂f/∂{structure.wrt}"


def block(console: Console, structure: JacobianStructure, k: int, matrix: np.ndarray, precision: int) -> None:
    """One block as the matrix ∂f[slice]/∂vec θ."""
    console.print(Text(structure.describe(), style="dim"))
    console.print(render.array_view(matrix, block_label(structure, k), precision=precision, width=console.width))


def dense(console: Console, structure: JacobianStructure, flat: np.ndarray, precision: int) -> None:
    """The whole Jacobian as the matrix ∂vec f/∂vec θ."""
    if structure.kron:
        console.print(Text(structure.kron, style="bold"))
    title = f"∂vec f/∂vec {structure.wrt}" if len(structure.operand_shape) >= 2 else f"∂vec f/∂{structure.wrt}"
    console.print(render.array_view(flat, title, precision=precision, width=console.width))


def jacobian_blocks(console: Console, structure: JacobianStructure, blocks: Blocks, picture: Spy | None,
                    precision: int) -> None:
    """The structure in words and Kronecker form, the first blocks as matrices, and the spy plot."""
    width = console.width
    console.print(Text(f"Jacobian of f with respect to {structure.wrt}", style="bold"))
    console.print(Text(structure.describe()))
    if structure.kron:
        console.print(Text(structure.kron, style="bold cyan"))
    elif blocks.matrices:
        shown = len(blocks.matrices)
        what = f", {blocks.traits}" if blocks.traits else ""
        console.print(Text(f"no closed form from the rules: the first {shown} computed from VJPs{what}", style="dim"))
    if blocks.skipped:
        console.print(Text(f"(blocks not printed: {blocks.skipped})", style="dim"))
    matrices = blocks.matrices
    side_by_side = bool(matrices) and matrices[0].shape[1] * len(matrices) <= 24
    block_width = width // max(len(matrices), 1) - 4 if side_by_side else width
    drawn = [render.array_view(blk, block_label(structure, k), precision=precision, width=block_width)
             for k, blk in enumerate(matrices)]
    console.print(Columns(drawn, padding=(0, 4)) if side_by_side else Group(*drawn))
    if matrices and structure.n_blocks > len(matrices):
        console.print(Text(f"… and {structure.n_blocks - len(matrices)} more (--block K shows one)", style="dim"))
    spy(console, picture)


def spy(console: Console, picture: Spy | None) -> None:
    """The sparsity pattern of ∂vec f/∂vec θ, as the commands computed it: a title, then one character a cell."""
    if picture is None:
        return
    console.print(Text(picture.title, style="dim"))
    if picture.grid is not None:
        console.print(render.spy_text(picture.grid))


CHECK_WIDE = 72  # columns: below this, check's table leaves out "checked" and the relative error
VERDICTS = {"pass": ("✓ pass", "green"), "fail": ("✗ FAIL", "bold red"), "cannot check": ("? cannot check", "yellow")}


def check(console: Console, report: CheckReport, precision: int, loss: str = "") -> None:
    """The gradient check of L (`loss` says which) as a table with a verdict per operand, and the reason of any
    verdict but pass."""
    from rich import box

    title = ("gradient check: analytic VJP vs central finite differences\n" + (f"{loss}\n" if loss else "") +
             "(bound = tolerance·|gradient| + rounding of L/step + truncation)")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    wide = console.width >= CHECK_WIDE  # narrower: the columns a verdict needs, so no number is split
    table.add_column("operand", no_wrap=True)
    if wide:
        table.add_column("checked")
    for heading in ("max abs err", "bound", "max rel err") if wide else ("max abs err", "bound"):
        table.add_column(heading, justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for r in report.results:
        text, style = VERDICTS[r.verdict]
        errors = [render.number_text(r.max_abs_error, precision), render.number_text(r.bound, precision)]
        cells = [_checked(r), *errors, render.number_text(r.max_rel_error, precision)] if wide else errors
        table.add_row(f"d{r.operand}", *cells, Text(text, style=style))
    console.print(table)
    for r in report.results:
        if r.reason:
            console.print(Text(f"d{r.operand}: {r.verdict}: {r.reason}", style="dim"))


def _checked(result: CheckResult) -> str:
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
            views = [render.array_view(np.asarray(a), name, precision=precision, width=_view_width(a, width, precision))
                     for name, a in step.arrays.items()]
            parts.append(Columns(views, padding=(0, 4)))
        if step.note:
            parts.append(Text(step.note, style="dim"))
        console.print(Panel(Group(*parts), title=Text(f"{number}. {step.title}"), title_align="left"))


def _view_width(a: Any, width: int, precision: int) -> int:
    """Half the terminal, so two tables sit side by side, unless that hides columns the panel's inside would show."""
    half, inside = max(width // 2, 20), max(width - 4, 20)
    return half if render.shows_every_column(np.asarray(a), precision, half) else inside


def _drawable(equation: tuple[str | np.ndarray, ...]) -> bool:
    arrays = [p for p in equation if isinstance(p, np.ndarray)]
    return bool(arrays) and all(render.drawable(np.asarray(a)) for a in arrays)


def demo(console: Console, loaded: Loaded, f: np.ndarray, structure: JacobianStructure, blocks: Blocks,
         picture: Spy | None, grads: core.Gradients, precision: int) -> None:
    """The seed example from the design notes: forward, Jacobian blocks, reduced bias gradient."""
    console.rule("wxb demo: W = I, X = [[1,2],[3,4]], b = [5;6] (a column)")
    forward(console, loaded, f, precision)
    console.rule("Jacobian blocks")
    jacobian_blocks(console, structure, blocks, picture, precision)
    console.rule("Backward pass, L = Σ f so G = 1")
    backward(console, grads, precision)


# ---- hessian ----

def hessian_vector(console: Console, products: dict[str, np.ndarray], precision: int) -> None:
    """Each (H·v)_θ as a table, of θ's shape."""
    for name, value in products.items():
        console.print(render.array_view(value, f"(H·v) for {name}", precision=precision, width=console.width))


def hessian(console: Console, c: Any, structures: dict[tuple[str, str], tuple[str, str | None, bool]],
            flat: np.ndarray | None, labels: list[str], precision: int) -> None:
    """Each block's action on V and its Kronecker form (vec form, as jacobian writes it), then H as its
    (size × size) matrix in C order, rows labelled, or the line that says it is not formed."""
    console.print(Text(f"Hessian of L = {c.loss} with respect to {', '.join(c.wrt)}", style="bold"))
    for (a, b), (formula, kron, constant) in structures.items():
        wrt = f"∂{a}²" if a == b else f"∂{a}∂{b}"
        held = f"   (constant: it does not depend on {', '.join(c.wrt)})" if constant else ""
        console.print(Text(f"∂²L/{wrt} · V = {formula}{held}"))
        if kron is not None:
            vec = "vec " if len(c.shape(a)) >= 2 else ""
            console.print(Text(f"∂²L/∂{vec}{a}² = {kron}", style="bold cyan"))
    if flat is None:
        n = len(labels)
        console.print(Text(f"H ({n:,} × {n:,}) is too large to form here: --vector NAME=SOURCE gives H·v, --eig "
                           "its extreme eigenvalues", style="dim"))
        return
    title = f"H ({flat.shape[0]} × {flat.shape[1]}, entries in C order)"
    console.print(Text(title, style="bold"))
    console.print(render.matrix_table(flat, precision=precision, width=console.width, labels=labels))


def curvature(console: Console, spectrum: Any, precision: int) -> None:
    """The extreme eigenvalues of H, its definiteness at this point and its condition number."""
    number = render.number_text
    console.print(Text(f"curvature of L ({spectrum.size} parameters; {spectrum.method})", style="bold"))
    console.print(Text(f"smallest eigenvalue  {number(spectrum.smallest, precision)}"))
    console.print(Text(f"largest eigenvalue   {number(spectrum.largest, precision)}"))
    console.print(Text(f"{spectrum.definiteness}: {spectrum.meaning}", style="bold cyan"))
    condition = spectrum.condition
    console.print(Text("condition number     " + ("unknown: H is indefinite, and Lanczos finds only its extremes"
                                                  if condition is None else "inf: H is singular at this point"
                                                  if condition == math.inf else number(condition, precision))))
