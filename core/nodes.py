"""The node of an expression graph: what the parser builds and the table of primitives reads (imported by both,
so neither imports the other for its type)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

Keyword = int | bool | None


@dataclass(frozen=True, eq=False)
class Node:
    """One node of the graph: an operand (op 'var'), a number ('const'), or a primitive applied to args.

    keywords: every keyword of the primitive with its value (the row's default unless given); given: the names
    the expression wrote. Nodes compare by identity, so the one node of an operand used twice collects both of
    its gradients."""

    op: str
    args: tuple[Node, ...] = ()
    name: str = ""
    value: float = 0.0
    power: float = 0.0
    keywords: tuple[tuple[str, Keyword], ...] = ()
    given: frozenset[str] = frozenset()
    text: str = field(default="", compare=False)

    @property
    def is_operand(self) -> bool:
        """True for a named operand (a leaf the user binds)."""
        return self.op == "var"

    def keyword(self, name: str) -> Keyword:
        """The value of one keyword (None when the primitive has no such keyword)."""
        return dict(self.keywords).get(name)

    @property
    def axis(self) -> int | None:
        """The axis= keyword (None: every axis, or a primitive without one)."""
        axis = self.keyword("axis")
        return None if axis is None or isinstance(axis, bool) else axis

    @property
    def keepdims(self) -> Keyword:
        """keepdims= as the expression wrote it (None: the primitive's default, or no such keyword)."""
        return self.keyword("keepdims") if "keepdims" in self.given else None

    @property
    def default_axis(self) -> bool:
        """True when the expression did not write axis= (the function's default applies)."""
        return "axis" not in self.given


def depends_on(order: Iterable[Node], names: set[str]) -> set[int]:
    """The ids of the nodes (in a forward order) whose value depends on any of the named operands."""
    found: set[int] = set()
    for node in order:
        if (node.op == "var" and node.name in names) or any(id(arg) in found for arg in node.args):
            found.add(id(node))
    return found


def fresh_labels(n: int, taken: set[str]) -> list[str]:
    """n names for intermediate values: z alone, or z1, z2, …, skipping the names operands already have (the
    engine's node labels and derive's repeated subexpressions alike)."""
    if n == 1 and "z" not in taken:
        return ["z"]
    free = (name for name in (f"z{i}" for i in itertools.count(1)) if name not in taken)
    return [next(free) for _ in range(n)]
