"""How a primitive treats the batch (the last axis of the operands that carry it), for streaming in blocks of
columns (wxb.core.plan): each row names one kind of this closed set (`Primitive.batch`), and the analysis calls
its rule, never its name.

A rule maps the batch axis of each argument (its tag, counted from the end; None: no batch) to the value's, or
raises Refused when one column of the value needs many columns of an argument. A rule that returns None while an
argument holds the batch has summed it away: the blocks of such a value then merge by the row's Combine (sum,
mean, logsumexp), and a row without one is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..nodes import Node
from ..shapes import Shape, aligned, resolved_axis

Array = np.ndarray[Any, np.dtype[Any]]
Shapes = Callable[[Node], Shape]
Tags = Sequence[int | None]
TagRule = Callable[[Node, Shapes, Tags, int], int | None]


class Refused(Exception):
    """Why the expression does not stream (internal to the analysis)."""


@dataclass(frozen=True)
class Combine:
    """How the values of a batch-reducing node combine across blocks, and the factor that turns the upstream
    gradient G of the whole into the G of one block (the block's VJP then equals the whole's on its columns).

    merge(values, counts, N) → the whole's value; scale(value_b, whole, count_b, N) → G_b / G. reads_values:
    scale needs the blocks' values and the whole's (so the forward pass runs before the backward one)."""

    merge: Callable[[list[Array], list[int], int], Array]
    scale: Callable[[Array, Array, int, int], Array | float]
    reads_values: bool = False


@dataclass(frozen=True)
class Batch:
    """One kind of batch rule. name: what the kind is called (for reading, never switched on); tag: the rule;
    combine: how blocks merge when the rule sums the batch away (None: they do not); whole_matrices: the row
    works on whole matrices (Dask's blocks of columns cannot run it); argument_sized_vjps: the VJPs allocate
    each argument's gradient and nothing the value's size (a product, a transpose), for the memory estimate."""

    name: str
    tag: TagRule
    combine: Combine | None = None
    whole_matrices: bool = False
    argument_sized_vjps: bool = False

    def __post_init__(self) -> None:
        if self.tag not in RULES:
            raise TypeError(f"the batch kind {self.name!r} has a rule that is not one of wxb.core.primitives.batch's")

    def summing(self, combine: Combine) -> Batch:
        """This kind, its blocks merging by combine when the batch is summed away."""
        return replace(self, combine=combine)


# ---- The rules ----

def _negative(axis: int, ndim: int) -> int:
    return axis - ndim if axis >= 0 else axis


def columns_tag(node: Node, shape: Shapes, tags: Tags, size: int) -> int | None:
    """Elementwise: column k of the value from column k of the arguments (a 1-D one beside a matrix is a column,
    which holds the batch on axis −2)."""
    shapes = [shape(arg) for arg in node.args]
    found: set[int] = set()
    for index, tag in enumerate(tags):
        if tag is None:
            continue
        own = shapes[index]
        other = shapes[1 - index] if len(shapes) == 2 else own
        found.add(-2 if len(own) == 1 and len(aligned(own, other)) == 2 else tag)
    if len(found) > 1:
        raise Refused(f"{node.text} combines the batch of one argument with another axis of the other, so each "
                      "column needs many columns")
    if not found:
        return None
    tag = found.pop()
    out = shape(node)
    for index, (arg, arg_tag) in enumerate(zip(node.args, tags, strict=True)):
        own = shapes[index]
        view = aligned(own, shapes[1 - index]) if len(shapes) == 2 else own
        if arg_tag is None and len(view) >= -tag and view[tag] != 1 and out[tag] == size:
            raise Refused(f"{arg.text} has the batch's size {size} on the batch axis of {node.text} but is not "
                          "split along it (only operands whose last axis is the batch are)")
    return tag


def matmul_tag(node: Node, shape: Shapes, tags: Tags, size: int) -> int | None:
    """W @ X: the batch of X's columns or of W's rows passes through; contracting it needs every column."""
    (w, x), (tw, tx) = [shape(arg) for arg in node.args], tags
    contracted = (tw is not None and (tw == -1 or len(w) == 1)) or (tx is not None and (tx == -2 or len(x) == 1))
    if contracted:
        raise Refused(f"{node.text} sums over the batch inside a product (it contracts the batch axis), so one "
                      "column of it needs every column")
    if tw == -2 and tx == -1:
        raise Refused(f"{node.text} puts the batch on both of its axes, so each column needs every column")
    tail = int(len(w) > 1) + int(len(x) > 1)
    mapped = set()
    if tw == -2:
        mapped.add(-2 if len(x) > 1 else -1)
    if tx == -1:
        mapped.add(-1)
    for tag in (tw, tx):
        if tag is not None and tag <= -3:
            mapped.add(tag + 2 - tail)
    if len(mapped) > 1:
        raise Refused(f"{node.text} holds the batch on two different axes of its arguments")
    return mapped.pop() if mapped else None


def transpose_tag(node: Node, shape: Shapes, tags: Tags, size: int) -> int | None:
    """.T: the last two axes swap, and the batch with them."""
    tag = tags[0]
    return tag if len(shape(node.args[0])) < 2 or tag is None or tag <= -3 else -3 - tag


def along_tag(node: Node, shape: Shapes, tags: Tags, size: int) -> int | None:
    """Along the node's axis (softmax): streams unless that axis is the batch's."""
    ndim, tag = len(shape(node.args[0])), tags[0]
    axis = resolved_axis(node, ndim)
    if tag is not None and (axis is None or _negative(axis, ndim) == tag):
        raise Refused(f"{node.text} works along the batch axis, so each column of it needs every column")
    return tag


def matrix_tag(node: Node, shape: Shapes, tags: Tags, size: int) -> int | None:
    """On the last two axes as matrices (det, inv, solve): streams only with the batch on a leading axis."""
    found = set()
    for arg, tag in zip(node.args, tags, strict=True):
        if tag is None:
            continue
        if tag >= -2:
            raise Refused(f"{node.text} treats the last two axes of {arg.text} as a matrix, and the batch is one "
                          "of them")
        found.add(tag + len(shape(arg)) - len(shape(node)))
    if len(found) > 1:
        raise Refused(f"{node.text} holds the batch on two different axes of its arguments")
    return found.pop() if found else None


def reduce_tag(node: Node, shape: Shapes, tags: Tags, size: int) -> int | None:
    """A reduction: its axis removed (or kept with size 1); None when it sums the batch away."""
    ndim, tag = len(shape(node.args[0])), tags[0]
    if tag is None:
        return None
    axis = resolved_axis(node, ndim)
    if axis is None or _negative(axis, ndim) == tag:
        return None
    if len(shape(node)) == ndim:  # the reduced axis kept: the batch stays where it was
        return tag
    return tag if _negative(axis, ndim) < tag else tag + 1


def whole_tag(node: Node, shape: Shapes, tags: Tags, size: int) -> int | None:
    """Needs every column of its argument at once."""
    raise Refused(f"{node.text} needs every column of its argument at once")


RULES = frozenset({columns_tag, matmul_tag, transpose_tag, along_tag, matrix_tag, reduce_tag, whole_tag})


# ---- The kinds a row names ----

COLUMNS = Batch("columns", columns_tag)
MATMUL = Batch("matmul", matmul_tag, argument_sized_vjps=True)
TRANSPOSE = Batch("transpose", transpose_tag, argument_sized_vjps=True)
ALONG_AXIS = Batch("axis", along_tag)
MATRIX = Batch("matrix", matrix_tag, whole_matrices=True)
REDUCE = Batch("reduce", reduce_tag)
WHOLE = Batch("whole", whole_tag, whole_matrices=True)

KINDS: tuple[Batch, ...] = (COLUMNS, MATMUL, TRANSPOSE, ALONG_AXIS, MATRIX, REDUCE, WHOLE)


def known(batch: object) -> bool:
    """Whether batch is one of the kinds (a reduction's with its own Combine counts as REDUCE)."""
    return isinstance(batch, Batch) and replace(batch, combine=None) in KINDS
