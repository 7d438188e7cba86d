"""What the commands hand each other and the views: the user's choices, the checked problem, computed previews.

Plain values only: the commands build them, the views draw them, and neither module imports the other for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

    from .. import core

    Array = np.ndarray[Any, np.dtype[Any]]


class OutputChoice(NamedTuple):
    """Where results go: --format, -o and the display precision of tables."""

    fmt: str | None
    output: Path | None
    precision: int

class Sources(NamedTuple):
    """What the user gave for the operands: the expression, NAME=SOURCE bindings and the shorthand options."""

    expr: str | None
    bindings: list[str] | None
    shorthands: dict[str, str | None]
    G: str | None
    bundle: str | None
    delimiter: str | None
    header: bool | None
    target: str | None = None
    formula: bool = False  # G may be an operand of the expression (a formula wxb derive wrote), bound by G=
    lazy: bool = False  # --dask or --scheduler: operands as Dask arrays (wxb.cli.daskrun)

@dataclass(frozen=True)
class Loaded:
    """The checked problem, and what goes with it: G (-G), the mse target (--target, or -T when T is not an
    operand of the expression; target_label says which), and whether the expression is the default W @ X + b."""

    problem: core.Problem
    G: Array | None
    target: Array | None
    default: bool
    target_given: bool = False
    G_given: bool = False
    target_label: str = "-T"

    @property
    def heading(self) -> str:
        """f = W·X ⊕ b for the default expression (W absent is the identity), else f = the expression as given."""
        return "f = W·X ⊕ b" if self.default else f"f = {self.problem.expression.text}"

    def starts_from_G(self, loss: str | None) -> bool:
        """Whether the backward pass starts from the G given (-G, or a --from bundle's G when no --loss is asked
        for); else from 1 for a scalar f, or from the loss's G (the default loss, sum, when none is asked for).
        The one place that decides which G."""
        return self.G is not None and (loss is None or self.G_given)

class JacobianRequest(NamedTuple):
    wrt: str | None
    block: int | None
    dense: bool
    limit: int

class Blocks(NamedTuple):
    """The first blocks of a Jacobian as matrices (`asked` of them wanted), what they show, or why they were
    not computed."""

    matrices: list[Array]
    traits: str
    skipped: str
    asked: int

class Spy(NamedTuple):
    """A sparsity picture: its title, and its grid of filled cells (None when there is nothing to draw)."""

    title: str
    grid: Array | None
