"""Big data: decide before computing whether a command runs whole, streams in blocks of batch columns, or is
refused in one line; and run it in blocks.

The decision (decide): the peak memory of the command as asked is estimated from the checked problem's shapes
(wxb.core.plan.estimate) and compared with the memory available (blocks.available_memory: WXB_MEMORY, else
MemAvailable or a cgroup's room). When it fits and --chunk is not given, the command runs whole, as ever. When it
does not, or --chunk SIZE asks for it, the expression must stream (wxb.core.plan.streaming) and the blocks are as
wide as SIZE of the largest operand that carries the batch (256 MB by default), narrower if that does not fit.
--chunk off forbids streaming. Every refusal names the estimate and what would fit.

A result that holds the batch (f, dX) and is the only result, asked into an .npy file (-o f.npy), goes there block
by block (C order, positioned writes): that file is the only target that takes it without holding it (csv and
json are written row by row, the blocks are columns). Otherwise such results are assembled in memory when they
fit there, and written as any result; when they do not, the command is refused before it starts.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ...core import chunks
from ...core.engine import whole_matrix_ops
from ...core.losses import loss_name
from ...core.plan import Streaming, block_shapes, estimate, fake_problem, per_column, streaming
from ..env import note
from ..errors import InputError
from ..show.diagnosis import holding, nonfinite_lines, whole
from ..stores.blocks import (
    MemoryWriter,
    NpyData,
    NpyWriter,
    available_memory,
    mapped_file,
    parse_size,
    read_block,
    size_text,
)

if TYPE_CHECKING:
    from ...core.engine import Problem
    from ...core.forward_mode import Kinked
    from ..model import Loaded, OutputChoice

Array = np.ndarray[Any, np.dtype[Any]]
DEFAULT_CHUNK = 256 << 20  # bytes of the largest batch operand per block, when streaming is chosen for you
MIN_BLOCK = 1 << 20  # a --chunk below this is rounded up to it, or to 1/MAX_BLOCKS of the batch when that is less:
MAX_BLOCKS = 256  # each block costs a few milliseconds of its own, whatever its size
TEXT_FORMATS = ("csv", "tsv", "json", "table")


@dataclass(frozen=True)
class Decision:
    """Whole (plan None), or in blocks of `width` batch columns of plan."""

    plan: Streaming | None = None
    width: int = 0
    available: int = 0
    note: str = ""  # said on stderr once the outputs are known to take the blocks


def chunk_option(text: str | None) -> int | str | None:
    """--chunk: None (decide), 'off', or bytes."""
    if text is None:
        return None
    if text.strip().lower() in ("off", "no", "none"):
        return "off"
    return parse_size(text, "--chunk")


def resident(loaded: Loaded) -> list[str]:
    """The operands held in memory (a memory-mapped .npy costs nothing until read)."""
    return [name for name, array in loaded.problem.operands.items() if mapped_file(array) is None]


def upstream_kind(loaded: Loaded, loss: str | None) -> str:
    """'given' (G in memory), 'mapped' (G read from an .npy), or 'made' (from a loss, or a scalar G)."""
    G = loaded.G
    if G is None or not loaded.starts_from_G(loss) or np.ndim(G) == 0:
        return "made"
    return "mapped" if mapped_file(G) is not None else "given"


def _expression(loaded: Loaded) -> str:
    return loaded.problem.expression.text


def decide(loaded: Loaded, wrt: tuple[str, ...] | None, chunk: int | str | None, fmt: str,
           loss: str | None = None, tangents: bool = False) -> Decision:
    """Whole, in blocks, or refused (InputError), before anything is computed; tangents: forward mode (jvp), which
    streams only an f that keeps the batch."""
    problem = loaded.problem
    available, source = available_memory()
    kind = upstream_kind(loaded, loss) if wrt is not None else "given"
    whole = estimate(problem, wrt=wrt, resident=resident(loaded), upstream=kind,
                     text_output=fmt in TEXT_FORMATS, tangents=tangents).total
    fits = whole <= available
    if chunk is None and fits:
        return Decision()
    need = f"needs about {size_text(whole)}, {size_text(available)} available ({source})"
    plan = _planned(problem, tangents)
    dask = _dask_runs(problem, tangents)
    if chunk == "off":
        if fits:
            return Decision()
        hint = ("the expression streams: drop --chunk off" if plan.streams else f"it does not stream ({plan.reason}); "
                "run it on " + ("Dask (--dask) or " if dask else "") + "a larger machine")
        raise InputError(f"{_expression(loaded)} {need}, and --chunk off forbids streaming it in blocks", hint=hint)
    if not plan.streams:
        if chunk is not None:
            raise InputError(f"cannot stream {_expression(loaded)} in blocks: {plan.reason}",
                             hint="drop --chunk to run it whole" + (", or run it on Dask with --dask" if dask else ""))
        raise InputError(f"{_expression(loaded)} {need}, and it does not stream in blocks: {plan.reason}",
                         hint=("run it on Dask with --dask, or on" if dask else "run it on")
                         + " a machine with more memory")
    width = _width(loaded, plan, wrt, kind, chunk, available, need, tangents)
    said = "" if chunk is not None else (f"{_expression(loaded)} {need}: streaming it in blocks of {width:,} of "
                                         f"{plan.size:,} columns (--chunk SIZE to choose, --chunk off to refuse)")
    return Decision(plan, width, available, said)


def _planned(problem: Problem, tangents: bool) -> Streaming:
    """How the expression streams, in reverse mode or (tangents) in forward mode, which streams only an f that keeps
    the batch."""
    plan = streaming(problem)
    if tangents and plan.streams and plan.root != "columns":
        return replace(plan, reason="it sums the batch away, and forward mode streams only an f that keeps the "
                       "batch (f's columns, one block at a time)")
    return plan


def _dask_runs(problem: Problem, tangents: bool = False) -> bool:
    """Whether --dask can run the expression: not when it uses a matrix function (det, inv, …), nor for forward mode
    (tangents: jvp computes in memory, also with --dask)."""
    return not tangents and not whole_matrix_ops(problem.order)


def require_fits(loaded: Loaded, wrt: tuple[str, ...], command: str) -> None:
    """check and explain run whole (they take every entry of the batch at once): refused in one line, before
    anything is computed, when the estimate of a backward pass does not fit."""
    available, source = available_memory()
    whole = estimate(loaded.problem, wrt=wrt, resident=resident(loaded), upstream="made").total
    if whole > available:
        raise InputError(f"{command} of {_expression(loaded)} needs about {size_text(whole)}, {size_text(available)} "
                         f"available ({source}); {command} runs in memory, it does not stream",
                         hint=f"run {command} on a slice of the batch; backward and forward stream (--chunk)")


def _width(loaded: Loaded, plan: Streaming, wrt: tuple[str, ...] | None, kind: str, chunk: int | str | None,
           available: int, need: str, tangents: bool = False) -> int:
    """Columns per block: --chunk SIZE (or 256 MB) of the largest carrier, at most what fits."""
    problem = loaded.problem
    carriers = [problem.operands[name] for name in plan.carriers]
    column = max(a.nbytes // max(a.shape[-1], 1) for a in carriers) or 1
    held = [name for name in resident(loaded) if name not in plan.carriers]

    def cost(width: int) -> int:
        block = fake_problem(problem, block_shapes(problem, plan.carriers, width))
        return estimate(block, wrt=wrt, resident=[*held, *plan.carriers], upstream=kind, tangents=tangents).total

    fixed, step = per_column(cost, plan.size)
    accumulators = sum(problem.operands[name].nbytes for name in wrt or () if name not in plan.carriers)
    in_memory = sum(problem.operands[name].nbytes for name in resident(loaded) if name in plan.carriers)
    fixed += accumulators + in_memory  # a carrier read from text is held whole besides its blocks
    room = available - fixed
    most = int(room // step) if step > 0 else plan.size
    if most < 1:
        dask = _dask_runs(problem, tangents)
        raise InputError(f"{_expression(loaded)} {need}, and even one column at a time needs about "
                         f"{size_text(fixed + step)}", hint="free memory, or run it on " + ("Dask with --dask" if dask
                                                                                         else "a larger machine"))
    asked = DEFAULT_CHUNK if not isinstance(chunk, int) else chunk
    width = max(asked // column, 1)
    smallest = max(min(MIN_BLOCK // column, math.ceil(plan.size / MAX_BLOCKS)), 1)
    if width < smallest:
        note(f"--chunk {size_text(asked)} makes {math.ceil(plan.size / width):,} blocks of {_columns(width)}: "
             f"rounded up to blocks of {_columns(smallest)} ({size_text(smallest * column)})")
        width = smallest
    if isinstance(chunk, int) and min(width, plan.size) > most:
        note(f"--chunk {size_text(chunk)} does not fit in {size_text(available)}: blocks of {most:,} columns "
             f"({size_text(most * column)}) instead")
    return max(min(width, most, plan.size), 1)


def _columns(width: int) -> str:
    return f"{width:,} column" + ("s" if width != 1 else "")


# ---- Reading blocks ----

def reader(loaded: Loaded, plan: Streaming, G: Any = None, target: Any = None,
           tangents: Mapping[str, Any] | None = None) -> chunks.Read:
    """Blocks of the carriers (and of G and T along f's batch axis, and of a carrier's tangent, read as
    '--tangent NAME'): positioned reads from an .npy, or slices of arrays in memory."""
    sources: dict[str, tuple[Any, int]] = {name: (loaded.problem.operands[name], -1) for name in plan.carriers}
    sources.update({f"--tangent {name}": (t, -1) for name, t in (tangents or {}).items() if name in plan.carriers})
    axis = plan.f_axis if plan.f_axis is not None else -1
    for name, value in (("G", G), ("T", target)):
        if value is not None and np.ndim(value):
            sources[name] = (value, axis)
    files: dict[str, NpyData | None] = {name: mapped_file(np.asarray(a)) if isinstance(a, np.ndarray) else None
                                        for name, (a, _) in sources.items()}

    def read(name: str, start: int, stop: int) -> Array:
        array, on = sources[name]
        data = files[name]
        if data is not None:
            return read_block(data, on, start, stop)
        return chunks.columns(np.asarray(array), on, start, stop)

    return read


# ---- Writing results that hold the batch ----

Inputs = Mapping[str, Callable[[], Iterable[Array]]]  # each input a NaN or an infinity may come from, as its blocks


def inputs(loaded: Loaded, plan: Streaming, width: int, read: chunks.Read,
           given: Mapping[str, tuple[Any, bool]] | None = None) -> Inputs:
    """The operands (and G, T or tangents, by name: (value, read in blocks)), each as its blocks: the carriers
    (and those read in blocks) by positioned reads as the pass read them, the others whole."""
    given = given or {}
    streamed = set(plan.carriers) | {name for name, (_, blocked) in given.items() if blocked}

    def blocks(name: str) -> Callable[[], Iterator[Array]]:
        return lambda: (read(name, start, min(start + width, plan.size)) for start in range(0, plan.size, width))

    held = {**loaded.problem.operands, **{name: value for name, (value, _) in given.items() if value is not None}}
    return {name: blocks(name) if name in streamed else whole(value) for name, value in held.items()}


@dataclass
class Sinks:
    """Where each result that holds the batch goes, with counts of NaN and infinite entries seen, and the inputs
    they may come from."""

    writers: dict[str, Any]
    nans: dict[str, int]
    infs: dict[str, int]
    inputs: Inputs
    dtype: np.dtype[Any]

    def write(self, name: str, start: int, block: Array) -> None:
        if block.dtype.kind == "f" and not np.isfinite(np.sum(block)):
            self.nans[name] = self.nans.get(name, 0) + int(np.count_nonzero(np.isnan(block)))
            self.infs[name] = self.infs.get(name, 0) + int(np.count_nonzero(np.isinf(block)))
        self.writers[name].write(start, block)

    def warnings(self) -> None:
        """One line per result that holds NaN or infinities, naming their cause as the whole run does (the
        inputs are read again only then)."""
        counts = {name: (self.nans.get(name, 0), self.infs.get(name, 0)) for name in self.writers}
        if not any(nans or infs for nans, infs in counts.values()):
            return
        for line in nonfinite_lines(counts, dict.fromkeys(counts, self.dtype), holding(self.inputs, np.isnan),
                                    holding(self.inputs, np.isinf)):
            note(line, "warning")


def _streams_to_file(out: OutputChoice, fmt: str) -> bool:
    """True when -o names a regular file (or nothing yet) to be written as .npy."""
    if out.output is None or str(out.output) == "-" or fmt != "npy":
        return False
    from ..write.through import resolve_output

    target = resolve_output(out.output)
    if isinstance(target, int):
        return False
    try:
        return stat.S_ISREG(os.stat(target).st_mode)
    except FileNotFoundError:
        return True


def run_with_sinks(big: Mapping[str, tuple[tuple[int, ...], int]], dtype: np.dtype[Any], decision: Decision,
                   out: OutputChoice, fmt: str, compute: Callable[[Sinks], Any], sources: Inputs,
                   others: int = 0, alone: str = "") -> tuple[Any, dict[str, Array]]:
    """Run compute with a writer for each result that holds the batch (name → (shape, axis)): the one result into
    -o's .npy file, else in memory when they fit. Returns compute's value and the results held in memory."""
    total = sum(math.prod(shape) * dtype.itemsize for shape, _ in big.values())
    to_file = len(big) == 1 and not others and _streams_to_file(out, fmt)
    in_memory = not big or (not to_file and total <= decision.available // 2)
    if decision.note and (in_memory or to_file):
        note(decision.note)
    if in_memory:
        writers = {name: MemoryWriter(shape, dtype, axis) for name, (shape, axis) in big.items()}
        value = compute(Sinks(dict(writers), {}, {}, sources, dtype))  # those held are warned about when shown
        return value, {name: writer.array for name, writer in writers.items()}
    names = ", ".join(f"{name} {shape}" for name, (shape, _) in big.items())
    if len(big) > 1:
        raise InputError(f"{names} ({size_text(total)}) are written block by block, one result per .npy file",
                         hint=alone or "ask for one at a time, e.g. --wrt " + next(iter(big))[1:] + " -o "
                         + next(iter(big)) + ".npy")
    ((name, (shape, axis)),) = big.items()
    if others or not _streams_to_file(out, fmt):
        alone = f"ask for it alone (--wrt {name[1:]}) and " if others else ""
        raise InputError(f"{name} {shape} ({size_text(total)}) is written block by block, only into an .npy file",
                         hint=f"{alone}give -o {name}.npy (csv and json are written by rows, the blocks are columns)")
    from ..write.through import write_through

    assert out.output is not None
    held: list[Any] = []

    def emit(stream: BinaryIO) -> None:
        sinks = Sinks({name: NpyWriter(stream, shape, dtype, axis)}, {}, {}, sources, dtype)
        held.append(compute(sinks))
        sinks.warnings()

    write_through(out.output, emit)
    return held[0], {}


# ---- The commands in blocks ----

def forward(loaded: Loaded, decision: Decision, out: OutputChoice, fmt: str,
            emit: Callable[[dict[str, Array]], None]) -> None:
    """f block by block."""
    problem, plan = loaded.problem, decision.plan
    assert plan is not None
    big = {"f": (problem.f_shape, plan.f_axis)} if plan.root == "columns" and plan.f_axis is not None else {}
    read = reader(loaded, plan)
    value, held = run_with_sinks(big, problem.dtype, decision, out, fmt,
                                 lambda sinks: chunks.forward_blocks(problem, plan, decision.width, read, sinks.write),
                                 inputs(loaded, plan, decision.width, read))
    if value is not None:
        emit({"f": value})
    elif held:
        emit(held)


def jvp(loaded: Loaded, decision: Decision, tangents: Mapping[str, Array], value: bool, out: OutputChoice, fmt: str,
        emit: Callable[[tuple[Kinked, ...], dict[str, Array]], None]) -> None:
    """df (and f, with value) block by block, each carrier's tangent read in blocks as the carrier is."""
    problem, plan = loaded.problem, decision.plan
    assert plan is not None
    read = reader(loaded, plan, tangents=tangents)
    big = {name: (problem.f_shape, plan.f_axis if plan.f_axis is not None else -1)
           for name in (("f", "df") if value else ("df",))}
    given = {f"--tangent {name}": (t, name in plan.carriers) for name, t in tangents.items()}
    sources = inputs(loaded, plan, decision.width, read, given)
    kinks, held = run_with_sinks(
        big, problem.dtype, decision, out, fmt,
        lambda sinks: chunks.jvp_blocks(problem, plan, decision.width, read, sinks.write, tangents, value=value),
        sources, alone="without --value, df alone is written into -o's .npy (forward -o f.npy gives f)")
    emit(kinks, held)


def backward(loaded: Loaded, decision: Decision, names: tuple[str, ...], loss: str | None, out: OutputChoice,
             fmt: str, emit: Callable[[Any, dict[str, Array]], None]) -> None:
    """dL/dθ block by block: the carriers' gradients written as they come, the others summed."""
    problem, plan = loaded.problem, decision.plan
    assert plan is not None
    use_loss = not loaded.starts_from_G(loss)
    if use_loss and problem.f_shape == () and loss is None:
        use_loss = False
    G = None if use_loss else loaded.G
    target = loaded.target
    f_axis = plan.f_axis if plan.f_axis is not None else -1
    blocks_of = {"G": G is not None and np.ndim(G) > 0 and plan.root == "columns",
                 "T": target is not None and plan.root == "columns" and np.ndim(target) >= -f_axis
                 and np.shape(target)[f_axis] == plan.size and plan.size > 1}
    read = reader(loaded, plan, G if blocks_of["G"] else None, target if blocks_of["T"] else None)
    big = {f"d{name}": (problem.operands[name].shape, -1) for name in names if name in plan.carriers}

    def compute(sinks: Sinks) -> Any:
        return chunks.backward_blocks(problem, plan, decision.width, read, sinks.write, names, G=G,
                                      G_blocks=blocks_of["G"], loss=loss_name(loss) if use_loss else None,
                                      target=None if blocks_of["T"] else target, target_blocks=blocks_of["T"])

    sources = inputs(loaded, plan, decision.width, read, {"G": (G, blocks_of["G"]), "T": (target, blocks_of["T"])})
    grads, held = run_with_sinks(big, problem.dtype, decision, out, fmt, compute, sources,
                                 others=len(names) - len(big))
    results = {f"d{name}": grads.grads[name] if name in grads.grads else held.get(f"d{name}") for name in names}
    emit(grads, {key: value for key, value in results.items() if value is not None})
