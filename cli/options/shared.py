"""The options wxb's commands share, defined once (httpie-style: apart from parsing and from the work)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ..env import Environment, current, using
from ..model import Sources

F = TypeVar("F", bound=Callable[..., Any])


def completes(*values: str) -> Callable[[str], list[str]]:
    """What Tab offers for an option's value: those of `values` that start with what is typed."""

    def offered(incomplete: str) -> list[str]:
        return [value for value in values if value.startswith(incomplete)]

    return offered


OPERANDS_PANEL = "Operands: a path, FILE.npz:KEY, - (stdin) or \"1 2; 3 4\""
EXPRESSION_PANEL = "Expression"
OUTPUT_PANEL = "Output"
DASK_PANEL = "Beyond memory: Dask (the dask extra: pip install '.\\[dask]' in a checkout)"
SOURCE_PANEL = "Source text"

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
OperandTOption = Annotated[
    str | None,
    typer.Option(
        "-T",
        metavar="T",
        help="The operand T of the expression (-e), as T=SOURCE binds it (not an mse target: this command has no "
        "--loss mse).",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option(
        "-T",
        metavar="T",
        help="Target of --loss mse, of f's shape (a 1-D target is a column); when -e names an operand T, -T binds "
        "that operand and the target is given with --target.",
        rich_help_panel=OPERANDS_PANEL,
        show_default=False,
    ),
]
MseTargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        metavar="T",
        help="Target of --loss mse, also when -e names an operand T (f's shape; a 1-D target is a column).",
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
SourceDelimiterOption = Annotated[
    str | None,
    typer.Option("--delimiter", metavar="CHAR", help="Column delimiter of SRC: one character, or tab, space, "
                 "whitespace (default: sniffed).", rich_help_panel=SOURCE_PANEL, show_default=False),
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
SourceHeaderOption = Annotated[
    bool | None,
    typer.Option("--header/--no-header", help="The first row of SRC is a header, always skipped (--header), or "
                 "data, never skipped (--no-header). Default: sniffed, with a note on stderr.",
                 rich_help_panel=SOURCE_PANEL, show_default=False),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FMT",
        help="table, csv, tsv, json, npy or npz (default: table on a terminal, csv in a pipe, or from -o's suffix).",
        autocompletion=completes("table", "csv", "tsv", "json", "npy", "npz"),
        rich_help_panel=OUTPUT_PANEL,
        show_default=False,
    ),
]
def _named(path: Path | None) -> Path | None:
    """-o's path, refused when its name is empty (Click takes '' as '.', which as a folder it refuses itself)."""
    if path is not None and str(path) == ".":
        raise typer.BadParameter("the file name is empty")
    return path


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
        callback=_named,
    ),
]
DescriptionOutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Write the result to PATH, format from its suffix: a file (or a symlink's target) is replaced "
        "atomically; a FIFO, device or /dev/fd/N is written directly.",
        rich_help_panel=OUTPUT_PANEL,
        show_default=False,
        callback=_named,
    ),
]
JacobianOutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Write the result to PATH, format from its suffix: a file (or a symlink's target) is replaced "
        "atomically; a FIFO, device or /dev/fd/N is written directly; with --block or --dense, NAME.zarr is a "
        "zarr store.",
        rich_help_panel=OUTPUT_PANEL,
        show_default=False,
        callback=_named,
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
PrettyOption = Annotated[
    bool, typer.Option("--pretty", help="Indent JSON (one line without it).", rich_help_panel=OUTPUT_PANEL),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No notes on stderr (warnings and errors stay).", rich_help_panel=OUTPUT_PANEL),
]
NoColorOption = Annotated[
    bool, typer.Option("--no-color", help="No colour, as NO_COLOR=1 does.", rich_help_panel=OUTPUT_PANEL),
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
                 "pipe or a file).", rich_help_panel=OUTPUT_PANEL, show_default=False,
                 autocompletion=completes("table", "text")),
]
CheckFormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", metavar="FMT", help="table, text, csv, tsv or json (default: table on a "
                 "terminal, text in a pipe, or from -o's suffix).", rich_help_panel=OUTPUT_PANEL,
                 show_default=False, autocompletion=completes("table", "text", "csv", "tsv", "json")),
]
JacobianFormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", metavar="FMT", help="The structure: table, text or json; with --block or "
                 "--dense: table, csv, tsv, json, npy or npz (default: table on a terminal, else text or csv, or "
                 "from -o's suffix).", rich_help_panel=OUTPUT_PANEL, show_default=False,
                 autocompletion=completes("table", "text", "json", "csv", "tsv", "npy", "npz")),
]


OPERAND_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("bindings", BindingsArgument),
    ("expr", ExprOption),
    ("W", WeightOption),
    ("X", InputOption),
    ("b", BiasOption),
    ("G", GradOption),
    ("T", TargetOption),
    ("target", MseTargetOption),
    ("bundle", BundleOption),
    ("delimiter", DelimiterOption),
    ("header", HeaderOption),
)


OUTPUT_SWITCHES = {"pretty": PrettyOption, "quiet": QuietOption, "no_color": NoColorOption}


def switched_environment(pretty: bool, quiet: bool, no_color: bool) -> Environment:
    """The Environment a command runs under: the one its entry point built, with --pretty, -q and --no-color (each
    set afresh for each command, as CliRunner runs many in one process)."""
    return current().switched(quiet=quiet, pretty=pretty, no_color=no_color)


def operand_options(*, grad: bool = True, loss: bool = False, formula: bool = False,
                    bindings: Any = None) -> Callable[[F], F]:
    """Give a command the operand options, defined once above, and hand it what they say as one argument,
    `sources` (a Sources): NAME=SOURCE bindings, -e, -W -X -b, -G (with `grad`), -T, --target (with `loss`:
    then -T is also the mse target when the expression has no operand T), --from, --delimiter and --header.
    formula: G may be an operand, bound by G= (to evaluate a formula wxb derive wrote); bindings: the argument's
    own definition, where a command reads more than sources in it. Typer reads the command's signature; the
    shared options come first, then the command's own."""

    def decorate(command: F) -> F:
        own = [p for p in inspect.signature(command).parameters.values() if p.name != "sources"]
        hints = dict(OPERAND_OPTIONS) | ({} if loss else {"T": OperandTOption})
        hints |= {"bindings": bindings} if bindings is not None else {}
        shared = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=hint)
                  for name, hint in hints.items() if (grad or name != "G") and (loss or name != "target")]
        shared += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False, annotation=hint)
                   for name, hint in OUTPUT_SWITCHES.items()]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            env = switched_environment(**{name: kwargs.pop(name, False) for name in OUTPUT_SWITCHES})
            given = {name: kwargs.pop(name, None) for name, _ in OPERAND_OPTIONS}
            shorthands = {name: given[name] for name in ("W", "X", "b", "T")}
            sources = Sources(given["expr"], given["bindings"], shorthands, given["G"], given["bundle"],
                              given["delimiter"], given["header"], given["target"], formula)
            with using(env):
                return command(*args, sources=sources, **kwargs)

        run.__signature__ = inspect.Signature(shared + own)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in shared + own}
        return run  # type: ignore[return-value]

    return decorate
ChunkOption = Annotated[
    str | None,
    typer.Option(
        "--chunk",
        metavar="SIZE",
        help="Stream the batch (the last axis of X) in blocks of SIZE of the largest batch operand (256MB, 1GB), "
        "or off to refuse streaming. Default: whole when it fits in memory, else in blocks, with a note.",
        rich_help_panel="Big data",
        show_default=False,
    ),
]
DaskOption = Annotated[
    bool,
    typer.Option("--dask", help="Compute on Dask, on this machine's cores: operands read in blocks "
                 "of batch columns (.npy, zarr), results computed at once or written block by block to -o "
                 "(.npy, .zarr).", rich_help_panel=DASK_PANEL),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", metavar="ADDRESS", help="Compute on the Dask cluster at ADDRESS "
                 "(tcp://host:8786); .npy and zarr operands and -o must be on storage every worker sees.",
                 rich_help_panel=DASK_PANEL, show_default=False),
]
InMemoryDaskOption = Annotated[
    bool,
    typer.Option("--dask", help="Accepted, so that a line written for forward runs here too: this command computes "
                 "in memory, and a note says so (--dask is for forward and backward).", rich_help_panel=DASK_PANEL),
]
InMemorySchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", metavar="ADDRESS", help="Accepted as --dask is: this command computes in memory, "
                 "with a note.", rich_help_panel=DASK_PANEL, show_default=False),
]
DeriveBindingsArgument = Annotated[
    list[str] | None,
    typer.Argument(metavar="[NAME=SHAPE|NAME=SOURCE]...", help="Each operand's shape (W=3x4, b=3, s=() for a "
                   "scalar), or its data (any operand source); none: names only.", show_default=False),
]
DeriveFormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", metavar="FMT", help="text, json, markdown, latex or numpy (a Python function; "
                 "default: text, styled on a terminal, or from -o's suffix: .txt .json .md .tex .py).",
                 rich_help_panel=OUTPUT_PANEL, show_default=False,
                 autocompletion=completes("text", "json", "markdown", "latex", "numpy")),
]


class FormulaLoss(str, Enum):
    sum = "sum"
    mean = "mean"


class Loss(str, Enum):
    sum = "sum"
    mean = "mean"
    mse = "mse"


LossOption = Annotated[
    Loss | None,
    typer.Option(
        "--loss",
        "-l",
        help="Scalar loss that gives G when -G is absent: sum (G = 1), mean (G = 1/N) "
        "or mse against the target (-T or --target; G = 2(f − T)/N). Default: sum.",
        show_default=False,
    ),
]


DeriveLossOption = Annotated[
    FormulaLoss | None,
    typer.Option("--loss", "-l", help="L = sum(f) (G = 1) or mean(f) (G = 1/N); default: G itself, or 1 when "
                 "f is a scalar.", show_default=False),
]
