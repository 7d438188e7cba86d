"""explain's markdown and LaTeX: formulas become LaTeX commands, names are typeset sensibly, and the LaTeX
compiles (checked with pdflatex where it is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import wxb

from wxb.cli.show.notation import latex_text

EXPLAINED = [
    ["-X", "1 2; 3 4", "-b", "[5, 6]"],
    ["-e", "tanh(W @ X + b)", "W=1 0; 0 1", "X=1 2; 3 4", "b=[0.5, -4]"],
    ["-e", "-sum(T * log_softmax(W2 @ tanh(W1 @ X + b1) + b2))", "--from", "samples/mlp/mlp.npz", "--wrt", "b1"],
    ["-e", "w_in @ x_0 + bias_long_name", "w_in=1 2; 3 4", "x_0=1; 1", "bias_long_name=1; 2"],
    ["-e", "W @ X", "W=[[[1,2],[3,4]],[[5,6],[7,8]]]", "X=1 0; 0 1"],
    ["-X", "3", "-b", "1"],
    ["-e", "sqrt(abs(X)) / (1 + exp(-X)) ** 2 + relu(X.T @ X)", "X=1 -2; 0.5 3"],
    ["-e", "Wα @ X + b", "Wα=1 2; 3 4", "X=1; 1", "b=[1, 2]"],
    ["-X", "samples/conv/A.npy", "-b", "samples/conv/bias.npy", "-G", "samples/conv/G.npy"],
]
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("text", "latex"), [
    ("B = b·1ᵀ", r"B = b \cdot 1^{\top}"),
    ("∂vec f/∂b = 1₂ ⊗ I₂", r"\partial \operatorname{vec} f/\partial b = 1_{2} \otimes I_{2}"),
    ("G_z2 = G ⊙ (1 − f²)", r"G_{z2} = G \odot (1 - f^{2})"),
    ("z7 = z2 ⊘ z6", r"z_{7} = z_{2} \oslash z_{6}"),
    ("dL/db1 = G_z2·1", r"\mathrm{d}L/\mathrm{d}b_{1} = G_{z2} \cdot 1"),
    ("f = bias_long_name", r"f = \mathit{bias\_long\_name}"),
    ("∂f_ik/∂b_j = δ_ij", r"\partial f_{ik}/\partial b_{j} = \delta_{ij}"),
    ("f = log_softmax(z)", r"f = \operatorname{log\_softmax}(z)"),
])
def test_formulas_become_latex(text: str, latex: str) -> None:
    assert latex_text(text) == latex


def test_words_beside_the_maths_are_text() -> None:
    out = latex_text("∂vec f[β]/∂vec X[β] = I₂ ⊗ W[β] for each batch index β; X is shared along batch axis 0")
    assert r"\quad \text{for each batch index }\beta\text{; X is shared along batch axis 0}" in out


def explain(args: list[str], fmt: str) -> str:
    done = wxb("explain", *args, "--format", fmt)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("args", EXPLAINED, ids=lambda a: " ".join(a)[:40])
def test_markdown_has_display_maths_and_no_raw_unicode_maths(args: list[str]) -> None:
    text = explain(args, "markdown")
    maths = [line for line in text.splitlines() if line.startswith("$$")]
    assert maths and all(line.endswith("$$") for line in maths)
    assert not any(ch in line for line in maths for ch in "·⊙ᵀ∂⊗₂")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("args", EXPLAINED, ids=lambda a: " ".join(a)[:40])
def test_latex_compiles(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "steps.tex").write_text(explain(args, "latex"))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
                                      "\\input{steps.tex}\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize(("name", "latex"), [
    ("Α", r"\mathrm{A}"), ("Β", r"\mathrm{B}"), ("Ε", r"\mathrm{E}"), ("Ζ", r"\mathrm{Z}"), ("Η", r"\mathrm{H}"),
    ("Ι", r"\mathrm{I}"), ("Κ", r"\mathrm{K}"), ("Μ", r"\mathrm{M}"), ("Ν", r"\mathrm{N}"), ("Ο", r"\mathrm{O}"),
    ("Ρ", r"\mathrm{P}"), ("Τ", r"\mathrm{T}"), ("Χ", r"\mathrm{X}"), ("ο", "o"),
    ("Γ", r"\Gamma"), ("Ω", r"\Omega"), ("μ", r"\mu"),
])
def test_greek_letters_latex_lacks_are_written_as_the_latin_letter(name: str, latex: str) -> None:
    assert latex_text(f"f = {name}") == f"f = {latex}"


def test_markdown_headings_and_step_titles_are_escaped() -> None:
    from wxb.cli.show.derivation import Step
    from wxb.cli.show.notation import markdown

    text = markdown([Step(title="Back through f = a*b + c*d", formula="f", arrays={})], "f = a*b + c*d", 6)
    assert r"## f = a\*b + c\*d" in text
    assert r"**1. Back through f = a\*b + c\*d**" in text


def test_a_subnormal_cell_is_shown_as_its_shortest_form_not_its_rounding_noise() -> None:
    """1e-320 is stored as 9.99988671826831e-321; %g at 6 digits showed 9.99989 × 10^{-321}, a number nobody
    wrote. The cell shows no more digits than the shortest round-trip form has."""
    from wxb.cli.show.notation import number_latex

    assert number_latex(1e-320, 6) == r"1 \times 10^{-320}"
    assert number_latex(5e-324, 6) == r"5 \times 10^{-324}"
    assert number_latex(1 / 3, 6) == "0.333333"
    assert number_latex(1e308, 6) == r"1 \times 10^{308}"


@pytest.mark.parametrize(("x", "written"), [(10.0, "10"), (100.0, "100"), (9.0, "9"), (0.5, "0.5"),
                                            (1234567.0, r"1.23457 \times 10^{6}")])
def test_whole_numbers_stay_positional_where_g_writes_them_so(x: float, written: str) -> None:
    from wxb.cli.show.notation import number_latex

    assert number_latex(x, 6) == written
