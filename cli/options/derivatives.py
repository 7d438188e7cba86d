"""The options of the derivative commands: the claims and assumptions of check --claim and derive, and the
second order (hessian's --vector and --eig, derive's and check's --order)."""

from __future__ import annotations

from typing import Annotated

import typer

from .shared import EXPRESSION_PANEL, OUTPUT_PANEL, completes

HessianFormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", metavar="FMT", help="H or H·v as data: csv, tsv (H as one matrix), json, npy or "
                 "npz (θ.shape + θ.shape; blocks keyed W,W W,b b,b); the structure and matrix: table or text; "
                 "--eig: table, text or json (default: table on a terminal, csv in a pipe, or from -o's suffix).",
                 rich_help_panel=OUTPUT_PANEL, show_default=False,
                 autocompletion=completes("table", "text", "csv", "tsv", "json", "npy", "npz")),
]
VectorOption = Annotated[
    list[str] | None,
    typer.Option("--vector", "-v", metavar="NAME=SOURCE", help="The direction v of H·v for operand NAME, of its "
                 "shape (any operand source); repeat for several operands (the others' v is 0).",
                 rich_help_panel=EXPRESSION_PANEL, show_default=False),
]
EigOption = Annotated[
    bool,
    typer.Option("--eig", help="The curvature summary: the extreme eigenvalues of H, its definiteness here and its "
                 "condition number (eigvalsh where H fits, else Lanczos on H·v: the curvature extra, SciPy).",
                 rich_help_panel=EXPRESSION_PANEL),
]
OrderOption = Annotated[
    int,
    typer.Option("--order", min=1, max=2, help="1: the gradient; 2: the Hessian, as its action on V "
                 "(d²L/dθ² · V) for derive, H·v against differences of the gradient for check.",
                 rich_help_panel=EXPRESSION_PANEL),
]


CLAIM_PANEL = "Your derivation: check --claim"
ClaimOption = Annotated[
    list[str] | None,
    typer.Option("--claim", "-c", metavar="CLAIM", help="A gradient you derived, judged: 'dL/dNAME = FORMULA' in "
                 "the expression language (G is ∂L/∂f), or dNAME=SOURCE for numbers; repeat for several. Operands "
                 "may be data, shapes (x=3 A=3x3) or symbolic sizes (W=mxk); exit 1 if any claim is wrong.",
                 rich_help_panel=CLAIM_PANEL, show_default=False),
]
ClaimsOption = Annotated[
    str | None,
    typer.Option("--claims", metavar="FILE", help="More claims, one per line, from FILE or - (stdin): wxb "
                 "derive's own output is valid, its z = … lines included.", rich_help_panel=CLAIM_PANEL,
                 show_default=False),
]
AssumeOption = Annotated[
    list[str] | None,
    typer.Option("--assume", metavar="NAME=KIND", help="What an operand is, for the draws: symmetric, spd, "
                 "diagonal or orthogonal (e.g. --assume A=symmetric).", rich_help_panel=CLAIM_PANEL,
                 show_default=False),
]
DeriveAssumeOption = Annotated[
    list[str] | None,
    typer.Option("--assume", metavar="NAME=KIND", help="What an operand is: symmetric, spd, diagonal or orthogonal; "
                 "the formulas use it (x.T @ A @ x with A symmetric: 2 * A @ x) and say so.", show_default=False),
]
