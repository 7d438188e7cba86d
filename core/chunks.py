"""The unchanged engine run once per block of batch columns (see wxb.core.plan for which expressions stream).

    plan = streaming(problem)
    f = forward_blocks(problem, plan, width=4096, read=reader, write=writer)

Blocks come from `read(name, start, stop)` (columns start:stop of an operand's last axis, or of G and T along f's
batch axis; by default sliced from the problem's own arrays) and values that hold the batch go to
`write(name, start, block)` ('f', or 'd' + an operand's name), block by block. Gradients of operands without the
batch (W, b) are summed across blocks; a node that sums the batch away combines its blocks (by its row's Combine,
wxb.core.primitives.batch), and its upstream gradient is shared out so that each block's VJP is the whole's on its
columns; nodes above it run once, on the merged value. The sums run in another order than the whole's, so results
agree to rounding (about 1e-15 relative), not bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .engine import Gradients, Problem
from .expr import Expression, Node
from .forward_mode import Kinked, directional
from .losses import loss_row, upstream_gradient
from .plan import Streaming

Array = np.ndarray[Any, np.dtype[Any]]
Read = Callable[[str, int, int], Array]
Write = Callable[[str, int, Array], None]


def columns(a: Array, axis: int, start: int, stop: int) -> Array:
    """a[..., start:stop, ...] on `axis` (counted from the end)."""
    index = (slice(None),) * (a.ndim + axis) + (slice(start, stop),)
    return a[index]


def blocks(size: int, width: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive blocks of `width` columns covering `size`."""
    width = max(width, 1)
    for start in range(0, max(size, 1), width):
        yield start, min(start + width, size)


def slicing(problem: Problem, G: ArrayLike | None = None, target: ArrayLike | None = None,
            f_axis: int = -1) -> Read:
    """A reader of blocks from arrays already at hand: the operands, and G and T along f's batch axis."""
    arrays = dict(problem.operands)
    for name, value in (("G", G), ("T", target)):
        if value is not None:
            arrays[name] = value if isinstance(value, np.ndarray) else np.array(value)

    def read(name: str, start: int, stop: int) -> Array:
        return columns(arrays[name], f_axis if name in ("G", "T") else -1, start, stop)

    return read


REDUCED = "sum over the batch"  # the operand that stands for the reducer's merged value in the nodes above it


def inner(problem: Problem, plan: Streaming) -> Expression:
    """The part of the expression that runs block by block: the whole, or the reducer's subtree when nodes above
    the reducer (2 * sum(…)) are computed once, on its merged value."""
    node = plan.reducer
    if node is None or node is problem.root:
        return problem.expression
    names = {n.name for n in Expression(node.text, node, ()).nodes() if n.op == "var"}
    return Expression(node.text, node, tuple(name for name in problem.expression.operands if name in names))


def outer(problem: Problem, plan: Streaming, merged: Array) -> Problem:
    """The nodes above the reducer as a problem of their own, the reducer replaced by its merged value."""
    assert plan.reducer is not None
    made: dict[int, Node] = {id(plan.reducer): Node("var", name=REDUCED, text=plan.reducer.text)}

    def rebuilt(node: Node) -> Node:
        if id(node) not in made:
            made[id(node)] = replace(node, args=tuple(rebuilt(arg) for arg in node.args))
        return made[id(node)]

    root = rebuilt(problem.root)
    names = {n.name for n in Expression(root.text, root, ()).nodes() if n.op == "var"}
    expression = Expression(problem.expression.text, root,
                            (*(n for n in problem.expression.operands if n in names), REDUCED))
    operands = {name: problem.operands[name] for name in expression.operands if name != REDUCED}
    return Problem.build(expression, {**operands, REDUCED: merged.astype(problem.dtype, copy=False)})


def has_outer(problem: Problem, plan: Streaming) -> bool:
    """Whether nodes above the reducer are computed once, on its merged value."""
    return plan.reducer is not None and plan.reducer is not problem.root


def block_problem(problem: Problem, plan: Streaming, read: Read, start: int, stop: int) -> Problem:
    """The problem on columns start:stop: the carriers' blocks, the other operands whole, in the whole's dtype
    (the reducer's subtree only, when nodes above it run once on the merged value)."""
    expression = inner(problem, plan)
    operands = {name: (read(name, start, stop) if name in plan.carriers else problem.operands[name])
                for name in expression.operands}
    return Problem.build(expression, {name: a.astype(problem.dtype, copy=False) for name, a in operands.items()})


def merged(problem: Problem, plan: Streaming, values: list[Array], counts: list[int]) -> Array:
    """The reducer's value from its blocks' values."""
    assert plan.combine is not None
    return plan.combine.merge(values, counts, plan.size).astype(problem.dtype, copy=False)


def forward_blocks(problem: Problem, plan: Streaming, width: int, read: Read, write: Write) -> Array | None:
    """f block by block: each block's f to write('f', …) when f keeps the batch; the combined f (returned) when
    the root sums the batch away."""
    values, counts = [], []
    for start, stop in blocks(plan.size, width):
        if plan.root == "columns":  # no block outlives its write: the next one is read after it is gone
            write("f", start, block_problem(problem, plan, read, start, stop).forward())
        else:
            values.append(block_problem(problem, plan, read, start, stop).forward())
            counts.append(stop - start)
    if plan.root == "columns":
        return None
    reduced = merged(problem, plan, values, counts)
    return outer(problem, plan, reduced).forward() if has_outer(problem, plan) else reduced


def jvp_blocks(problem: Problem, plan: Streaming, width: int, read: Read, write: Write,
               tangents: Mapping[str, Array], *, value: bool = False) -> tuple[Kinked, ...]:
    """Forward mode block by block, for an f that keeps the batch (plan.root 'columns'): each block's df (and f,
    with value) to write('df', …) and write('f', …). A carrier's tangent is read in blocks as
    read('--tangent ' + name, …), the others' tangents are whole; the kinks of every block are summed per node."""
    if plan.root != "columns":
        raise ValueError("forward mode streams an f that keeps the batch")
    kinks: dict[str, Kinked] = {}
    for start, stop in blocks(plan.size, width):
        block = block_problem(problem, plan, read, start, stop)
        along = {name: read(f"--tangent {name}", start, stop) if name in plan.carriers else t
                 for name, t in tangents.items() if name in block.expression.operands}
        done = directional(block, along)
        if value:
            write("f", start, done.f)
        write("df", start, done.df)
        for kinked in done.kinks:
            seen = kinks.get(kinked.node.text)
            kinks[kinked.node.text] = kinked if seen is None else replace(seen, count=seen.count + kinked.count)
    return tuple(kinks.values())


def backward_blocks(problem: Problem, plan: Streaming, width: int, read: Read, write: Write,
                    wrt: tuple[str, ...], *, G: ArrayLike | None = None, G_blocks: bool = False,
                    loss: str | None = None, target: ArrayLike | None = None,
                    target_blocks: bool = False) -> Gradients:
    """dL/dθ for θ in wrt: the batch carriers' gradients to write('d' + name, …) block by block, the others
    summed over blocks, returned as the last block's Gradients (its reductions) holding those sums. G: the whole's
    upstream gradient (read in blocks when G_blocks), a scalar, or None with a loss (sum by default); target: mse's
    T (read in blocks when target_blocks)."""
    if plan.root == "reduced":
        return _reduced_backward(problem, plan, width, read, write, wrt, G, loss, target)
    sums: dict[str, Array] = {}
    last: Gradients | None = None

    def one_block(start: int, stop: int) -> Gradients:
        """The block's gradients (its inputs and values let go on return, before the next block is read)."""
        block = block_problem(problem, plan, read, start, stop)
        if loss is None:
            return block.backward(block.upstream(read("G", start, stop) if G_blocks else G), wrt)
        grads = block.backward(None, wrt, loss=loss, target=read("T", start, stop) if target_blocks else target)
        if not loss_row(loss).per_entry:
            return grads
        share = (stop - start) / plan.size  # the block's G divided by its own size: the whole's N instead
        return replace(grads, grads={name: g * share for name, g in grads.grads.items()})

    for start, stop in blocks(plan.size, width):
        last = one_block(start, stop)
        _collect(plan, dict(last.grads), start, write, sums)
        last = replace(last, grads={})  # written or summed: let the block's gradients go
    assert last is not None
    return replace(last, grads=sums)


def _reduced_backward(problem: Problem, plan: Streaming, width: int, read: Read, write: Write,
                      wrt: tuple[str, ...], G: ArrayLike | None, loss: str | None,
                      target: ArrayLike | None) -> Gradients:
    """The root sums the batch away: G of the whole (from the whole f for a loss), each block's G its share."""
    combine = plan.combine
    assert combine is not None
    values: list[Array] = []
    whole: Array | None = None
    above = has_outer(problem, plan)
    if loss is not None or combine.reads_values or above:
        for start, stop in blocks(plan.size, width):
            values.append(block_problem(problem, plan, read, start, stop).forward())
        counts = [stop - start for start, stop in blocks(plan.size, width)]
        whole = merged(problem, plan, values, counts)
    top = outer(problem, plan, whole) if above and whole is not None else None
    if loss is not None:
        assert whole is not None
        f = top.forward() if top is not None else whole
        upstream = upstream_gradient(f, loss, target).astype(problem.dtype, copy=False)
    else:
        upstream = problem.upstream(G) if G is not None or problem.f_shape == () else problem.upstream(None)
    sums: dict[str, Array] = {}
    once: Gradients | None = None
    if top is not None:  # the nodes above the reducer, once: their operands' gradients and the reducer's G
        once = top.backward(upstream, tuple(name for name in top.expression.operands
                                            if name in wrt or name == REDUCED))
        upstream = once.grads[REDUCED]
        sums.update({name: np.array(g) for name, g in once.grads.items() if name != REDUCED})
    block_wrt = tuple(name for name in wrt if name in inner(problem, plan).operands)
    last: Gradients | None = None
    for index, (start, stop) in enumerate(blocks(plan.size, width) if block_wrt or once is None else ()):
        value = values[index] if values else np.zeros(problem.f_shape, problem.dtype)
        share = combine.scale(value, whole if whole is not None else value, stop - start, plan.size)
        last = block_problem(problem, plan, read, start, stop).backward(upstream * share, block_wrt)
        _collect(plan, dict(last.grads), start, write, sums)
        last = replace(last, grads={})
    if once is not None:
        return _joined(once, last, sums, wrt)
    assert last is not None
    return replace(last, grads=sums)


def _joined(above: Gradients, below: Gradients | None, sums: dict[str, Array], wrt: tuple[str, ...]) -> Gradients:
    """The gradients of the nodes above the reducer and of its blocks as one: an operand used in both (W in
    sum(W @ X) + sum(W)) has the contributions of each."""
    parts = [above] + ([below] if below is not None else [])
    contributions = {name: tuple(c for p in parts for c in p.contributions.get(name, ())) for name in wrt}
    reductions = {name: r for p in parts for name, r in p.reductions.items() if name in wrt}
    return replace(parts[-1], grads=sums, reductions=reductions, contributions=contributions)


def _collect(plan: Streaming, grads: dict[str, Array], start: int, write: Write, sums: dict[str, Array]) -> None:
    """A block's gradients: the carriers' written, the others added to the running sums."""
    for name, grad in grads.items():
        if name in plan.carriers:
            write(f"d{name}", start, grad)
        elif name in sums:
            sums[name] += grad
        else:
            sums[name] = np.array(grad)
