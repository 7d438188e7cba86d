"""The derivation as text to paste elsewhere: markdown (Math StackExchange, GitHub) and LaTeX (a paper).

Matrices become `bmatrix` environments with the user's numbers; the formulas' Unicode (·, ⊙, ᵀ, ∂, ₙ) becomes
LaTeX commands. Markdown wraps each equation in `$$ … $$`; LaTeX writes a fragment for a document that loads
amsmath.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core.primitives import PRIMITIVES
from .derivation import Step

Array = np.ndarray[Any, np.dtype[Any]]
MAX_DRAWN = 400  # entries: a larger matrix is named, not written out

LATEX = {
    "⁻ᵀ": r"^{-\top}", "⁻¹": r"^{-1}", "‖": r"\|", "⟨": r"\langle ", "⟩": r"\rangle ",
    "·": r" \cdot ", "⊙": r" \odot ", "⊘": r" \oslash ", "⊗": r" \otimes ", "⊕": r" \oplus ", "ᵀ": r"^{\top}",
    "−": "-", "∂": r"\partial ", "Σ": r"\sum ", "δ": r"\delta", "β": r"\beta", "θ": r"\theta", "…": r"\dots ",
    "′": "'", "²": "^{2}", "ᴮ": r"^{B}", "≤": r"\le ", "×": r"\times ", "→": r"\to ",
}
SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
WORDS = ("sign", "adj", "tr")  # functions the rule texts use that are not rows of the table
# LaTeX's own operator names (\tanh is upright with a function's spacing); any other function is \operatorname.
MACROS = ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "exp", "log", "det", "max",
          "min")


def function_latex(name: str, row: Any) -> str:
    """A function's name in LaTeX, the one spelling of derive and explain: its row's own (\\operatorname{tr}),
    LaTeX's macro where there is one (\tanh), else upright (\\operatorname{softplus})."""
    if row.latex:
        return str(row.latex)
    return rf"\{name}" if name in MACROS else r"\operatorname{" + name.replace("_", r"\_") + "}"


FUNCTIONS = {name: function_latex(name, row) for name, row in PRIMITIVES.items() if row.called}
FUNCTIONS.update({word: r"\operatorname{" + word + "}" for word in WORDS})


def _identifier(match: re.Match[str]) -> str:
    return identifier_latex(match.group(0))


def identifier_latex(name: str) -> str:
    """One name in LaTeX: functions upright, X1 as X_{1}, G_z2 as G_{z2}, longer names in italic text."""
    if name == "axis":
        return r"\text{axis}"
    if name in FUNCTIONS:
        return FUNCTIONS[name]
    head, underscore, tail = name.partition("_")
    if len(head) == 1 and underscore and tail and "_" not in tail:
        return f"{head}_{{{tail}}}"
    if not underscore and len(name) > 1 and name[1:].isdigit():
        return f"{name[0]}_{{{name[1:]}}}"
    if underscore or len(name) > 3:
        return r"\mathit{" + name.replace("_", r"\_") + "}"
    return name


def latex_text(text: str) -> str:
    """A formula in LaTeX: names (_identifier), symbols to commands, Iₙ to I_{n}; words after 'for each' or a
    semicolon set as text beside the maths."""
    head, sep, tail = text.partition(" for each ")
    if not sep:
        head, sep, tail = text.partition("; ")
    if sep:
        words = _escape_latex((sep.strip(" ;") + " " + tail).strip()).replace("β", r"}\beta\text{")
        return latex_text(head) + r" \quad \text{" + words + "}"
    held: list[str] = []

    def hold(latex: str) -> str:
        held.append(latex)
        return f"\x01{len(held) - 1}\x02"

    prose = r"\b[a-z]{2,}(?: [a-z]{2,})+\b"  # two or more plain words: text beside the maths
    text = re.sub(prose, lambda m: m.group(0) if any(w in FUNCTIONS for w in m.group(0).split()) else
                  hold(r"\text{ " + m.group(0) + " }"), text)
    out = re.sub(r"\bdL/d([A-Za-z][A-Za-z0-9_]*)",
                 lambda m: hold(r"\mathrm{d}L/\mathrm{d}" + identifier_latex(m.group(1))), text)
    out = re.sub(r"[A-Za-z][A-Za-z0-9_]*", _identifier, out)
    out = re.sub(r"\x01(\d+)\x02", lambda m: held[int(m.group(1))], out)
    out = re.sub(r"([₀-₉]+)", lambda m: "_{" + m.group(1).translate(SUBSCRIPTS) + "}", out)
    for symbol, command in LATEX.items():
        out = out.replace(symbol, command)
    out = re.sub(r"(\\delta|\\beta|\\theta)_([A-Za-z0-9]+)", r"\1_{\2}", out)
    out = "".join(_greek(char) for char in out)
    return re.sub(r"  +", " ", out).strip()


# Greek capitals LaTeX has no command for, because they look like these Latin letters (\Alpha is undefined).
LATIN_CAPITALS = {"alpha": "A", "beta": "B", "epsilon": "E", "zeta": "Z", "eta": "H", "iota": "I", "kappa": "K",
                  "mu": "M", "nu": "N", "omicron": "O", "rho": "P", "tau": "T", "chi": "X"}


def _greek(char: str) -> str:
    """A Greek letter (in an operand's name, say) as its LaTeX command; anything else as it is."""
    if char.isascii():
        return char
    name = unicodedata.name(char, "")
    match = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER ([A-Z]+)", name)
    if not match:
        return char
    word = match.group(2).lower()
    word = {"lamda": "lambda"}.get(word, word)
    if match.group(1) == "CAPITAL" and word in LATIN_CAPITALS:
        return r"\mathrm{" + LATIN_CAPITALS[word] + "}"
    if word == "omicron":
        return "o"
    return "\\" + (word if match.group(1) == "SMALL" else word.capitalize()) + " "


def number_latex(x: float, precision: int) -> str:
    """A number for a matrix cell: %g at the precision (no more digits than its shortest round-trip form has: a
    subnormal's rounding noise is not shown), exponents as ×10^{k}."""
    if not np.isfinite(x):
        return {True: r"\text{NaN}"}.get(bool(np.isnan(x)), r"\infty" if x > 0 else r"-\infty")
    text = f"{x:.{precision}g}"
    if "e" in text:  # where %g writes an exponent, never more digits than the shortest form has
        shortest = np.format_float_scientific(x, unique=True).partition("e")[0].lstrip("-").replace(".", "")
        text = f"{x:.{min(precision, max(len(shortest.rstrip('0')), 1))}g}"
    mantissa, e, exponent = text.partition("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}" if e else text


def bmatrix(a: Array, precision: int) -> str:
    """A matrix (a 1-D vector as a column, a scalar as itself) as a bmatrix."""
    m = np.asarray(a, dtype=float)
    if m.ndim == 0:
        return number_latex(float(m), precision)
    m = m.reshape(m.shape[0], -1) if m.ndim else m
    rows = [" & ".join(number_latex(float(v), precision) for v in row) for row in m]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def _drawable(a: Array) -> bool:
    return a.ndim <= 2 and 0 < a.size <= MAX_DRAWN


def equation_latex(step: Step, precision: int) -> str:
    """The step's equation with its matrices, or its formula when a matrix is too large to write out."""
    arrays = [p for p in step.equation if isinstance(p, np.ndarray)]
    if step.equation and all(_drawable(np.asarray(a)) for a in arrays):
        return "".join(bmatrix(p, precision) if isinstance(p, np.ndarray) else latex_text(p) + " "
                       for p in step.equation).strip()
    return latex_text(step.formula.split("  (")[0])


def markdown(steps: list[Step], heading: str, precision: int) -> str:
    """The derivation as markdown with $$ … $$ display maths."""
    lines = [f"## {_escape_markdown(heading)}", ""]
    for number, step in enumerate(steps, start=1):
        lines += [f"**{number}. {_escape_markdown(step.title)}**", "", f"$$ {equation_latex(step, precision)} $$", ""]
        if step.note:
            lines += [_escape_markdown(step.note), ""]
    return "\n".join(lines)


def _escape_markdown(text: str) -> str:
    return re.sub(r"([*_`\\])", r"\\\1", text)


def latex(steps: list[Step], heading: str, precision: int) -> str:
    """The derivation as a LaTeX fragment (amsmath): a paragraph and a display equation per step."""
    lines = ["% wxb explain: needs \\usepackage{amsmath}", f"\\subsection*{{{_prose_latex(heading)}}}", ""]
    for number, step in enumerate(steps, start=1):
        lines += [f"\\paragraph{{{number}. {_prose_latex(step.title)}}}",
                  "\\[", f"  {equation_latex(step, precision)}", "\\]"]
        if step.note:
            lines += [_prose_latex(step.note)]
        lines.append("")
    return "\n".join(lines)


def _escape_latex(text: str) -> str:
    return re.sub(r"([#$%&_{}])", r"\\\1", text)


MATHS = re.compile(r"\S*[∂Σ⊕·⊙⊘ᵀ⊗‖⟨⟩⁻¹\u0370-\u03ff₀-₉→×≤′²ᴮ−…^~]\S*")


def _prose_latex(text: str) -> str:
    """Prose for LaTeX: special characters escaped, and each word written in symbols (∂f[:,k]/∂b, G·1, I₂)
    set as inline maths, so the text compiles with any engine."""
    out, last = [], 0
    for match in MATHS.finditer(text):
        out.append(_escape_latex(text[last:match.start()]))
        word = match.group(0)
        trail = len(word) - len(word.rstrip(").:,;"))
        core_, tail = (word[:-trail], word[-trail:]) if trail else (word, "")
        lead = len(core_) - len(core_.lstrip("("))
        out.append(core_[:lead] + f"${latex_text(core_[lead:])}$" + tail)
        last = match.end()
    out.append(_escape_latex(text[last:]))
    return "".join(out)


WRITERS: dict[str, Callable[[list[Step], str, int], str]] = {"markdown": markdown, "latex": latex}
