"""The derivation `wxb explain` writes: the chain rule step by step with the user's own numbers, as plain data.

Each Step has a title, its formula, the arrays that make it concrete, a note, and (where the arrays are small
enough to draw) the same formula written out with them. The views draw it for a terminal; wxb.cli.notation
writes it as markdown or LaTeX; json writes it as data. Nothing here prints or computes beyond calling wxb.core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ... import core
from ...core.engine import Gradients, Problem
from ...core.expr import Node
from ...core.losses import DEFAULT_LOSS
from ...core.primitives import PRIMITIVES
from ...core.primitives.row import keywords_text

Array = np.ndarray[Any, np.dtype[Any]]
Part = str | Array
INLINE_JACOBIAN = 64  # entries: a Jacobian this small is written out in full


class Step(NamedTuple):
    """One step of the derivation."""

    title: str
    formula: str
    arrays: dict[str, Array]
    note: str = ""
    equation: tuple[Part, ...] = ()


def _bias_kind(reduction: core.Reduction, ndim: int) -> str:
    """Which story a broadcast operand tells: column, row, scalar or same (on a 2-D result), else nd."""
    if ndim == 2 and not reduction.dropped_axes:
        return {(1,): "column", (0,): "row", (0, 1): "scalar", (): "same"}.get(reduction.kept_axes, "nd")
    if ndim == 2 and reduction.summed_axes == (0, 1):
        return "scalar"
    return "same" if not reduction.summed_axes else "nd"


def broadcast_label(name: str) -> str:
    """The name of an operand broadcast to the result's shape: b → B, b1 → B1, anything else → nameᴮ."""
    short = name[0].isalpha() and (len(name) == 1 or name[1:].isdigit())
    return name.upper() if short and name.upper() != name else f"{name}ᴮ"


def broadcast_step(item: core.BiasBroadcast, value: Array) -> Step:
    """B = b·1ᵀ: a broadcast written as the matrix product it is."""
    b, name, shape = value, item.name, item.out_shape
    B = np.array(np.broadcast_to(value.reshape(item.aligned_shape), shape))
    big = broadcast_label(name)
    kind = _bias_kind(item.reduction, len(shape))
    m, n = (shape[0], shape[1]) if len(shape) == 2 else (1, 1)
    axes = ", ".join(str(a) for a in item.reduction.summed_axes)
    formulas = {"column": (f"{big} = {name}·1ᵀ", ("", b.reshape(item.aligned_shape), " · ", np.ones((1, n)))),
                "row": (f"{big} = 1·{name}", ("", np.ones((m, 1)), " · ", b)),
                "scalar": (f"{big} = {name}·1·1ᵀ", ()),
                "same": (f"{big} = {name}", ())}
    formula, middle = formulas.get(kind, (f"{big} = {name} repeated along axes {axes}", ()))
    equation: tuple[Part, ...] = ((f"{formula} = ", *middle[1:], " = ", B) if middle else (f"{formula} = ", B))
    return Step("Broadcasting is a matrix product in disguise", formula, {name: b, big: B}, item.describe(),
                equation)


def _node_formula(problem: Problem, node: Node, names: dict[int, str]) -> str:
    """A node written with its arguments' labels, as its row writes it: 'z1 = W·X', 'f = tanh(z2)', 'f = z1 + B'."""
    args = [names.get(id(a), problem.label(a)) for a in node.args]
    return f"{problem.label(node)} = {PRIMITIVES[node.op].written(node, args)}"


def _node_equation(problem: Problem, node: Node, values: dict[int, Array], names: dict[int, str],
                   shown: dict[int, Array]) -> tuple[Part, ...]:
    """The node's formula written out with its arguments' values, then its own value: an operator's formula
    then its arrays (z = A ⊙ B = [..] ⊙ [..] = [..]), a function's name around its arrays (f = tanh([..]) = [..]),
    or the value alone (a transpose, a negation, a power)."""
    rule = PRIMITIVES[node.op]
    formula = _node_formula(problem, node, names)
    args = [shown.get(id(a), values[id(a)]) for a in node.args]
    value = values[id(node)]
    if rule.drawn == "infix":
        between = rule.template.format(x="\x00", y="\x00").split("\x00")
        return (formula + " = ", args[0], f" {between[1].strip()} ", args[1], " = ", value)
    if rule.drawn == "call":
        head = formula.split(" = ")[0] + f" = {node.op}("
        parts: list[Part] = [head]
        for i, arg in enumerate(args):
            parts += [", "] * (i > 0) + [arg]
        return (*parts, f"{keywords_text(node)}) = ", value)
    return (formula + " = ", value)


def forward_steps(problem: Problem, values: dict[int, Array], default: bool) -> list[Step]:
    """One step per primitive, in forward order: its formula, its value."""
    names: dict[int, str] = {}
    shown: dict[int, Array] = {}
    for item, node in _broadcast_nodes(problem):
        names[id(node)] = broadcast_label(item.name)
        shown[id(node)] = np.array(np.broadcast_to(values[id(node)].reshape(item.aligned_shape), item.out_shape))
    steps = []
    for node in problem.intermediates():
        formula = _node_formula(problem, node, names)
        title = "So the map is an ordinary sum" if default and node is problem.root else "Forward"
        arrays = {problem.label(node): values[id(node)]}
        steps.append(Step(title, formula, arrays, "", _node_equation(problem, node, values, names, shown)))
    return steps


def _broadcast_nodes(problem: Problem) -> list[tuple[core.BiasBroadcast, Node]]:
    """Each broadcast operand with its node."""
    nodes = {node.name: node for node in problem.order if node.op == "var"}
    return [(item, nodes[item.name]) for item in problem.broadcasts()]


def jacobian_step(problem: Problem, name: str) -> Step | None:
    """The structure of ∂f/∂θ, written out in full when small (only where the rules give it a closed form)."""
    from ...core import jacobian

    memo: jacobian.Memo = {}
    structure = jacobian.structure(problem, name, memo=memo)
    if not structure.kron:
        return None
    equation: tuple[Part, ...] = ()
    arrays: dict[str, Array] = {}
    if structure.size <= INLINE_JACOBIAN and " for each " not in structure.kron:
        dense = jacobian.dense(problem, name, memo=memo)
        arrays["J"] = jacobian.matrix_view(dense, structure.f_shape, structure.operand_shape)
        equation = (structure.kron + " = ", arrays["J"])
    identity = structure.block_rule.startswith(("each I", "= I")) and "scaled" not in structure.block_rule
    title = "The Jacobian is made of identity blocks" if identity else f"The Jacobian of f with respect to {name}"
    note = structure.describe() + ("  (∂f_ik/∂b_j = δ_ij)" if identity and name == "b" else "")
    return Step(title, structure.kron, arrays, note, equation)


def backward_steps(problem: Problem, grads: Gradients, upstream_note: str) -> list[Step]:
    """The upstream gradient at each primitive whose gradient is new (G_z), in reverse order: the rule of each
    edge that brings it, summed over the axes a broadcast stretched, and added up over several uses."""
    steps: list[Step] = []
    labels = grads.adjoint_labels
    for node in reversed(problem.intermediates()):
        label = labels.get(id(node))
        if node is problem.root or label is None or id(node) not in grads.adjoints:
            continue
        uses = problem.uses(node)
        if len(uses) == 1 and label == labels.get(id(uses[0][0])):
            continue  # passed through unchanged
        formula = f"{label} = " + " + ".join(_edge_text(grads, c, i) for c, i in uses)
        value = grads.adjoints[id(node)]
        where = " and ".join(_node_formula(problem, c, {}) for c, _ in uses)
        note = " ".join(part for part in (upstream_note if not steps else "", rule_notes(problem, uses, labels,
                                                                                          label)) if part)
        steps.append(Step(f"Back through {where}", formula, {label: value}, note, (formula + " = ", value)))
    return steps


def rule_notes(problem: Problem, uses: list[tuple[Node, int]], labels: Mapping[int, str], gradient: str) -> str:
    """Where each rule comes from, for the rows that say: 'd log|det A| = tr(A⁻¹·dA), so dL/dA = G·A⁻ᵀ.'"""
    notes = []
    for consumer, index in uses:
        row = PRIMITIVES[consumer.op]
        if row.differential:
            names = core.engine.rule_names(problem, consumer, labels.get(id(consumer), "G"))
            rule = core.engine.rule_text(problem, consumer, index, labels)
            notes.append(f"{row.differential.format(**names)}, so {gradient} = {rule}.")
    return " ".join(notes)


def _edge_text(grads: Gradients, consumer: Node, index: int) -> str:
    """One edge's rule, with the sum over the axes its argument was broadcast along, as the engine reduced it."""
    return _summed(grads.edges[(id(consumer), index)])


REDUCE = {
    "column": "{d} = {g}·1  (the row sums of {g})",
    "row": "{d} = 1ᵀ·{g}  (the column sums of {g})",
    "scalar": "{d} = 1ᵀ·{g}·1  (the sum of all of {g})",
    "same": "{d} = {g}",
}


def gradient_step(problem: Problem, grads: Gradients, name: str, note: str) -> Step:
    """dL/dθ with the rule that made it and how it was summed to θ's shape."""
    reduction = grads.reductions[name]
    value = grads[name]
    d, g = f"dL/d{name}", reduction.gradient
    plain = g.replace("_", "").isalnum()
    kind = _bias_kind(reduction, len(reduction.full_shape)) if plain and reduction.summed_axes else ""
    parts = grads.contributions[name]
    formula = REDUCE[kind].format(d=d, g=g) if kind in REDUCE else f"{d} = {_summed(reduction)}"
    if len(parts) > 1:
        formula = f"{d} = " + " + ".join(_summed(part) for part in parts)
        kind = "several"
    title = "The gradient sums G over the broadcast axis" if kind in ("column", "row", "scalar", "nd") else \
        f"The gradient with respect to {name}"
    adjoint = _adjoint_value(problem, grads, name)
    equation: tuple[Part, ...] = (f"{d} = ", value)
    if kind == "column" and adjoint is not None:
        equation = (f"{d} = {g}·1 = ", adjoint, " · ", np.ones((adjoint.shape[1], 1)), " = ", value)
    elif kind == "row" and adjoint is not None:
        equation = (f"{d} = 1ᵀ·{g} = ", np.ones((1, adjoint.shape[0])), " · ", adjoint, " = ", value)
    elif kind not in ("scalar", "same"):
        equation = (f"{formula} = ", value)
    arrays = {g: adjoint, d: value} if adjoint is not None and plain else {d: value}
    why = rule_notes(problem, problem.uses(problem.operand_node(name)), dict(grads.adjoint_labels), d)
    text = " ".join(part for part in (note, why, grads.describe(name)) if part)
    return Step(title, formula, arrays, text, equation)


def _summed(reduction: core.Reduction) -> str:
    """A contribution to a gradient: its rule, with the sum over the axes it was broadcast along."""
    if not reduction.summed_axes:
        return reduction.gradient
    return f"{reduction.gradient} summed over {core.notation.axes_text(reduction.summed_axes)}"


def _adjoint_value(problem: Problem, grads: Gradients, name: str) -> Array | None:
    """The upstream gradient at the one place operand `name` is used (None when used in several places)."""
    uses = problem.uses(problem.operand_node(name))
    if len(uses) != 1:
        return None
    return grads.adjoints.get(id(uses[0][0]))


def derivation(problem: Problem, G: Array | None, wrt: tuple[str, ...], upstream_note: str, *, default: bool,
               loss: str = DEFAULT_LOSS, target: Array | None = None) -> list[Step]:
    """Every step: broadcasts, the forward pass, the Jacobians with a closed form, the backward pass. Without G,
    the loss's G (against target, for mse) comes from f in the same forward pass."""
    if G is None:
        grads = problem.backward(None, wrt, keep=True, loss=loss, target=target)
    else:
        grads = problem.backward(G, wrt, keep=True)
    values = dict(grads.values)
    steps = [broadcast_step(item, problem.operands[item.name]) for item in problem.broadcasts()]
    steps += forward_steps(problem, values, default)
    for name in wrt:
        step = jacobian_step(problem, name)
        if step is not None:
            steps.append(step)
    back = backward_steps(problem, grads, upstream_note)
    steps += back
    for i, name in enumerate(wrt):
        steps.append(gradient_step(problem, grads, name, upstream_note if not back and i == 0 else ""))
    return steps
