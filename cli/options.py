"""The options wxb's commands share, defined once (httpie-style: apart from parsing and from the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OPERANDS_PANEL = "Operands (a path, path.npz:KEY, '-' for stdin, or a literal like \"1 2; 3 4\")"
OUTPUT_PANEL = "Output"

WeightOption = Annotated[
    str | None,
    typer.Option(
        "-W",
        "--weight",
        metavar="W",
        help="Weight matrix W (absent: the identity).",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
InputOption = Annotated[
    str | None,
    typer.Option(
        "-X",
        "--input",
        metavar="X",
        help="Input matrix X (columns are samples).",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
BiasOption = Annotated[
    str | None,
    typer.Option(
        "-b",
        "--bias",
        metavar="B",
        help="Bias b; a 1-D bias is a column, one value per row of W·X.",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
GradOption = Annotated[
    str | None,
    typer.Option(
        "-G",
        "--grad",
        metavar="G",
        help="Upstream gradient ∂L/∂f, of f's shape (default: from --loss).",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option(
        "-T",
        "--target",
        metavar="T",
        help="Target for --loss mse, of f's shape.",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
BundleOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="NPZ",
        help="An .npz bundle with arrays named W, X, b, G, T: fills each operand not given by its own option.",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
DelimiterOption = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        metavar="CHAR",
        help="Column delimiter of text operands: one character, or tab, space, whitespace (default: sniffed).",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FMT",
        help="table, csv, tsv, json, npy or npz (default: table on a terminal, csv in a pipe, or from -o's suffix).",
        rich_help_panel=OUTPUT_PANEL,
        show_default=False,
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Write the result to PATH (atomically), format from its suffix.",
        rich_help_panel=OUTPUT_PANEL,
        show_default=False,
        dir_okay=False,
    ),
]
PrecisionOption = Annotated[
    int,
    typer.Option(
        "--precision", "-p", min=0, max=17, help="Significant digits shown in tables.", rich_help_panel=OUTPUT_PANEL
    ),
]
DebugOption = Annotated[
    bool,
    typer.Option("--debug", help="Show the Python traceback of an error.", rich_help_panel=OUTPUT_PANEL),
]
