"""Know before computing: whether an expression streams along the batch, and how much memory a command needs.

The batch is the last axis of the operands that carry it (X's columns: one sample each). Every node's value then
holds the batch on one axis (its tag, counted from the end), or not at all; the rows of the table say how each
primitive moves it (`Primitive.batch`, whose rule the analysis calls). An expression streams when the engine,
run once per block of batch columns, gives each block's columns of every value: f's columns (written block by
block), or, when a node sums the batch away (sum, mean, logsumexp), values that combine across blocks by the row's
Combine, the nodes above it (2 * sum(…)) computed once on the merged value. It is refused when a value needs the
whole batch before one column of it (`X / sum(X)`, `softmax(…, axis=-1)`, `X @ X.T`).

Memory is estimated from shapes alone (nothing is computed): operands held in memory, the values the forward pass
and the VJPs keep, the adjoints, the results. Everything here is shapes and arithmetic; reading files and the
memory available belong to wxb.cli.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import Problem
from .evaluation import closure
from .expr import Node
from .primitives import PRIMITIVES
from .primitives.batch import Combine, Refused
from .reverse import needed_values

Shape = tuple[int, ...]
Array = np.ndarray[Any, np.dtype[Any]]


# ---- Where the batch is in each node ----

@dataclass(frozen=True)
class Streaming:
    """How an expression streams along the batch (N columns, carried by the operands `carriers` on their last
    axis): per node, the axis of its value that holds the batch (from the end; None: none). root: 'columns' (f
    holds the batch on axis f_axis), 'reduced' (a node sums it away, the reducer; blocks merge by its row's
    `combine`, and the nodes above it, which hold no batch (2 * sum(…), c + sum(…)), are computed once,
    on the merged value), or 'none' (nothing carries a batch). reason: why it does not stream; '' when it does."""

    size: int
    carriers: tuple[str, ...]
    tags: Mapping[int, int | None] = field(repr=False)
    root: str
    combine: Combine | None = None
    reason: str = ""
    f_axis: int | None = None
    reducer: Node | None = field(default=None, repr=False, compare=False)

    @property
    def streams(self) -> bool:
        return not self.reason and self.root != "none"

    def tag(self, node: Node) -> int | None:
        """The axis of node's value (from the end) that holds the batch; None when it holds none."""
        return self.tags.get(id(node))


def _tags(problem: Problem, carriers: set[str], size: int) -> tuple[dict[int, int | None], Node | None]:
    """Each node's batch axis (by its row's batch rule), and the node that sums the batch away (None when none
    does); Refused otherwise."""
    tags: dict[int, int | None] = {}
    reducer: Node | None = None
    above: set[int] = set()  # the reducer and the nodes that use its value
    for node in problem.order:
        if node.op == "var":
            tags[id(node)] = -1 if node.name in carriers else None
            continue
        if node.op == "const":
            tags[id(node)] = None
            continue
        args = [tags[id(arg)] for arg in node.args]
        if any(id(arg) in above for arg in node.args):
            if any(tag is not None for tag in args):
                assert reducer is not None
                raise Refused(f"{node.text} uses {reducer.text}, which sums over the whole batch: that needs every "
                              "block before one value of it")
            above.add(id(node))
            tags[id(node)] = None
            continue
        rule = PRIMITIVES[node.op].batch
        if all(tag is None for tag in args):
            tags[id(node)] = None
            continue
        tags[id(node)] = rule.tag(node, problem.shape, args, size)
        if tags[id(node)] is not None:
            continue
        if rule.combine is None:  # the rule summed the batch away
            raise Refused(f"{node.text} reduces over the batch, and its blocks do not combine")
        if reducer is not None:
            raise Refused(f"{node.text} and {reducer.text} each sum over the batch")
        reducer = node
        above.add(id(node))
    return tags, reducer


def _candidates(problem: Problem) -> list[tuple[int, tuple[str, ...]]]:
    """(N, operands whose last axis has size N) for each last-axis size of an operand with 2 or more axes, the
    largest data first."""
    by_size: dict[int, list[str]] = {}
    for name, array in problem.operands.items():
        if array.ndim >= 2 and array.shape[-1] > 1:
            by_size.setdefault(array.shape[-1], []).append(name)
    weight = {n: sum(problem.operands[name].nbytes for name in names) for n, names in by_size.items()}
    return sorted(((n, tuple(names)) for n, names in by_size.items()), key=lambda item: -weight[item[0]])


def streaming(problem: Problem) -> Streaming:
    """How the expression streams along its batch: the largest operand's last axis, carried by every operand of
    2 or more axes with that last size that the graph lets carry it (W of X's size is not split when it is the
    left side of W @ X); with the reason when it does not stream."""
    found = _candidates(problem)
    if not found:
        return Streaming(0, (), {}, "none", reason="no operand has a batch axis (a last axis of more than 1)")
    size, names = found[0]
    most = max(problem.operands[name].nbytes for name in names)
    biggest = [name for name in names if problem.operands[name].nbytes == most]
    first_reason = ""
    for count in range(len(names), 0, -1):
        for subset in _subsets(names, count):
            if not set(biggest) & set(subset):
                continue
            try:
                tags, reducer = _tags(problem, set(subset), size)
                _check_blocks(problem, set(subset), size, tags)
            except Refused as exc:
                first_reason = first_reason or str(exc)
                continue
            root_tag = tags[id(problem.root)]
            root = "reduced" if reducer is not None else ("columns" if root_tag is not None else "none")
            combine = PRIMITIVES[reducer.op].batch.combine if reducer is not None else None
            ordered = tuple(name for name in problem.expression.operands if name in subset)
            return Streaming(size, ordered, tags, root, combine, f_axis=root_tag, reducer=reducer)
    return Streaming(size, (biggest[0],), {}, "none", reason=first_reason)


def _subsets(names: tuple[str, ...], count: int) -> Iterable[tuple[str, ...]]:
    from itertools import combinations

    return combinations(names, count)


def _check_blocks(problem: Problem, carriers: set[str], size: int, tags: Mapping[int, int | None]) -> None:
    """The engine on a block of other width gives every value the block's width on its batch axis and the whole's
    shape elsewhere; Refused when it does not (or refuses the block's shapes)."""
    width = 1 if size > 2 else 0
    try:
        block = fake_problem(problem, block_shapes(problem, carriers, width))
    except ValueError as exc:  # ShapeError and its kind: the block's shapes do not fit
        raise Refused(f"the blocks do not fit together ({exc})") from None
    for node, twin in zip(problem.order, block.order, strict=True):
        whole, part, tag = list(problem.shape(node)), list(block.shape(twin)), tags.get(id(node))
        if tag is not None:
            whole[tag] = width
        if whole != part:
            raise Refused(f"{node.text} does not split along the batch")


def block_shapes(problem: Problem, carriers: Iterable[str], width: int) -> dict[str, Shape]:
    """Every operand's shape in a block of `width` batch columns."""
    shapes = {name: tuple(a.shape) for name, a in problem.operands.items()}
    for name in carriers:
        shapes[name] = (*shapes[name][:-1], width)
    return shapes


def fake_problem(problem: Problem, shapes: Mapping[str, Shape]) -> Problem:
    """The problem for operands of these shapes, built from arrays that hold no memory (a broadcast zero)."""
    zero = np.zeros((), dtype=problem.dtype)
    return Problem.build(problem.expression, {name: np.broadcast_to(zero, shape) for name, shape in shapes.items()})


# ---- Memory ----

@dataclass(frozen=True)
class Estimate:
    """Bytes a command holds at its peak, in parts: operands held in memory, the values and adjoints of the
    passes, the results, and the buffers that write them."""

    operands: int
    values: int
    results: int
    output: int

    @property
    def total(self) -> int:
        return self.operands + self.values + self.results + self.output


def _nbytes(shape: Shape, dtype: np.dtype[Any]) -> int:
    return math.prod(shape) * dtype.itemsize


def estimate(problem: Problem, *, wrt: tuple[str, ...] | None, resident: Iterable[str], upstream: str = "given",
             text_output: bool = False, tangents: bool = False) -> Estimate:
    """The peak of a forward pass (wrt None) or of a backward pass for wrt, on the problem's shapes. resident:
    the operands held in memory (a memory-mapped file costs nothing until read, and is counted when a pass reads
    all of it as a value). upstream: 'given' (G held in memory), 'mapped' (G read from a file), 'made' (G built:
    a loss, or a scalar broadcast). text_output: results written as text (csv, json) need a buffer. tangents: a
    forward pass in forward mode (wrt None), which holds every value beside its tangent, and gives f and df."""
    dtype = problem.dtype
    held = sum(problem.operands[name].nbytes for name in set(resident))
    sizes = {id(node): _nbytes(problem.shape(node), dtype) for node in problem.intermediates()}
    f_bytes = _nbytes(problem.f_shape, dtype)
    # an operand kept in its own dtype (mapped from a file: float32, or big-endian) is converted when a pass
    # computes with it whole, NumPy's promotion making a copy in the computation dtype
    cast = sum(_nbytes(a.shape, dtype) for a in problem.operands.values() if a.dtype != dtype)
    if wrt is None:
        results = 0 if problem.root.op != "var" else f_bytes
        if tangents:  # the values and their tangents, f and df, and both written
            return Estimate(held, 2 * sum(sizes.values()) + cast, 2 * f_bytes, f_bytes * (4 if text_output else 0))
        return Estimate(held, sum(sizes.values()) + cast, results, f_bytes * (2 if text_output else 0))
    active = problem.depends_on(set(wrt))
    wanted = needed_values(problem, active) | ({id(problem.root)} if upstream == "made" else set())
    computed = closure(problem, wanted)  # the values the forward pass of reverse mode computes
    values = sum(size for key, size in sizes.items() if key in computed)
    values += max((_vjp_work(problem, node, active) for node in problem.intermediates() if id(node) in active),
                  default=0) + (f_bytes if upstream in ("made", "given") else 0)
    values += cast
    grads = sum(_nbytes(problem.operands[name].shape, dtype) for name in wrt)
    return Estimate(held, values, grads, grads * (2 if text_output else 0))


def _vjp_work(problem: Problem, node: Node, active: set[int]) -> int:
    """Bytes a node's VJPs allocate: a product's or a transpose's, each active argument's gradient; the others
    (elementwise, along an axis, reductions), about three arrays of the larger of value and argument, unless
    they pass G on unchanged."""
    rule = PRIMITIVES[node.op]
    args = [_nbytes(problem.shape(arg), problem.dtype) for arg in node.args if id(arg) in active]
    if rule.batch.argument_sized_vjps:
        return sum(args)
    if not rule.uses:
        return 0
    return 3 * max([_nbytes(problem.shape(node), problem.dtype), *args])


def per_column(whole: Callable[[int], int], size: int) -> tuple[int, float]:
    """(fixed bytes, bytes per batch column) of a cost linear in the block width, from two widths."""
    small, large = (1, 2) if size >= 2 else (0, 1)
    a, b = whole(small), whole(large)
    step = (b - a) / (large - small)
    return max(int(a - step * small), 0), max(step, 0.0)
