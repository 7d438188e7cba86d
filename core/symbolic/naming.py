"""Repeated subexpressions named once (z1, z2, …, as the engine labels its nodes). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..nodes import fresh_labels
from .terms import Term, is_const, leaf, parents_first


def _trivial(t: Term) -> bool:
    """Not worth a name: an operand, a number, an operand's transpose, a negation or a multiple (its inner part
    is named instead)."""
    return leaf(t) or t.op == "neg" or (t.op == "mul" and is_const(t.args[0]))


def _occurrences(terms: Iterable[Term], names: Mapping[Term, str]) -> dict[Term, int]:
    """How often each subterm is written, not looking inside subterms already named (each named subterm's own
    arguments counted once): counted over the shared graph of terms, parents before children."""
    roots = list(terms) + [arg for t in names for arg in t.args]
    order = parents_first(roots, names)
    counts: dict[Term, int] = {}
    for t in roots:
        counts[t] = counts.get(t, 0) + 1
    for t in order:
        if t in names:
            continue
        for arg in t.args:
            counts[arg] = counts.get(arg, 0) + counts.get(t, 0)
    return {t: n for t, n in counts.items() if t not in names}



def shared(formulas: Mapping[str, Term], taken: set[str]) -> tuple[dict[str, Term], tuple[tuple[str, Term], ...]]:
    """The formulas with each repeated subexpression named once: largest first, then named z1, z2, … in order of
    use (z when there is one), never an operand's name."""
    named: dict[Term, str] = {}
    while True:
        counts = _occurrences(formulas.values(), named)
        repeated = [t for t, n in counts.items() if n >= 2 and not _trivial(t)]
        if not repeated:
            break
        named[max(repeated, key=lambda t: t.size())] = ""
    ordered = _in_order_of_use(list(formulas.values()), named)
    return dict(formulas), tuple(zip(fresh_labels(len(ordered), taken), ordered, strict=True))


def _in_order_of_use(formulas: list[Term], named: Mapping[Term, str]) -> list[Term]:
    """The named subterms in the order they are first written, each after those it contains."""
    return [t for t in reversed(parents_first(formulas, {})) if t in named]
