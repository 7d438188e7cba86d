"""The forward pass: the values of the nodes asked for, computing only what they need and letting go of what
nothing still reads; each value from its row (wxb.core.primitives), in the row's dtype, checked by the row.

    values = Evaluation.run(problem, {id(problem.root)}).values
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .expr import Node
from .operands import as_array
from .primitives import PRIMITIVES
from .primitives.linalg import singular_error
from .shapes import aligned

if TYPE_CHECKING:
    from .engine import Problem

Array = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True)
class Evaluation:
    """The values of the nodes that were asked for (and of those they need)."""

    problem: Problem
    values: dict[int, Array]

    @classmethod
    def run(cls, problem: Problem, wanted: set[int], known: Mapping[int, Array] | None = None) -> Evaluation:
        """Compute the wanted nodes' values in forward order, and only what they need; values already `known`
        (of nodes that do not change between runs) are taken as they are."""
        needed = closure(problem, wanted, set(known or ()))
        consumers = _consumers(problem.order)
        values: dict[int, Array] = dict(known or {})
        for node in problem.order:
            if id(node) not in needed or id(node) in values:
                continue
            if node.op == "var":
                values[id(node)] = problem.operands[node.name]
            elif node.op == "const":
                values[id(node)] = np.asarray(node.value, dtype=problem.dtype)
            else:
                args = [values[id(arg)] for arg in node.args]
                values[id(node)] = _apply(problem, node, args, consumers, wanted | set(known or ()))
                _drop_spent(node, values, consumers, wanted | set(known or ()), needed)
        return cls(problem, values)

    def value(self, node: Node) -> Array:
        """One node's value."""
        return self.values[id(node)]


def _drop_spent(node: Node, values: dict[int, Array], consumers: dict[int, list[Node]], wanted: set[int],
                needed: set[int] | None = None) -> None:
    """Forget the intermediate arguments of node that nothing wanted or still to be computed reads."""
    for arg in node.args:
        spent = all(id(c) in values for c in consumers.get(id(arg), []) if id(c) in needed) if needed else False
        if spent and id(arg) not in wanted and arg.op not in ("var", "const"):
            values.pop(id(arg), None)


def closure(problem: Problem, wanted: set[int], known: set[int] | None = None) -> set[int]:
    """The wanted nodes and every node their values are computed from (not looking past known values)."""
    needed = set(wanted)
    for node in reversed(problem.order):
        if id(node) in needed and id(node) not in (known or set()):
            needed.update(id(arg) for arg in node.args)
    return needed


def _consumers(order: tuple[Node, ...]) -> dict[int, list[Node]]:
    """For each node, the nodes that take its value as an argument."""
    consumers: dict[int, list[Node]] = {}
    for node in order:
        for arg in node.args:
            if node not in consumers.setdefault(id(arg), []):
                consumers[id(arg)].append(node)
    return consumers


def _apply(problem: Problem, node: Node, args: list[Array], consumers: dict[int, list[Node]],
           wanted: set[int]) -> Array:
    """One primitive's value, in its row's dtype, checked by the row when it has a check (for arrays in memory).
    A row with an in-place ufunc (a sum) writes into a fresh left argument (a product) nothing else reads."""
    rule = PRIMITIVES[node.op]
    if rule.elementwise and len(args) == 2:
        shape_x, shape_y = problem.shape(node.args[0]), problem.shape(node.args[1])
        args = [args[0].reshape(aligned(shape_x, shape_y)), args[1].reshape(aligned(shape_y, shape_x))]
        first = node.args[0]
        if (rule.inplace is not None and first.op in PRIMITIVES and PRIMITIVES[first.op].fresh
                and id(first) not in wanted and len(consumers.get(id(first), [])) == 1
                and args[0].shape == problem.shape(node) and isinstance(args[0], np.ndarray)
                and args[0].dtype == problem.dtype and args[0].ndim):
            rule.inplace(args[0], args[1], out=args[0])
            return args[0]
    try:
        value = as_array(rule.forward(node, *args))
    except np.linalg.LinAlgError:
        raise singular_error(node, args[0]) from None
    if rule.check is not None and all(isinstance(a, np.ndarray) for a in args):
        rule.check(node, args, value)
    dtype = rule.dtype(*(a.dtype for a in args))
    return value if value.dtype == dtype else value.astype(dtype)
