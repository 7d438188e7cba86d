"""Reverse mode over the graph: each node's adjoint from f's down to the operands', one VJP per edge (the row's),
reduced to the argument's shape by `unbroadcast`, with how each gradient was summed (for explain); and the
rounding bound of one evaluation, from the same values and adjoints (for check).

    grads = reverse(problem, G, ("W", "b"))      # grads["b"], grads.reductions["b"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .evaluation import Evaluation
from .expr import Node
from .losses import upstream_gradient
from .operands import as_array
from .primitives import PRIMITIVES
from .primitives.linalg import singular_error
from .primitives.row import constant_text
from .shapes import Reduction, aligned, unbroadcast

if TYPE_CHECKING:
    from .engine import Problem

Array = np.ndarray[Any, np.dtype[Any]]


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


def needed_values(problem: Problem, active: set[int]) -> set[int]:
    """The nodes whose values the VJPs on the active nodes read (by each rule's `uses`)."""
    needed: set[int] = set()
    for node in problem.intermediates():
        if id(node) not in active:
            continue
        uses = PRIMITIVES[node.op].read([id(arg) in active for arg in node.args])
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
    wanted = needed_values(problem, active) | ({id(node) for node in problem.order} if keep else set())
    wanted |= {id(problem.root)} if G is None else set()
    values = Evaluation.run(problem, wanted, known).values
    if G is None:
        G = as_array(upstream_gradient(values[id(problem.root)], loss, target))
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
    if rule.reads:  # an argument no active VJP reads was not computed: a stand-in of its shape
        args = [stand_in(problem, a) if v is None else v for a, v in zip(node.args, args, strict=True)]
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


def stand_in(problem: Problem, node: Node) -> Array:
    """A value of node's shape and dtype that holds no memory: NaN everywhere, a read-only broadcast view (for a
    VJP that needs an argument's shape, not its value)."""
    return np.broadcast_to(np.array(np.nan, dtype=problem.dtype), problem.shape(node))


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
