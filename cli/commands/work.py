"""The work behind each wxb command: bind the operands into one checked problem, call wxb.core, then write data or
hand a view what to draw.

Data flows one way: command → operands (read once, checked once into a core.Problem: wxb.cli.binding) → core →
results → a view (wxb.cli.views, imported only for terminals and text) or a writer (wxb.cli.output), chosen in
wxb.cli.present. Views never call back here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from ... import core
from ...core.losses import loss_name, loss_row
from ..errors import InputError
from ..model import Blocks, JacobianRequest, Loaded, OutputChoice, Sources
from ..show.previews import preview_blocks, sparsity
from ..write import records
from ..write.output import write_text
from .binding import load
from .present import computed, descriptive_format, emit, output_format, show, views
from .upstream import check_upstream, checked_wrt, jacobian_wrt, refuse_target, upstream, wrt_list, wrt_names

Array = np.ndarray[Any, np.dtype[Any]]

__all__ = ["JacobianRequest", "OutputChoice", "Sources", "backward", "check", "demo", "explain", "forward",
           "jacobian", "load"]

SEED = {"W": np.eye(2), "X": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0, 6.0])}


# ---- The memory plan's fast path ----

SMALL = 64 << 20  # bytes: eight times every value of a command under this fits on any machine


def small(loaded: Loaded, chunk: str | None = None) -> bool:
    """True when a command is so small that it fits anywhere: then the memory plan (cli.chunked) is not even
    imported, which keeps start-up as it was. Never with --chunk or a WXB_MEMORY cap."""
    from ..env import current

    problem = loaded.problem
    values = sum(math.prod(shape) for shape in problem.shapes.values()) * problem.dtype.itemsize
    return chunk is None and current().memory_cap is None and 8 * values < SMALL


# ---- forward ----

def forward(loaded: Loaded, out: OutputChoice, chunk: str | None = None) -> None:
    """f, the expression's value: whole, or block by block when it does not fit or --chunk asks (cli.chunked)."""
    refuse_target(loaded, "forward")
    refuse_chunk_on_dask(loaded, chunk)
    if loaded.problem.lazy:
        results = computed({"f": loaded.problem.forward()}, out, loaded.problem)
        if results is not None:
            f = results["f"]
            emit(results, out, lambda console: views().forward(console, loaded, f, out.precision), warned=True)
        return
    if not small(loaded, chunk):
        from ..run import chunked

        fmt = output_format(out)
        decision = chunked.decide(loaded, None, chunked.chunk_option(chunk), fmt)
        if decision.plan is not None:
            def shown(results: dict[str, Array]) -> None:
                f = results["f"]
                emit(results, out, lambda console: views().forward(console, loaded, f, out.precision),
                     problem=loaded.problem)

            chunked.forward(loaded, decision, out, fmt, shown)
            return
    f = loaded.problem.forward()
    emit({"f": f}, out, lambda console: views().forward(console, loaded, f, out.precision), problem=loaded.problem)


# ---- backward ----

def backward(loaded: Loaded, loss: str | None, wrt: str | None, out: OutputChoice, chunk: str | None = None) -> None:
    """dL/dθ for each operand asked for, from G = ∂L/∂f (-G, or the loss's G from f in the same forward pass);
    block by block when it does not fit or --chunk asks (cli.chunked)."""
    names, record = wrt_names(loaded, wrt)
    check_upstream(loaded, loss)
    problem = loaded.problem
    refuse_chunk_on_dask(loaded, chunk)
    if problem.lazy:
        lazy_backward(loaded, loss, names, record, out)
        return
    if not small(loaded, chunk):
        from ..run import chunked

        fmt = output_format(out)
        decision = chunked.decide(loaded, names, chunked.chunk_option(chunk), fmt, loss)
        if decision.plan is not None:
            def shown(grads: core.Gradients, results: dict[str, Array]) -> None:
                if results:
                    whole = replace(grads, grads={key[1:]: value for key, value in results.items()})
                    emit(results, out, lambda console: views().backward(console, whole, out.precision),
                         record=record, problem=loaded.problem, upstream=upstream_given(loaded, loss))

            chunked.backward(loaded, decision, names, loss, out, fmt, shown)
            return
    grads = gradients(loaded, loss, names)
    results = grads.keyed()
    emit(results, out, lambda console: views().backward(console, grads, out.precision), record=record,
         problem=loaded.problem, upstream=upstream_given(loaded, loss))


def upstream_given(loaded: Loaded, loss: str | None) -> dict[str, Any]:
    """The upstream input a NaN or an infinity in a gradient may come from: -G when it is used, else -T."""
    return {"G": loaded.G} if loaded.starts_from_G(loss) else {"T": loaded.target}


def gradients(loaded: Loaded, loss: str | None, names: tuple[str, ...]) -> core.Gradients:
    """The backward pass from -G (a bundled G gives way to --loss), 1 for a scalar f, or the loss's G from f."""
    problem = loaded.problem
    if loaded.starts_from_G(loss):
        return problem.backward(problem.upstream(loaded.G), names)
    if problem.f_shape == () and loss is None:
        return problem.backward(None, names)
    return problem.backward(None, names, loss=loss_name(loss), target=loaded.target)


def refuse_chunk_on_dask(loaded: Loaded, chunk: str | None) -> None:
    """--chunk streams blocks through this process; --dask and --scheduler hand the blocks to Dask: one of them."""
    if loaded.problem.lazy and chunk is not None:
        raise InputError("give --chunk or --dask (--scheduler), not both", operand="--chunk",
                         hint="--chunk streams the blocks here; Dask chooses and runs its own blocks")


def lazy_backward(loaded: Loaded, loss: str | None, names: tuple[str, ...], record: bool, out: OutputChoice) -> None:
    """backward on Dask operands: the gradients as one graph, computed at once, or written by its tasks to -o."""
    problem = loaded.problem
    grads = gradients(loaded, loss, names)
    found = computed(grads.keyed(), out, problem, record)
    if found is None:
        return
    whole = replace(grads, grads={name: found[f"d{name}"] for name in grads.grads})
    emit(found, out, lambda console: views().backward(console, whole, out.precision), record=record, warned=True)


# ---- jacobian ----

def jacobian(loaded: Loaded, request: JacobianRequest, out: OutputChoice) -> None:
    """The Jacobian of f with respect to one operand: its structure, one block, or all of it (dense).

    Data formats get the tensor (f.shape + θ.shape; one block: its slice of it); csv and tsv, which hold only
    matrices, get the matrix ∂vec f/∂vec θ (one block: its rows of it)."""
    from ...core import jacobian as jac

    problem = loaded.problem
    if request.dense and request.block is not None:
        raise InputError("give --block K or --dense, not both", hint="--block K is one block, --dense all of them")
    refuse_target(loaded, "jacobian")
    wrt = jacobian_wrt(loaded, request.wrt)
    memo: jac.Memo = {}  # values the structure, blocks and spy plot share
    structure = jac.structure(problem, wrt, memo=memo)
    if not request.dense and request.block is None:
        fmt = descriptive_format(out, ("json",), "the structure is text or json; use --block K for one block or "
                                 "--dense for all of it as data")
        if fmt == "json":  # the record needs blocks only to say what they show, where there is no closed form
            blocks = Blocks([], "", "", 0) if structure.kron else preview_blocks(problem, structure, memo=memo)
            write_text(records.json_text(records.structure_record(structure, blocks)), out.output)
            return
        blocks = preview_blocks(problem, structure, memo=memo)
        show(fmt, out, lambda console: views().jacobian_blocks(
            console, structure, blocks, sparsity(problem, structure, blocks, console.width, memo), out.precision))
        return
    fmt = output_format(out)
    if request.dense:
        tensor = jac.dense(problem, wrt, limit=request.limit, memo=memo)
        matrix = jac.matrix_view(tensor, structure.f_shape, structure.operand_shape)

        def draw(console: Any) -> None:
            views().dense(console, structure, matrix, out.precision)
    else:
        k = request.block
        assert k is not None
        tensor = jac.block(problem, wrt, k, memo=memo)
        matrix = jac.matrix_view(tensor, tensor.shape[: tensor.ndim - len(structure.operand_shape)],
                                 structure.operand_shape)

        def draw(console: Any) -> None:
            views().block(console, structure, k, matrix, out.precision)

    emit({"J": matrix if fmt in ("csv", "tsv") else tensor}, out, draw)


# ---- check ----

def checked_loss(loaded: Loaded, loss: str | None) -> tuple[Array, str]:
    """G for the check and which L it checks: Σ G ⊙ f for -G, else the loss (default sum), mse against -T."""
    G, _ = upstream(loaded, loss)
    if loaded.starts_from_G(loss):
        assert G is not None
        return G, "L = Σ G ⊙ f, for the G given"
    if G is not None:
        return G, "L = f, a scalar, so G = 1"
    problem = loaded.problem
    G = core.upstream_gradient(problem.forward(), loss, loaded.target).astype(problem.dtype, copy=False)
    fixed = "; checked as Σ G ⊙ f with G held at its value here, which has the same gradient" if loss == "mse" else ""
    return G, loss_row(loss).text + fixed


def check(loaded: Loaded, loss: str | None, wrt: str | None, out: OutputChoice) -> bool:
    """Finite differences against the analytic gradients of L; True unless an operand fails."""
    from ...core import gradcheck
    names = checked_wrt(loaded, wrt_list(wrt))
    if not small(loaded):
        from ..run.chunked import require_fits

        require_fits(loaded, names, "check")
    G, which = checked_loss(loaded, loss)
    report = gradcheck.check_problem(loaded.problem, G, names)
    fmt = descriptive_format(out, tuple(CHECK_WRITERS))
    if fmt in ("table", "text"):
        show(fmt, out, lambda console: views().check(console, report, out.precision, which))
    else:
        write_text(CHECK_WRITERS[fmt](report, which), out.output)
    return report.passed


CHECK_WRITERS: dict[str, Callable[[Any, str], str]] = {
    "csv": partial(records.check_delimited, sep=","),
    "tsv": partial(records.check_delimited, sep="\t"),
    "json": records.check_json,
}


# ---- explain ----

def explain(loaded: Loaded, loss: str | None, wrt: str | None, out: OutputChoice) -> None:
    """The chain rule step by step with the operands' own numbers, from G (-G, or the loss's G from f)."""
    from ..show import derivation, notation

    taken = [name for name in ("f", "L") if name in loaded.problem.expression.operands]
    if taken:
        what = "the expression's value" if taken[0] == "f" else "the loss"
        raise InputError(f"explain writes {what} as {taken[0]}, so it cannot also name the operand {taken[0]}",
                         hint=f"rename the operand, e.g. {taken[0]}1")
    names, _ = wrt_names(loaded, wrt)
    if not small(loaded):
        from ..run.chunked import require_fits

        require_fits(loaded, names, "explain")
    G, note = upstream(loaded, loss)
    steps = derivation.derivation(loaded.problem, G, names, note, default=loaded.default, loss=loss_name(loss),
                                  target=loaded.target)
    heading = f"wxb explain: {loaded.heading}"
    writers: dict[str, Callable[[], str]] = {
        "json": partial(records.explain_json, loaded.problem.expression.text, steps),
        **{fmt: partial(write, steps, heading, out.precision) for fmt, write in notation.WRITERS.items()},
    }
    fmt = descriptive_format(out, tuple(writers))
    if fmt in ("table", "text"):
        show(fmt, out, lambda console: views().explain(console, steps, out.precision))
    else:
        write_text(writers[fmt](), out.output)


# ---- demo ----

def demo(out: OutputChoice) -> None:
    """The seed example: forward, Jacobian blocks, reduced bias gradient, computed here and drawn by the view."""
    from ...core import jacobian as jac

    problem = core.Problem.build(core.DEFAULT, SEED)
    loaded = Loaded(problem, None, None, True)
    f = problem.forward()
    memo: jac.Memo = {}
    structure = jac.structure(problem, "b", memo=memo)
    blocks = preview_blocks(problem, structure, memo=memo)
    grads = problem.backward(core.upstream_gradient(f, "sum"), ["b"])
    fmt = descriptive_format(out, ())
    show(fmt, out, lambda console: views().demo(console, loaded, f, structure, blocks,
                                                sparsity(problem, structure, blocks, console.width, memo), grads,
                                                out.precision))
