"""Forward mode over the graph: the directional derivative df = J·v of f along tangents v of its operands, exact,
one tangent rule per edge (the row's `jvps`), in one pass beside the values, in memory.

    f, df = jvp(problem, None, {"b": v})                     # a checked Problem
    f, df = jvp("tanh(W @ X + b)", {"W": W, "X": X, "b": b}, {"W": V})

An operand without a tangent has tangent 0; a tangent has its operand's shape (a 1-D one also stands for its
column) and is computed in the problem's dtype; df has f's shape. At a kink (relu, abs at 0, a tie of max) the
tangent takes the derivative backward takes there, which `directional` reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .engine import Problem
from .errors import ShapeError, WxbError
from .evaluation import Evaluation
from .expr import Expression, Node
from .notation import shape_text
from .operands import as_array, as_operand
from .primitives import PRIMITIVES
from .primitives.linalg import singular_error
from .shapes import aligned, same_column

Array = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True)
class Kinked:
    """A node whose argument sits at its row's kink: how many entries (or slices, for a tie), and the derivative
    taken there (the row's convention, with the argument's text filled in)."""

    node: Node
    count: int
    convention: str


@dataclass(frozen=True)
class Directional:
    """f, its tangent df = J·v (f's shape), and the nodes the tangent passed at a kink."""

    f: Array
    df: Array
    kinks: tuple[Kinked, ...] = ()


def jvp(problem: Problem | str | Expression, arrays: Mapping[str, ArrayLike] | None,
        tangents: Mapping[str, ArrayLike]) -> tuple[Array, Array]:
    """(f, df): f and its directional derivative along the tangents (df = Σᵢ ∂f/∂θᵢ · vᵢ, f's shape); a Problem is
    used as it is (arrays None), an expression is built with `arrays` first."""
    if not isinstance(problem, Problem):
        problem = Problem.build(problem, arrays or {})
    done = directional(problem, tangents)
    return done.f, done.df


def checked_tangents(problem: Problem, tangents: Mapping[str, ArrayLike]) -> dict[str, Array]:
    """Each tangent of an operand of the expression, in its operand's shape and the problem's dtype."""
    checked = {}
    for name, given in tangents.items():
        if name not in problem.expression.operands:
            raise WxbError(f"a tangent for {name}, which is not an operand of {problem.expression.text}",
                           hint="the operands are " + ", ".join(problem.expression.operands))
        t = as_operand(given, f"the tangent of {name}")
        shape = problem.operands[name].shape
        if same_column(t.shape, shape):
            t = t.reshape(shape)
        if t.shape != shape:
            raise ShapeError(f"the tangent of {name} has shape {shape_text(t.shape)} but {name} has shape "
                             f"{shape_text(shape)}: a tangent has its operand's shape")
        checked[name] = t if t.dtype == problem.dtype else t.astype(problem.dtype)
    return checked


def directional(problem: Problem, tangents: Mapping[str, ArrayLike]) -> Directional:
    """Forward mode: every node's value, and the tangent of each node that depends on a tangent, in forward
    order (the row's tangent rule per edge, the parts summed and broadcast to the node's shape)."""
    given = checked_tangents(problem, tangents)
    values = Evaluation.run(problem, {id(node) for node in problem.order}).values
    dots: dict[int, Array] = {id(node): given[node.name] for node in problem.order
                              if node.op == "var" and node.name in given}
    kinks = []
    for node in problem.intermediates():
        active = [id(arg) in dots for arg in node.args]
        if not any(active):
            continue
        dots[id(node)] = _tangent(problem, node, values, dots, active)
        kinked = _kinked(problem, node, values)
        if kinked is not None:
            kinks.append(kinked)
    root = problem.root
    f = values[id(root)]
    df = dots.get(id(root))
    if df is None:
        df = np.zeros(problem.f_shape, dtype=problem.dtype)
    elif isinstance(df, np.ndarray) and not df.flags.writeable:
        df = df.copy()  # a tangent broadcast to f's shape is a view: f's own array goes out
    return Directional(f, df, tuple(kinks))


def _tangent(problem: Problem, node: Node, values: Mapping[int, Array], dots: Mapping[int, Array],
             active: list[bool]) -> Array:
    """One node's tangent: Σ over its arguments with a tangent of the row's rule, in the node's shape and dtype."""
    rule = PRIMITIVES[node.op]
    args, tangents = [values[id(a)] for a in node.args], [dots.get(id(a)) for a in node.args]
    if rule.elementwise and len(args) == 2:
        shapes = [problem.shape(a) for a in node.args]
        args = [a.reshape(aligned(s, shapes[1 - i])) for i, (a, s) in enumerate(zip(args, shapes, strict=True))]
        tangents = [None if t is None else t.reshape(aligned(s, shapes[1 - i]))
                    for i, (t, s) in enumerate(zip(tangents, shapes, strict=True))]
    parts = []
    try:
        for jvp_rule, t, on in zip(rule.jvps, tangents, active, strict=True):
            if on:
                parts.append(as_array(jvp_rule(node, t, values[id(node)], *args)))
    except np.linalg.LinAlgError:
        raise singular_error(node, args[0]) from None
    total = parts[0] if len(parts) == 1 else parts[0] + parts[1]
    shape = problem.shape(node)
    if total.shape != shape:
        total = np.broadcast_to(total, shape)
    return total if total.dtype == problem.dtype else total.astype(problem.dtype)


def _kinked(problem: Problem, node: Node, values: Mapping[int, Array]) -> Kinked | None:
    """The node, when its row has a kink and its argument sits at it."""
    kink = PRIMITIVES[node.op].kink
    if kink is None:
        return None
    count = kink.at(node, [values[id(a)] for a in node.args], values[id(node)])
    if not count:
        return None
    return Kinked(node, count, kink.convention.format(x=node.args[0].text, f=node.text))
