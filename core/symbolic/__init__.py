"""The gradient as a formula: reverse mode over an expression's graph, done symbolically, in wxb's own language.

    terms.py     formulas as trees that compare by structure, and how the language writes them
    simplify.py  the arithmetic of the language: smart constructors that simplify as a person writes
    shaped.py    the Writer: that arithmetic with operand shapes (sums over broadcast axes, identities)
    naming.py    repeated subexpressions named once (z1, z2, …)
    derive.py    each row's VJP template instantiated along the graph, from f back to the operands

>>> from wxb.core.expr import parse
>>> derive(parse("sum((W @ X + b - Y) ** 2)"), {"W": (3, 4), "X": (4, 5), "b": (3,), "Y": (3, 5)}).text("W")
'2 * (W @ X + b - Y) @ X.T'
"""

from .derive import Derivation, derive, formula
from .shaped import Writer, shaped_like
from .terms import ONE, ZERO, DeriveError, Term, const, is_const, is_identity, number_text, term_of, text, var

__all__ = ["ONE", "ZERO", "Derivation", "DeriveError", "Term", "Writer", "const", "derive", "formula", "is_const",
           "is_identity", "number_text", "shaped_like", "term_of", "text", "var"]
