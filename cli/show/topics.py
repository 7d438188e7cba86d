"""`wxb help functions`, `wxb help operators` and `wxb help FUNCTION`: the expression language, written from the
table of primitives (wxb.core.primitives) and the parser's syntax table (wxb.core.expr.SYNTAX), so it cannot go
stale."""

from __future__ import annotations

import difflib
from typing import Any

LEGEND = ("In the rules: G = ∂L/∂f the upstream gradient, x and y the arguments, f the value, p the exponent of **, "
          "q = p − 1, n the count a mean divides by.")
OPERANDS = ("x", "y")
EXAMPLE_ARGUMENTS = ("X", "Y")


def _rows() -> dict[str, Any]:
    from ...core.primitives import PRIMITIVES

    return PRIMITIVES


def operator_spellings(x: str = "x", y: str = "y", p: str = "p") -> dict[str, str]:
    """Each operator's primitive name → how an expression writes it, from the parser's syntax table (x + y, -x,
    x.T); an operator differentiable in its left argument only (**) has the exponent p on its right."""
    from ...core.expr import SYNTAX

    rows = _rows()
    return {row.primitive: row.written(x, y if len(rows[row.primitive].vjps) == 2 else p) for row in SYNTAX}


def call_text(row: Any) -> str:
    """How an expression calls a function row: logdet(x), solve(x, y), sum(x, axis=None, keepdims=True)."""
    arguments = [*OPERANDS[:len(row.vjps)], *(f"{key}={default!r}" for key, default in row.keywords)]
    return f"{row.name}({', '.join(arguments)})"


def gradient_lines(row: Any) -> list[str]:
    """∂L/∂(each argument) in the expression language, or the reason there is no formula, with the maths."""
    names = OPERANDS[:len(row.vjps)]
    maths = [rule.format(G="G", x="x", y="y", f="f", p="p", q="q") for rule in row.rules]
    if not row.formulas:
        return [f"dL/d{name} = {rule}" for name, rule in zip(names, maths, strict=False)]
    return [f"dL/d{name} = {formula}   ({rule})" for name, formula, rule in zip(names, row.formulas, maths,
                                                                               strict=False)]


def example(row: Any) -> str:
    """A command that shows the row's gradient, runnable anywhere, printing no digit the machine decides."""
    arguments = EXAMPLE_ARGUMENTS[:len(row.vjps)]
    x, y = (*arguments, "Y")[:2]
    called = f"{row.name}({', '.join(arguments)})" if row.called else operator_spellings(x, y, p="3")[row.name]
    if row.formulas:
        shapes = row.example or " ".join(f"{name}=2x2" for name in EXAMPLE_ARGUMENTS[:len(row.vjps)])
        return f"wxb derive -e '{called}' {shapes}"
    values = row.example or "X='1 2; 3 4'"
    return f"wxb backward -e 'sum({called})' {values}"


def functions_text() -> str:
    """Every function and operator of the language, one line each: how to write it and its gradient rule."""
    spelled = operator_spellings()
    lines = ["Operators (as in Python; 1-D operands are columns):"]
    lines += [f"  {spelled[name]:<10} {' ; '.join(gradient_lines(row))}" for name, row in _rows().items()
              if name in spelled]
    lines += ["", "Functions:"]
    called = [row for row in _rows().values() if row.called]
    width = max(len(call_text(row)) for row in called if not row.keywords)
    for row in called:
        written = call_text(row)
        gap = "\n" + " " * (width + 4) if len(written) > width else " " * (width - len(written) + 2)
        lines.append(f"  {written}{gap}{' ; '.join(gradient_lines(row))}")
    lines += ["", LEGEND, "One function in full: wxb help FUNCTION (e.g. wxb help logdet)."]
    return "\n".join(lines) + "\n"


def function_text(name: str) -> str:
    """One function or operator in full: how to write it, its value, its rule, its gradient, an example."""
    row = _rows()[name]
    spelled = operator_spellings()
    written = call_text(row) if row.called else spelled[name]
    lines = [f"{written}   ({row.symbol})", ""]
    lines.append("value:    " + value_text(row))
    if row.keywords:
        lines.append("keywords: " + ", ".join(f"{key} (default {default!r})" for key, default in row.keywords))
    lines += ["gradient: " + line for line in gradient_lines(row)]
    if row.differential:
        lines.append("because:  " + row.differential.format(x="x", y="y", f="f"))
    if row.no_formula:
        lines.append("derive:   " + row.no_formula)
    lines += ["", "example:  " + example(row), "", LEGEND]
    return "\n".join(lines) + "\n"


def value_text(row: Any) -> str:
    """How the value is written: the operator's template, 'tanh x', 'x ⊗ y', 'blockdot(x, y)'."""
    if row.template:
        return str(row.template.format(x="x", y="y", p="p"))
    if row.arity == 1:
        return f"{row.symbol} x"
    return f"{row.symbol}(x, y)" if row.symbol.isidentifier() else f"x {row.symbol} y"


def topic_names() -> list[str]:
    """What `wxb help` knows besides the commands: functions, operators, and each function's and operator's name."""
    return ["functions", "operators", *_rows()]


def topic(name: str) -> str | None:
    """The text of a help topic, or None when there is none of that name."""
    if name in ("functions", "operators"):
        return functions_text()
    spelled = {text.replace("x", "").replace("y", "").replace("p", "").strip(): row
               for row, text in operator_spellings().items()}
    if name in _rows():
        return function_text(name)
    if name in spelled:  # wxb help @, wxb help .T
        return function_text(spelled[name])
    return None


def unknown(name: str, commands: list[str]) -> str:
    """The one-line error for `wxb help NOSUCH`, with the closest names or what exists."""
    known = [*commands, *topic_names()]
    close = difflib.get_close_matches(name, known, n=3)
    hint = "did you mean " + " or ".join(close) if close else "try " + ", ".join([*commands, "functions"])
    return f"wxb: error: no help on {name!r}, wxb help (hint: {hint})"
