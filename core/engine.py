"""The engine: an expression's operands bound and checked once into a Problem, which runs its forward pass
(wxb.core.evaluation) and reverse mode over it (wxb.core.reverse); their names are importable from here too.

    problem = Problem.build("tanh(W @ X + b)", {"W": W, "X": X, "b": b})
    f = problem.forward()
    grads = problem.backward(G)          # grads["b"], grads.reductions["b"]

The engine holds no primitive's name: each node's shape, value, check, gradients and rounding come from its row
in core/primitives/ (the conventions are stated there: a 1-D operand is a column everywhere, reductions along an
axis keep it). float32 stays float32: the computation runs in float32 when every float operand with an axis is float32
(scalars, integers, booleans and operands named as `weak` do not count), else in float64.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import BindingError, ShapeError, WxbError
from .evaluation import Evaluation
from .expr import Expression, Node, parse
from .nodes import depends_on, fresh_labels
from .notation import shape_text
from .operands import as_array, as_operand, filled, is_duck, mapped
from .primitives import PRIMITIVES
from .primitives.batch import KINDS
from .primitives.row import constant_text
from .reverse import Gradients, reverse, rounding_scale, rule_names, rule_text
from .shapes import BiasBroadcast, Shape, aligned, bias_broadcast, matmul_shape, same_column

__all__ = ["WHOLE", "Evaluation", "Gradients", "Problem", "aligned", "constant_text", "matmul_shape", "node_shape",
           "reverse", "rounding_scale", "rule_names", "rule_text", "whole_matrix_ops"]

Array = np.ndarray[Any, np.dtype[Any]]
WHOLE = tuple(kind for kind in KINDS if kind.whole_matrices)  # the batch kinds of rows that need whole matrices


# ---- Shapes: every node's shape, checked before anything is computed ----

def node_shape(node: Node, args: list[Shape]) -> Shape:
    """The shape of a primitive's value from its arguments' shapes: the row's shape rule."""
    return PRIMITIVES[node.op].shape(node, args)


# ---- The checked problem ----

@dataclass(frozen=True)
class Problem:
    """An expression with its operands converted and every shape checked: what the commands pass along.

    names: each node's label (operands by name, intermediates z or z1, z2, …, the root f, numbers as written)."""

    expression: Expression
    operands: Mapping[str, Array]
    dtype: np.dtype[Any]
    shapes: Mapping[int, Shape]
    names: Mapping[int, str]
    order: tuple[Node, ...] = field(repr=False)

    @classmethod
    def build(cls, expression: str | Expression, operands: Mapping[str, ArrayLike], *,
              weak: Iterable[str] = ()) -> Problem:
        """Parse (if needed), bind and check: every operand of the expression given, no other, shapes that fit."""
        expr = parse(expression) if isinstance(expression, str) else expression
        missing = [name for name in expr.operands if name not in operands]
        unused = [name for name in operands if name not in expr.operands]
        if missing or unused:
            raise BindingError(_binding_message(expr, missing, unused),
                               hint=f"the operands of {expr.text} are " + ", ".join(expr.operands))
        given = {name: as_array(operands[name]) for name in expr.operands}
        dtype = computation_dtype(given, set(weak))
        arrays = {name: as_operand(given[name], name, keep=mapped(operands[name])) for name in expr.operands}
        # an operand mapped from a file keeps its dtype: converted whole it would be read into memory before
        # anything is planned; each block read from it is converted instead (and NumPy promotes in memory)
        arrays = {name: a if a.dtype == dtype or mapped(operands[name]) else a.astype(dtype)
                  for name, a in arrays.items()}
        order = tuple(expr.nodes())
        shapes: dict[int, Shape] = {}
        for node in order:
            if node.op == "var":
                shapes[id(node)] = arrays[node.name].shape
            elif node.op == "const":
                shapes[id(node)] = ()
            else:
                shapes[id(node)] = node_shape(node, [shapes[id(arg)] for arg in node.args])
        if any(is_duck(a) for a in arrays.values()):
            _refuse_whole_matrices(order)
        return cls(expr, arrays, dtype, shapes, _labels(order), order)

    @property
    def root(self) -> Node:
        """The node whose value is f."""
        return self.expression.root

    @property
    def f_shape(self) -> Shape:
        """The shape of f."""
        return self.shapes[id(self.root)]

    def shape(self, node: Node) -> Shape:
        """The shape of one node's value."""
        return self.shapes[id(node)]

    def label(self, node: Node) -> str:
        """One node's label: an operand's name, z1, f, or a number as written."""
        return self.names[id(node)]

    def intermediates(self) -> list[Node]:
        """The primitive nodes in forward order, f last."""
        return [node for node in self.order if node.op not in ("var", "const")]

    def forward(self) -> Array:
        """f, the expression's value."""
        return Evaluation.run(self, {id(self.root)}).value(self.root)

    def operand_node(self, name: str) -> Node:
        """The one node of operand `name`."""
        return next(node for node in self.order if node.op == "var" and node.name == name)

    def uses(self, node: Node) -> list[tuple[Node, int]]:
        """Where node's value is used: each consumer, with the index of the argument node is there."""
        return [(user, index) for user in self.order for index, arg in enumerate(user.args) if arg is node]

    def backward(self, G: ArrayLike | None = None, wrt: Iterable[str] | str | None = None, *,
                 keep: bool = False, loss: str | None = None, target: ArrayLike | None = None) -> Gradients:
        """dL/dθ for each operand θ in wrt (default: all), for the upstream gradient G = ∂L/∂f (default 1 when
        f is a scalar), or for G from a loss of the table (sum, mean, mse against target), computed from f in
        the same forward pass. keep: also return every node's value and adjoint."""
        names = self.wrt_names(wrt)
        if loss is not None:
            if G is not None:
                raise WxbError("give G or a loss, not both", hint="G is ∂L/∂f itself; a loss derives it from f")
            return reverse(self, None, names, keep=keep, loss=loss, target=target)
        return reverse(self, self.upstream(G), names, keep=keep)

    def wrt_names(self, wrt: Iterable[str] | str | None) -> tuple[str, ...]:
        """The operands named in wrt ('all', None or names), each once, in the expression's order."""
        if not self.expression.operands:
            raise WxbError(f"f = {self.expression.text} has no operands to differentiate with respect to",
                           hint="name at least one operand in the expression, e.g. 2 * X")
        if wrt is None or wrt == "all":
            return self.expression.operands
        names = [wrt] if isinstance(wrt, str) else list(wrt)
        if "all" in names:
            return self.expression.operands
        for name in names:
            if name not in self.expression.operands:
                raise WxbError(f"cannot differentiate with respect to {name!r}: it is not an operand of "
                               f"{self.expression.text}", hint="choose from " + ", ".join(self.expression.operands))
        return tuple(name for name in self.expression.operands if name in names)

    def upstream(self, G: ArrayLike | None) -> Array:
        """G = ∂L/∂f: given (f's shape, or a scalar broadcast to it), or 1 when f is a scalar or has one entry
        (the 1×1 quadratic form x.T @ A @ x: L = f)."""
        if G is None:
            if any(n != 1 for n in self.f_shape):
                raise WxbError(f"f = {self.expression.text} has shape {shape_text(self.f_shape)}, not a scalar: "
                               "the backward pass needs the upstream gradient G = ∂L/∂f",
                               hint="give -G, or a loss (--loss sum, mean or mse)")
            return np.ones(self.f_shape, dtype=self.dtype)
        g = as_operand(G, "G")
        if g.shape == ():  # a view (NumPy) or f's own lazy full (Dask): never an f-sized array filled up front
            g = g.astype(np.result_type(self.dtype, g.dtype), copy=False)
            return filled(g, self.f_shape, like=self.forward() if self.lazy else None)
        if same_column(g.shape, self.f_shape):  # a 1-D G for an (m,1) f, or a column G for a 1-D f
            g = g.reshape(self.f_shape)
        if g.shape != self.f_shape:
            raise ShapeError(f"G has shape {shape_text(g.shape)} but f = {self.expression.text} has shape "
                             f"{shape_text(self.f_shape)}: the upstream gradient ∂L/∂f must have f's shape")
        return g

    @property
    def lazy(self) -> bool:
        """True when an operand is a duck array (Dask): then every value is computed lazily, by its backend."""
        return any(is_duck(a) for a in self.operands.values())

    def broadcasts(self) -> list[BiasBroadcast]:
        """How each operand combined elementwise with a larger array is stretched (b·1ᵀ for a column bias), in
        forward order; an operand of the result's own shape only when it is the right side of a sum (a bias)."""
        found = []
        for node in self.intermediates():
            rule = PRIMITIVES[node.op]
            if not rule.elementwise or len(node.args) != 2:
                continue
            for index, arg in enumerate(node.args):
                own, other = self.shape(arg), self.shape(node.args[1 - index])
                stretched = aligned(own, other) != self.shape(node) or aligned(own, other) != own
                bias = index == 1 and rule.additive
                if arg.op == "var" and (stretched or bias):
                    found.append(bias_broadcast(own, self.shape(node), name=arg.name, other=other))
        return found

    def linear_in(self, name: str) -> bool:
        """True when f is linear in operand `name` with the other operands held fixed."""
        depends = self.depends_on({name})
        for node in self.intermediates():
            if id(node) not in depends:
                continue
            flags = [id(arg) in depends for arg in node.args]
            rule = PRIMITIVES[node.op]
            if sum(flags) > 1 and not rule.additive:
                return False
            if any(f and not lin for f, lin in zip(flags, rule.linear, strict=True)):
                return False
        return True

    def depends_on(self, names: set[str]) -> set[int]:
        """The ids of the nodes whose value depends on any of the named operands."""
        return depends_on(self.order, names)


def whole_matrix_ops(order: tuple[Node, ...]) -> list[str]:
    """The primitives of order that need whole matrices (det, inv, …: their batch rule is matrix or whole)."""
    return sorted({node.op for node in order if node.op in PRIMITIVES and PRIMITIVES[node.op].batch.whole_matrices})


def _refuse_whole_matrices(order: tuple[Node, ...]) -> None:
    """Dask computes in blocks of batch columns: the rows that need whole matrices (det, inv, …: their batch rule
    is matrix or whole) would make Dask hand NumPy the whole array behind the user's back, so they are refused."""
    whole = whole_matrix_ops(order)
    if whole:
        raise WxbError(f"{', '.join(whole)} {'needs' if len(whole) == 1 else 'need'} whole matrices, and a Dask "
                       "array is computed in blocks of batch columns",
                       hint="compute it without --dask or --scheduler: the matrix functions run in memory")


def computation_dtype(arrays: Mapping[str, Array], weak: set[str]) -> np.dtype[Any]:
    """float32 when every float operand with an axis (not weak) is float32 and one is, or, with no such operand,
    when every float operand is float32; float64 otherwise."""
    floats = {name: a for name, a in arrays.items() if a.dtype.kind == "f" and name not in weak}
    strong = [a.dtype for a in floats.values() if a.ndim] or [a.dtype for a in floats.values()]
    if strong and all(d.itemsize == 4 for d in strong):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _binding_message(expr: Expression, missing: list[str], unused: list[str]) -> str:
    """Which names the expression uses but were not given, and which were given but are not used."""
    parts = []
    if missing:
        parts.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} used in {expr.text} but not given")
    if unused:
        parts.append(f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} given but not used in {expr.text}")
    return "; ".join(parts)


def _labels(order: tuple[Node, ...]) -> dict[int, str]:
    """Labels: operands by name, numbers as written, the root f, other primitives z (one) or z1, z2, …, skipping
    the names operands already have."""
    taken = {node.name for node in order if node.op == "var"}
    inner = [node for node in order[:-1] if node.op not in ("var", "const")]
    names = dict(zip((id(node) for node in inner), fresh_labels(len(inner), taken), strict=True))
    for node in order:
        if node.op == "var":
            names[id(node)] = node.name
        elif node.op == "const":
            names[id(node)] = node.text
    names[id(order[-1])] = "f"
    return names
