"""The engine: an expression's operands checked once into a Problem, its forward pass, and reverse mode over it.

    problem = Problem.build("tanh(W @ X + b)", {"W": W, "X": X, "b": b})
    f = problem.forward()
    grads = problem.backward(G)          # grads["b"], grads.reductions["b"]

The engine holds no primitive's name: each node's shape, value, check, gradients and rounding come from its row
in core/primitives/ (the conventions are stated there: a 1-D operand is a column everywhere, reductions along an
axis keep it). float32 stays float32: the computation runs in float32 when every float operand with an axis is float32
(scalars, integers, booleans and operands named as `weak` do not count), else in float64.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import BindingError, ShapeError, WxbError
from .expr import Expression, Node, parse
from .losses import upstream_gradient
from .notation import shape_text
from .operands import as_array, as_operand, filled, is_duck
from .primitives import PRIMITIVES
from .primitives.batch import KINDS
from .primitives.linalg import singular_error
from .primitives.row import constant_text
from .shapes import BiasBroadcast, Reduction, Shape, aligned, bias_broadcast, matmul_shape, same_column, unbroadcast

__all__ = ["Evaluation", "Gradients", "Problem", "aligned", "constant_text", "matmul_shape", "node_shape", "reverse",
           "rounding_scale", "rule_text"]

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
        arrays = {name: as_operand(given[name], name) for name in expr.operands}
        arrays = {name: a if a.dtype == dtype else a.astype(dtype) for name, a in arrays.items()}
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
        found: set[int] = set()
        for node in self.order:
            if (node.op == "var" and node.name in names) or any(id(arg) in found for arg in node.args):
                found.add(id(node))
        return found


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
    free = (name for name in (f"z{i}" for i in itertools.count(1)) if name not in taken)
    single = len(inner) == 1 and "z" not in taken
    names = {id(node): "z" if single else next(free) for node in inner}
    for node in order:
        if node.op == "var":
            names[id(node)] = node.name
        elif node.op == "const":
            names[id(node)] = node.text
    names[id(order[-1])] = "f"
    return names


# ---- Forward ----

@dataclass(frozen=True)
class Evaluation:
    """The values of the nodes that were asked for (and of those they need)."""

    problem: Problem
    values: dict[int, Array]

    @classmethod
    def run(cls, problem: Problem, wanted: set[int], known: Mapping[int, Array] | None = None) -> Evaluation:
        """Compute the wanted nodes' values in forward order, and only what they need; values already `known`
        (of nodes that do not change between runs) are taken as they are."""
        needed = _closure(problem, wanted, set(known or ()))
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


def _closure(problem: Problem, wanted: set[int], known: set[int] | None = None) -> set[int]:
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


# ---- Backward: reverse mode over the graph ----

@dataclass(frozen=True)
class Gradients:
    """dL/dθ for each operand asked for (keyed by name), with how each was summed to its operand's shape.

    Also reachable as attributes: grads.db, grads.dW1. With keep=True, values and adjoints of every node, and the
    reduction of every edge (keyed by the consumer's id and the argument's index): its rule and the axes summed."""

    grads: Mapping[str, Array]
    reductions: Mapping[str, Reduction]
    contributions: Mapping[str, tuple[Reduction, ...]]
    adjoint_labels: Mapping[int, str]
    values: Mapping[int, Array] = field(default_factory=dict, repr=False)
    adjoints: Mapping[int, Array] = field(default_factory=dict, repr=False)
    edges: Mapping[tuple[int, int], Reduction] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> Array:
        return self.grads[name]

    def __getattr__(self, attribute: str) -> Array | None:
        """grads.dW for grads["W"]; the seed's db, dW and dX are None when not computed."""
        grads = self.__dict__.get("grads", {})
        if attribute.startswith("d") and attribute[1:] in grads:
            return grads[attribute[1:]]  # type: ignore[no-any-return]
        if attribute in ("db", "dW", "dX"):
            return None
        raise AttributeError(attribute)

    def keyed(self) -> dict[str, Array]:
        """The gradients keyed 'd' + name, in the expression's order: {'db': ..., 'dW': ...}."""
        return {f"d{name}": grad for name, grad in self.grads.items()}

    def describe(self, name: str) -> str:
        """How dL/d(name) was reduced, e.g. 'G summed over axis 1, kept as a column: dL/db = G·1'."""
        parts = self.contributions[name]
        if len(parts) == 1:
            return parts[0].describe()
        return f"dL/d{name} sums the {len(parts)} places {name} is used: " + "; ".join(p.describe() for p in parts)


def _needed_values(problem: Problem, active: set[int]) -> set[int]:
    """The nodes whose values the VJPs on the active nodes read (by each rule's `uses`)."""
    needed: set[int] = set()
    for node in problem.intermediates():
        if id(node) not in active:
            continue
        uses = PRIMITIVES[node.op].uses
        if "f" in uses:
            needed.add(id(node))
        for letter, arg in zip("xy", node.args, strict=False):
            if letter in uses:
                needed.add(id(arg))
    return needed


def reverse(problem: Problem, G: Array | None, wrt: tuple[str, ...], *, keep: bool = False, loss: str | None = None,
            target: ArrayLike | None = None, known: Mapping[int, Array] | None = None) -> Gradients:
    """Reverse mode: each node's adjoint, from f's (G, or the loss's G from f) down to the operands', one VJP per
    edge; the forward pass computes only the values the VJPs read (and f, for a loss), less those already known
    (a Jacobian's rows share one forward pass)."""
    active = problem.depends_on(set(wrt))
    wanted = _needed_values(problem, active) | ({id(node) for node in problem.order} if keep else set())
    wanted |= {id(problem.root)} if G is None else set()
    values = Evaluation.run(problem, wanted, known).values
    if G is None:
        G = as_array(upstream_gradient(values[id(problem.root)], loss or "sum", target))
        G = G if G.dtype == problem.dtype else G.astype(problem.dtype)
    adjoints: dict[int, Array] = {id(problem.root): G}
    labels: dict[int, str] = {id(problem.root): "G"}
    kept: dict[int, Array] = {}
    kept_edges: dict[tuple[int, int], Reduction] = {}
    contributions: dict[str, list[tuple[Reduction, Array]]] = {name: [] for name in wrt}
    if problem.root.op == "var" and problem.root.name in contributions:  # f is an operand itself: dL/dθ = G
        shape = problem.shape(problem.root)
        contributions[problem.root.name].append((Reduction.between(problem.root.name, shape, shape), G))
    for node in reversed(problem.order):
        if node.op in ("var", "const") or id(node) not in adjoints:
            continue
        g = adjoints.pop(id(node))
        if keep:
            kept[id(node)] = g
        edges = _edges(problem, node, [id(arg) in active for arg in node.args], g, values, labels)
        for index, (arg, edge) in enumerate(zip(node.args, edges, strict=True)):
            if edge is None:
                continue
            grad, reduction = edge
            if keep:
                kept_edges[(id(node), index)] = reduction
            if arg.op == "var":
                contributions[arg.name].append((reduction, grad))
            else:
                _pass_label(problem, node, index, arg, labels, reduction)
                adjoints[id(arg)] = grad if id(arg) not in adjoints else adjoints[id(arg)] + grad
        if not keep and node is not problem.root:
            values.pop(id(node), None)
    grads, reductions, parts = {}, {}, {}
    for name in wrt:
        found = contributions[name]
        operand = problem.operands[name]
        shape = operand.shape
        total = as_array(sum((grad for _, grad in found[1:]), start=found[0][1]) if found else np.zeros_like(operand))
        grads[name] = (total if total.dtype == problem.dtype else total.astype(problem.dtype)).reshape(shape)
        parts[name] = tuple(reduction for reduction, _ in found)
        reductions[name] = parts[name][0] if parts[name] else Reduction.between(name, shape, shape, gradient="0")
        if keep:
            kept[id(problem.operand_node(name))] = grads[name]
    return Gradients(grads, reductions, parts, labels, values if keep else {}, kept, kept_edges)


def _edges(problem: Problem, node: Node, wanted: list[bool], g: Array, values: dict[int, Array],
           labels: dict[int, str]) -> list[tuple[Array, Reduction] | None]:
    """The gradient along each wanted edge (node → its argument), in the argument's shape, with its reduction."""
    rule = PRIMITIVES[node.op]
    shapes = [problem.shape(a) for a in node.args]
    args = [values.get(id(a)) for a in node.args]
    if rule.elementwise and len(args) == 2:
        args = [None if a is None else a.reshape(aligned(s, shapes[1 - i])) for i, (a, s) in enumerate(zip(
            args, shapes, strict=True))]
    try:
        grads = rule.gradients(node, g, values.get(id(node)), args, wanted)
    except np.linalg.LinAlgError:
        raise singular_error(node, values[id(node.args[0])]) from None
    edges: list[tuple[Array, Reduction] | None] = []
    for index, grad in enumerate(grads):
        if grad is None:
            edges.append(None)
            continue
        grad = as_array(grad)
        own = shapes[index]
        label, text = problem.label(node.args[index]), rule_text(problem, node, index, labels)
        if rule.elementwise:
            target = aligned(own, shapes[1 - index]) if len(shapes) == 2 else own
            full = grad.shape
            grad = unbroadcast(grad, target).reshape(own)
            reduction = Reduction.between(label, own, full, aligned_shape=target, gradient=text)
        elif rule.unsummed is not None:
            reduction = Reduction.between(label, own, rule.unsummed(index, shapes, g.shape), gradient=text)
        else:
            reduction = Reduction.between(label, own, own, gradient=text)
        edges.append((grad if grad.dtype == problem.dtype else grad.astype(problem.dtype), reduction))
    return edges


def rule_text(problem: Problem, node: Node, index: int, labels: Mapping[int, str]) -> str:
    """The rule of one edge with the labels filled in: 'G·Xᵀ', 'G_z2 ⊙ (1 − f²)'."""
    rule = PRIMITIVES[node.op].rules[index]
    return rule.format(**rule_names(problem, node, labels.get(id(node), "G")))


def rule_names(problem: Problem, node: Node, G: str = "G") -> dict[str, str]:
    """What a row's texts name: G, f, the arguments x and y by their labels, a power's p and q = p − 1."""
    names = {"G": G, "f": problem.label(node), "p": constant_text(node.power), "q": constant_text(node.power - 1)}
    for letter, arg in zip("xy", node.args, strict=False):
        names[letter] = problem.label(arg)
    return names


def _pass_label(problem: Problem, node: Node, index: int, arg: Node, labels: dict[int, str],
                reduction: Reduction) -> None:
    """An intermediate's adjoint label: its consumer's when passed through unchanged ('G'), else G_name."""
    if id(arg) in labels:
        labels[id(arg)] = f"G_{problem.label(arg)}"
        return
    passed = PRIMITIVES[node.op].rules[index] == "{G}" and not reduction.summed_axes
    labels[id(arg)] = labels.get(id(node), "G") if passed else f"G_{problem.label(arg)}"


def rounding_scale(problem: Problem, grads: Gradients) -> tuple[float, float]:
    """Bounds on the rounding error of one evaluation of L = Σ G ⊙ f, in one pass over the nodes: (relative,
    underflow). relative: eps · Σ over nodes of Σ |adjoint ⊙ value|, times each node's accumulation length (the
    inner size of a product or a sum). underflow: the spacing of the subnormal numbers times Σ |adjoint|, which
    bounds what underflow loses."""
    eps = float(np.finfo(problem.dtype).eps)
    tiny = float(np.finfo(problem.dtype).smallest_subnormal)
    total = 0.0
    spacing = 0.0
    for node in problem.order:
        if node.op == "const" or id(node) not in grads.adjoints or id(node) not in grads.values:
            continue
        adj, value = grads.adjoints[id(node)], grads.values[id(node)]
        if node.op == "var":
            adj = grads.grads.get(node.name, adj)
        magnitude = np.abs(np.asarray(adj, dtype=np.float64))
        moved = np.where(magnitude == 0, 0.0, magnitude * np.abs(np.asarray(value, np.float64)))  # an ∞ L ignores
        weight = float(np.sum(moved))
        total += weight * _accumulation(problem, node)
        spacing += float(np.sum(magnitude)) * _accumulation(problem, node)
    return eps * total, tiny * spacing


def _accumulation(problem: Problem, node: Node) -> float:
    """How many roundings a node's value collects (its row's count: k for a product over k, log2 n for a sum of
    n, 2 for an elementwise operation); an operand's value collects none beyond its own."""
    if node.op not in PRIMITIVES:
        return 2.0
    return PRIMITIVES[node.op].accumulation([problem.shape(arg) for arg in node.args])
