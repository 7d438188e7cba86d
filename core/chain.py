"""The chain from θ up to f that gives a Jacobian its known structure (wxb.core.jacobian): θ used once, at an
elementwise rule or a product, then shape-keeping elementwise rules only; the product of their diagonal factors;
the axes of a matrix product; and the memo that keeps the values they read, once per problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine import Evaluation, Problem, aligned
from .expr import Node
from .primitives import PRIMITIVES
from .reverse import rule_names
from .shapes import Shape

Array = np.ndarray[Any, np.dtype[Any]]


# ---- The chain from θ up to f ----

@dataclass(frozen=True)
class Chain:
    """f depends on θ through `first` (θ its argument `index`), then only elementwise rules that keep the shape:
    ∂f/∂θ = diag(scale)·(the first rule's Jacobian). factors: the diagonal factors as text, outermost first."""

    name: str
    first: Node
    index: int
    factors: tuple[str, ...]
    scaled: tuple[tuple[Node, int], ...]

    @property
    def kind(self) -> str:
        """'matmul' (a product's rule at θ) or 'broadcast' (an elementwise rule at θ, which may broadcast it)."""
        return "matmul" if PRIMITIVES[self.first.op].product else "broadcast"


def _only_use(problem: Problem, node: Node) -> tuple[Node, int] | None:
    """The one consumer of node and its argument index there, when node is used exactly once."""
    uses = problem.uses(node)
    return uses[0] if len(uses) == 1 else None


def _factor_text(problem: Problem, node: Node, index: int) -> str | None:
    """The diagonal factor ∂node/∂arg as text, from the row (None when it is I)."""
    factor = PRIMITIVES[node.op].factors[index]
    return factor.format(**rule_names(problem, node)) if factor else None


def chain(problem: Problem, name: str) -> Chain | None:
    """θ's chain up to f, when it has one (θ used once, at an elementwise rule or a product, then shape-keeping
    elementwise rules only); None otherwise."""
    use = _only_use(problem, problem.operand_node(name))
    if use is None or not (PRIMITIVES[use[0].op].elementwise or PRIMITIVES[use[0].op].product):
        return None
    first, index = use
    factors: list[str] = []
    scaled: list[tuple[Node, int]] = []
    if not PRIMITIVES[first.op].product:
        text = _factor_text(problem, first, index)
        if text is not None:
            factors.append(text)
            scaled.append((first, index))
    node = first
    while node is not problem.root:
        up = _only_use(problem, node)
        if up is None or not PRIMITIVES[up[0].op].elementwise or problem.shape(up[0]) != problem.shape(node):
            return None
        text = _factor_text(problem, *up)
        if text is not None:
            factors.insert(0, text)
            scaled.append(up)
        node = up[0]
    return Chain(name, first, index, tuple(factors), tuple(scaled))


Memo = dict[tuple[int, str], tuple[Problem, Any]]  # values computed for one problem, kept by the caller


def remembered(problem: Problem, memo: Memo | None, key: str, compute: Any) -> Any:
    """compute(), once per problem and key when the caller passes a memo (the blocks and the spy plot read the same
    values again and again); computed afresh without one."""
    if memo is None:
        return compute()
    slot = (id(problem), key)
    held = memo.get(slot)
    if held is not None and held[0] is problem:
        return held[1]
    value = compute()
    memo[slot] = (problem, value)
    return value


def node_value(problem: Problem, node: Node, memo: Memo | None = None) -> Array:
    """One node's value (computed once per problem with a memo)."""
    return remembered(problem, memo, f"value {id(node)}",  # type: ignore[no-any-return]
                       lambda: Evaluation.run(problem, {id(node)}).value(node))


def chain_scale(problem: Problem, link: Chain, memo: Memo | None = None) -> Array | None:
    """The product of the chain's diagonal factors, of f's shape (None when there are none); computed once per
    problem with a memo."""
    if not link.scaled:
        return None
    return remembered(problem, memo, f"scale {link.name}",  # type: ignore[no-any-return]
                       lambda: _scale(problem, link))


def _scale(problem: Problem, link: Chain) -> Array:
    """The product of the chain's diagonal factors, of f's shape."""
    values = Evaluation.run(problem, {id(a) for node, _ in link.scaled for a in (node, *node.args)}).values
    scale: Array | None = None
    for node, index in link.scaled:
        args = [values[id(a)] for a in node.args]
        if len(args) == 2:
            shapes = [problem.shape(a) for a in node.args]
            args = [a.reshape(aligned(s, shapes[1 - i])) for i, (a, s) in enumerate(zip(args, shapes, strict=True))]
        ones = np.ones(problem.shape(node), dtype=problem.dtype)
        weight = np.broadcast_to(PRIMITIVES[node.op].vjps[index](node, ones, values[id(node)], *args),
                                 problem.shape(node))
        scale = weight if scale is None else scale * weight
    assert scale is not None
    return scale


# ---- Matrix products with 1-D arguments promoted as np.matmul does ----

@dataclass(frozen=True)
class MatmulAxes:
    """W·X seen as a batch of (m, k) @ (k, n) products; a 1-D operand is a column: W (m,) is (m, 1), X (k,) is
    (k, 1) (and f drops that axis of 1, as np.matmul does)."""

    batch: Shape
    w_batch: Shape
    x_batch: Shape
    m: int
    k: int
    n: int
    w_vector: bool
    x_vector: bool

    @classmethod
    def of(cls, w: Shape, x: Shape) -> MatmulAxes:
        """The batch, W-batch, X-batch shapes and m, k, n of a product of arguments shaped w and x."""
        w2 = (*w, 1) if len(w) == 1 else w
        x2 = (*x, 1) if len(x) == 1 else x
        batch = tuple(np.broadcast_shapes(w2[:-2], x2[:-2]))
        return cls(batch, w2[:-2], x2[:-2], w2[-2], w2[-1], x2[-1], len(w) == 1, len(x) == 1)
