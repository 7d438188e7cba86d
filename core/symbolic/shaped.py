"""The Writer: the simplifier with operand shapes, where they are known. Every term's shape by the engine's own
rule (so formulas check as they will run); a gradient summed back to a broadcast operand's shape once, as
`unbroadcast` does with numbers; a reduced gradient put back along its axis; the identity of a matrix; a gradient
in its operand's shape. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import WxbError
from ..nodes import Node
from ..notation import shape_text
from ..primitives import PRIMITIVES
from ..shapes import Shape, aligned, as_matrix_shape, resolved_axis
from .simplify import Simplifier
from .terms import DeriveError, Term, const, is_const, node_keepdims, parents_first, text


def shape_rule(op: str, node: Node, shapes: list[Shape]) -> Shape:
    """The shape of a primitive's value from its arguments' (the engine's own rule, so formulas check as they
    will run). The one place that knows how the engine states shape rules."""
    from ..engine import node_shape

    return node_shape(node, shapes)


# ---- The writer: smart constructors that simplify, and shapes where they are known ----

@dataclass
class Writer(Simplifier):
    """Builds simplified terms; with operand shapes (`shapes`, None for names only) it knows every term's shape."""

    shapes: Mapping[str, Shape] | None
    assume: Mapping[str, str] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)
    known: dict[Term, Shape] = field(default_factory=dict)

    # ---- shapes ----

    def shape(self, t: Term) -> Shape | None:
        """t's shape, or None when the operands' shapes are not known."""
        if self.shapes is None:
            return None
        if t.op == "const":
            return ()
        if t.op == "var":
            return tuple(self.shapes[t.name])
        if t not in self.known:
            args = [self.shape(arg) for arg in t.args]
            written = {"axis": t.axis} if not t.default_axis else {}
            written |= {"keepdims": t.keepdims} if t.keepdims is not None else {}
            keywords = tuple((name, written.get(name, default)) for name, default in PRIMITIVES[t.op].keywords)
            stand_in = Node(t.op, tuple(Node("var", name=f"a{i}", text=text(arg)) for i, arg in enumerate(t.args)),
                            power=t.power, keywords=keywords, given=frozenset(written), text=text(t))
            self.known[t] = shape_rule(t.op, stand_in, [s for s in args if s is not None])
        return self.known[t]

    def is_scalar(self, t: Term) -> bool:
        """t is a number: of shape (), or, with names only, whatever the operands' matrices (a determinant, a
        sum over every axis, a norm)."""
        if is_const(t):
            return True
        try:
            if self.shapes is not None:
                return self.shape(t) == ()
            names = {leaf.name for leaf in parents_first([t], {}) if leaf.op == "var"}
            return Writer({name: (2, 2) for name in names}).shape(t) == ()
        except WxbError:
            return False

    def ndim(self, t: Term, default: int = 2) -> int:
        shape = self.shape(t)
        return default if shape is None else len(shape)

    # ---- reductions: Σ along an axis kept (for broadcasting back), and a gradient summed to a shape ----

    def summed(self, t: Term, axis: int | None, full: Shape | None = None) -> Term:
        """Σ t along `axis` (counted in t's axes, or in full's: the shape t stands for, by broadcasting), kept
        so that it broadcasts against t: sum(t, axis=1) is a column (m,) by wxb's rule; along an axis where t has
        length 1, the sum is that length times t."""
        shape = self.shape(t)
        if full is not None and shape is not None and len(shape) > len(full) == 1:  # t: the column (m, 1) of a
            full = (full[0], 1)  # 1-D value
        if full is not None and shape is not None and shape != full:
            own = (shape[0], 1) if len(shape) == 1 and len(full) >= 2 else shape
            own = (1,) * (len(full) - len(own)) + own
            axes = range(len(full)) if axis is None else [axis % len(full)] if full else []
            if all(own[a] == 1 for a in axes):
                return self.mul(const(math.prod(full[a] for a in axes)), t)
            if axis is None:  # each entry of t stands for as many as it is broadcast along
                repeats = math.prod(n for o, n in zip(own, full, strict=True) if o == 1)
                return self.mul(const(repeats), self.call("sum", (t,)))
            axis = axis % len(full) - (len(full) - len(shape) if len(shape) != 1 else 0)
        if axis is None:
            return self.call("sum", (t,))
        nd = len(shape) if shape is not None else 2
        if shape is not None and nd == 0:
            return t
        a = axis % nd
        if shape is not None and shape[a] == 1:
            return t
        if t.op == "T" and nd == 2 and (self.ndim(t.args[0]) == 2):
            return self.transpose(self.summed(t.args[0], 1 - a))
        if nd == 1:
            return self.call("sum", (t,))
        return self.call("sum", (t,), axis=a, default_axis=False)

    def reduced_to(self, t: Term, target: Shape, full: Shape) -> Term:
        """t (broadcasting to full) summed over the axes an operand of shape `target` was broadcast along; an
        axis along which t is constant is a factor (its length), not a sum."""
        from ..shapes import broadcast_axes

        own = self.shape(t) or ()
        if len(own) > len(full) == 1:  # t is the (m, 1) column a 1-D f stands for
            full = (full[0], 1)
            target = aligned(target, full)
        dropped, kept = broadcast_axes(target, full)
        own = (own[0], 1) if len(own) == 1 and len(full) >= 2 else own
        lead = len(full) - len(own)
        factor = 1
        kept_here: list[int] = []
        dropped_here: list[int] = []
        for axis in dropped + kept:
            if axis < lead or own[axis - lead] == 1:
                factor *= full[axis]
                if axis >= lead and axis in dropped:  # an axis of length 1 the operand does not have: dropped
                    dropped_here.append(axis - lead)
            else:
                (kept_here if axis in kept else dropped_here).append(axis - lead)
        result = t
        if kept_here or dropped_here:
            if {i for i, n in enumerate(own) if n != 1} <= set(kept_here + dropped_here):
                result = self.call("sum", (t,))  # every axis along which t varies: a scalar
            else:
                for axis in sorted(kept_here, reverse=True):
                    result = self.summed(result, axis)
                for axis in sorted(dropped_here, reverse=True):
                    result = self._dropped(result, axis)
        return self.mul(const(factor), result) if factor != 1 else result

    def _dropped(self, t: Term, axis: int) -> Term:
        """Σ t over a leading axis, the axis removed (a batch axis the operand does not have)."""
        return self.call("sum", (t,), axis=axis, default_axis=False, keepdims=False)

    def expanded(self, g: Term, node: Node, x: Term) -> Term:
        """A reduced gradient put back along the node's summed axis, so that it broadcasts against x. With names
        only, where no shape says whether a later @ needs it whole, it is made whole: g * x ** 0 (but a number
        stays a number)."""
        if self.shapes is None and not (is_const(g) and node.axis is None):
            return self.mul(self._expanded(g, node, x), self.pow(x, 0.0))
        return self._expanded(g, node, x)

    def _expanded(self, g: Term, node: Node, x: Term) -> Term:
        shape = self.shape(x)
        if "axis" not in dict(PRIMITIVES[node.op].keywords):  # a matrix function: one value per matrix
            return self._per_matrix(g, node, shape)
        nd = len(shape) if shape is not None else 2
        axis = resolved_axis(node, nd)
        if axis is None or node_keepdims(node) or nd <= 1 or self.shape(g) == ():
            return g
        a = axis % nd
        if nd == 2:  # the axis dropped: a 1-D G is a column (axis 1 summed); as a row it needs .T (axis 0)
            return g if a == 1 else self.transpose(g)
        if a == 0:  # a leading axis comes back by broadcasting against x itself (g * x ** 0: its other arguments
            return self.mul(g, self.pow(x, 0.0))  # may be smaller, and an outer sum is refused)
        raise DeriveError(f"putting the gradient of {node.text} back along axis {node.axis} of {nd} needs an axis "
                          "inserted, which wxb's language cannot write", hint="keep the axis (the default): "
                          f"write {node.op}(…, axis={node.axis}) without keepdims=False")

    def _per_matrix(self, g: Term, node: Node, shape: Shape | None) -> Term:
        """G of a matrix function (one value per matrix of a batch) as it broadcasts against the matrices: as
        it is when there is one matrix (or G is the same for all), refused otherwise (it would need two axes
        inserted)."""
        g_shape = self.shape(g)
        if shape is None or g_shape is None or all(n == 1 for n in g_shape):
            return g
        raise DeriveError(f"putting the gradient of {node.text} back on each matrix of {node.args[0].text} "
                          f"{shape_text(shape)} needs two axes inserted, which wxb's language cannot write",
                          hint="derive with one matrix (no batch axes); wxb backward gives the values")

    def eye(self, x: Term, node: Node) -> Term:
        """The identity of x's last two axes, eye(x) (a batch summed out first, so one identity serves every
        matrix); refused for a non-square matrix, whose identity the language cannot write."""
        shape = self.shape(x)
        if shape is not None:
            m = as_matrix_shape(shape)
            if m[-1] != m[-2]:
                raise DeriveError(f"the gradient of {node.text} puts G on the diagonal of {node.args[0].text} "
                                  f"{shape_text(shape)}, which is not square: wxb's language writes square "
                                  "identities only (diag(v) of a vector)", hint="wxb backward gives the values")
            for _ in shape[:-2]:
                x = self._dropped(x, 0)
        return Term("eye", (x,))

    def full(self, g: Term, f: Term) -> Term:
        """g in f's own shape, g * f ** 0, where it is smaller (a number, a row or a column that broadcasts)."""
        shape = self.shape(g)
        if (shape is None and not is_const(g)) or shape == self.shape(f):
            return g
        return self.mul(g, self.pow(f, 0.0))




def shaped_like(value: Any, shape: Shape) -> Any:
    """A formula's value in its operand's shape: a formula constant along an axis is written in a shape that
    broadcasts to the operand's (a 1-D value beside a matrix is a column), and a (m, 1) column reads as (m,)."""
    import numpy as np

    v = np.asarray(value)
    if v.shape == tuple(shape):
        return v
    if len(shape) == 1 and v.ndim == 2 and v.shape[1] == 1:  # a column stands for a 1-D operand
        return np.broadcast_to(v, (shape[0], 1)).reshape(shape).copy()
    if v.ndim == 1 and len(shape) >= 2:
        v = v.reshape(v.shape[0], 1)
    if v.size == math.prod(shape) and [n for n in v.shape if n != 1] == [n for n in shape if n != 1]:
        return v.reshape(shape)
    return np.broadcast_to(v, shape).copy()
