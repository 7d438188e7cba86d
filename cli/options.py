"""The options wxb's commands share, defined once (httpie-style: apart from parsing and from the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OPERANDS_PANEL = "Operands: a path, FILE.npz:KEY, - (stdin) or \"1 2; 3 4\""
EXPRESSION_PANEL = "Expression"
OUTPUT_PANEL = "Output"
DASK_PANEL = "Beyond memory: Dask (the wxb[dask] extra)"

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
        help="An .npz (or JSON object) bundle: each array binds the operand of its name (W, X, b, G, T, or any "
        "operand of -e) not given otherwise.",
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
HeaderOption = Annotated[
    bool | None,
    typer.Option(
        "--header/--no-header",
        help="Text operands: the first row is a header, always skipped (--header), or data, never skipped "
        "(--no-header). Default: sniffed, with a note on stderr.",
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
        help="Write the result to PATH, format from its suffix: a file (or a symlink's target) is replaced "
        "atomically; a FIFO, device or /dev/fd/N is written directly; NAME.zarr is a zarr store.",
        rich_help_panel=OUTPUT_PANEL,
        show_default=False,
    ),
]
PrecisionOption = Annotated[
    int,
    typer.Option(
        "--precision", "-p", min=1, max=17, help="Significant digits shown in tables (1 to 17).",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
DebugOption = Annotated[
    bool,
    typer.Option("--debug", help="Show the Python traceback of an error.", rich_help_panel=OUTPUT_PANEL),
]
ExprOption = Annotated[
    str | None,
    typer.Option(
        "--expr",
        "-e",
        metavar="EXPR",
        help="The layer expression, e.g. \"tanh(W1 @ X + b1)\"; bind its operands with NAME=SOURCE "
        "(default: W @ X + b, or X + b without W).",
        rich_help_panel=EXPRESSION_PANEL,
        show_default=False,
    ),
]
BindingsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[NAME=SOURCE]...",
        help="Bind the expression's operands: W1=w.csv X=x.npy b1=\"0.5; -1\" (any operand source).",
        show_default=False,
    ),
]
WrtOption = Annotated[
    str | None,
    typer.Option(
        "--wrt",
        metavar="NAMES",
        help="Operands to differentiate with respect to: all, or names separated by commas (default: every "
        "operand; backward and explain on W @ X + b: b).",
        rich_help_panel=EXPRESSION_PANEL,
        show_default=False,
    ),
]
DemoFormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", metavar="FMT", help="table or text (default: table on a terminal, text in a "
                 "pipe or a file).", rich_help_panel=OUTPUT_PANEL, show_default=False),
]
CheckFormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", metavar="FMT", help="table, text, csv, tsv or json (default: table on a "
                 "terminal, text in a pipe, or from -o's suffix).", rich_help_panel=OUTPUT_PANEL,
                 show_default=False),
]
JacobianFormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", metavar="FMT", help="The structure: table, text or json; with --block or "
                 "--dense: table, csv, tsv, json, npy or npz (default: table on a terminal, else text or csv, or "
                 "from -o's suffix).", rich_help_panel=OUTPUT_PANEL, show_default=False),
]
DaskOption = Annotated[
    bool,
    typer.Option("--dask", help="Compute on Dask, on a local cluster sized to this machine: operands read in blocks "
                 "of batch columns (.npy, zarr), results computed at once or written block by block to -o "
                 "(.npy, .zarr).", rich_help_panel=DASK_PANEL),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", metavar="ADDRESS", help="Compute on the Dask cluster at ADDRESS "
                 "(tcp://host:8786); .npy and zarr operands and -o must be on storage every worker sees.",
                 rich_help_panel=DASK_PANEL, show_default=False),
]
