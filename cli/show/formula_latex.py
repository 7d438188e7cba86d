"""derive's formulas in LaTeX and Markdown: each term with the infix precedences of core.expr's SYNTAX table, the
functions as cli.show.notation names every row, and the values as bmatrix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ...core import symbolic
from ...core.expr import SYNTAX
from ...core.symbolic import Derivation, Term
from .notation import FUNCTIONS as LATEX_FUNCTIONS
from .notation import bmatrix, identifier_latex

Array = np.ndarray[Any, np.dtype[Any]]


def assuming(derivation: Derivation) -> str:
    """Which assumptions (--assume) the formulas rely on: 'assuming A symmetric'."""
    return "assuming " + ", ".join(f"{name} {kind}" for name, kind in derivation.used.items())


# ---- LaTeX ----

# The infix precedences of core.expr's one SYNTAX table; in LaTeX a product of matrices (juxtaposed) binds
# tighter than ⊙ and ⊘, so a ⊙ (B C) needs no parentheses.
LATEX_LEVEL: dict[str, float] = {row.primitive: row.precedence for row in SYNTAX if row.form != "postfix"}
LATEX_LEVEL["matmul"] = 2.5


def term_latex(t: Term, names: Mapping[Term, str]) -> str:
    """A term in LaTeX: @ as juxtaposition (binding tighter than ⊙), * as ⊙ (a number times as a product),
    / as ⊘ (over a number, a fraction), .T as ^⊤, inv(X) as X^{-1}."""
    if t in names:
        return identifier_latex(names[t])
    if t.op == "var":
        return identifier_latex(t.name)
    if t.op == "const":
        return symbolic.number_text(t.value)
    a = [term_latex(arg, names) for arg in t.args]
    own = LATEX_LEVEL.get(t.op, 5)

    def wrapped(i: int, strict: bool = False) -> str:
        inner = _latex_level(t.args[i], names)
        return a[i] if inner > own or (inner == own and not strict) else rf"\left({a[i]}\right)"

    if t.op in ("add", "sub"):
        return f"{wrapped(0)} {'+' if t.op == 'add' else '-'} {wrapped(1, strict=True)}"
    if t.op == "mul":
        scalar = symbolic.is_const(t.args[0])
        return f"{wrapped(0)} {wrapped(1, strict=True)}" if scalar else rf"{wrapped(0)} \odot {wrapped(1, True)}"
    if t.op == "div":
        if symbolic.is_const(t.args[1]):
            return rf"\frac{{{a[0]}}}{{{a[1]}}}"
        right = a[1] if _latex_level(t.args[1], names) == 5 else rf"\left({a[1]}\right)"
        return rf"{wrapped(0)} \oslash {right}"
    if t.op == "matmul":
        return f"{wrapped(0)} {wrapped(1, strict=True)}"
    if t.op == "neg":
        return f"-{a[0]}" if _latex_level(t.args[0], names) >= 2 else rf"-\left({a[0]}\right)"
    if t.op == "pow":
        return f"{_atom(t.args[0], a[0], names)}^{{{symbolic.number_text(t.power)}}}"
    if t.op == "T":
        return f"{_atom(t.args[0], a[0], names)}^{{\\top}}"
    if symbolic.is_identity(t):  # eye(X) is written I, as books write the identity
        return "I"
    name = LATEX_FUNCTIONS.get(t.op) or identifier_latex(t.op)  # the rows' names, as explain writes them
    axis = "" if t.default_axis else rf", \text{{axis}}={t.axis}"
    return rf"{name}\left({', '.join(a)}{axis}\right)"


def _latex_level(t: Term, names: Mapping[Term, str]) -> float:
    """How tightly t binds in LaTeX; a number times a matrix (2 z) binds as a product of matrices."""
    if t in names:
        return 5
    if t.op == "mul" and symbolic.is_const(t.args[0]):
        return LATEX_LEVEL["matmul"]
    return LATEX_LEVEL.get(t.op, 3 if _negative(t) else 5)


def _negative(t: Term) -> bool:
    return t.op == "const" and t.value < 0


def _atom(t: Term, latex: str, names: Mapping[Term, str]) -> str:
    """latex bare when t is a name, an operand or a call; else in parentheses."""
    bare = t in names or t.op == "var" or (t.op not in LATEX_LEVEL and t.op not in ("T", "const"))
    return latex if bare or (t.op == "const" and not _negative(t)) else rf"\left({latex}\right)"


def latex_lines(derivation: Derivation, inline: bool = False) -> list[tuple[str, str]]:
    """(label, formula) in LaTeX: the where bindings, then ∂L/∂θ."""
    names: dict[Term, str] = {}
    lines = []
    if not inline:
        for label, term in derivation.where:
            lines.append((identifier_latex(label), term_latex(term, names)))
            names[term] = label
    for name in derivation.formulas:
        term = derivation.formulas[name] if inline else derivation.named[name]
        lines.append((rf"\frac{{\partial L}}{{\partial {identifier_latex(name)}}}", term_latex(term, names)))
    return lines


def _value_latex(values: Mapping[str, Array], name: str, precision: int) -> str:
    return f" = {bmatrix(values[name], precision)}" if name in values else ""


def _heading(derivation: Derivation) -> str:
    said = f", {assuming(derivation)}" if derivation.used else ""
    return f"wxb derive: f = {derivation.expression.text}{said}"


def markdown(derivation: Derivation, inline: bool, values: Mapping[str, Array], precision: int) -> str:
    """The formulas as markdown, each in $$ … $$ display maths (ready for Math StackExchange or GitHub)."""
    out = [f"## {_heading(derivation)}", ""]
    names = list(derivation.formulas)
    latex = latex_lines(derivation, inline)
    first = len(latex) - len(names)
    for i, (label, formula) in enumerate(latex):
        value = _value_latex(values, names[i - first], precision) if i >= first else ""
        out += [f"$$ {label} = {formula}{value} $$", ""]
    if derivation.upstream:
        out += [r"where $G = \partial L / \partial f$, the upstream gradient.", ""]
    return "\n".join(out)


def latex(derivation: Derivation, inline: bool, values: Mapping[str, Array], precision: int) -> str:
    """The formulas as a LaTeX fragment (amsmath): one align* environment."""
    names = list(derivation.formulas)
    latex = latex_lines(derivation, inline)
    first = len(latex) - len(names)
    rows = [f"  {label} &= {formula}"
            f"{_value_latex(values, names[i - first], precision) if i >= first else ''}"
            for i, (label, formula) in enumerate(latex)]
    heading = _heading(derivation).replace("_", r"\_")
    out = ["% wxb derive: needs \\usepackage{amsmath}", f"% {heading}", r"\begin{align*}", " \\\\\n".join(rows),
           r"\end{align*}"]
    if derivation.upstream:
        out.append(r"where $G = \partial L / \partial f$, the upstream gradient.")
    return "\n".join(out) + "\n"


WRITERS: dict[str, Callable[[Derivation, bool, Mapping[str, Array], int], str]] = {
    "markdown": markdown, "latex": latex}
