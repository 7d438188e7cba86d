"""The table of primitives: each row owns everything about its primitive (shape rule, dtype rule, keywords, forward,
one VJP and one tangent rule per argument, rule text, LaTeX name, symbol, Jacobian structure, formula for derive,
batch rule), as JAX's `standard_primitive` and autograd's `defvjp` and `defjvp` do. The engine, the parser, the
derivation and the gradient check read the rows; none of them names a primitive.

Conventions every row keeps: a 1-D operand is a column (wxb.core.shapes), reductions with axis= keep the reduced
axis (size 1) unless keepdims=False, and rows are array-backend-neutral: no np.asarray on values, no writes into
inputs, no float() of a value; np.linalg's functions dispatch through __array_function__.

Adding a primitive is one row in its family file (elementwise, linalg, kronecker, reductions), with its tangent
rules, its gradient formula for `wxb derive` or the reason it has none, plus its entry in the one test table of
primitives, which tests enforce.
"""

from __future__ import annotations

from . import elementwise, kronecker, linalg, reductions
from .row import Primitive

FAMILIES = (elementwise.ROWS, linalg.ROWS, kronecker.ROWS, reductions.ROWS)
PRIMITIVES: dict[str, Primitive] = {row.name: row for rows in FAMILIES for row in rows}

__all__ = ["PRIMITIVES", "Primitive"]
