"""The wxb command: a Typer app whose commands are thin wrappers over wxb.core.

Each command reads its options, then hands plain values to wxb.cli.commands, imported only when a command runs,
so `wxb --help` and `wxb --version` start without NumPy or Rich.
"""

# No `from __future__ import annotations`: Typer would have to eval every hint of every command at each start.
import functools
import os
import signal
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from .env import Environment, current, using
from .errors import ExitStatus
from .options import (
    CheckFormatOption,
    ChunkOption,
    DaskOption,
    DebugOption,
    DemoFormatOption,
    DeriveBindingsArgument,
    DeriveFormatOption,
    DescriptionOutputOption,
    FormatOption,
    JacobianFormatOption,
    OutputOption,
    PrecisionOption,
    QuietOption,
    SchedulerOption,
    SourceDelimiterOption,
    SourceHeaderOption,
    WrtOption,
    operand_options,
    switched_environment,
)

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    name="wxb",
    no_args_is_help=False,  # a bare `wxb` gets main's short usage instead
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings=HELP_OPTIONS,
    epilog="Manual: docs/ in the source tree (make docs builds it; docs/index.md is its start). "
    "Completion: wxb --install-completion \\[bash|zsh|fish].",
)

F = TypeVar("F", bound=Callable[..., Any])


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


def guarded(command: F) -> F:
    """Run a command so that every failure the user can cause ends in one line on stderr and its exit status;
    NumPy's floating-point warnings are silenced here and reported per result by the commands."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            import numpy as np

            with np.errstate(all="ignore"), using(Environment.from_process()):  # the terminal's state, read once
                return command(*args, **kwargs)
        except typer.Exit:
            raise
        except BaseException as exc:
            if kwargs.get("debug") and not isinstance(exc, KeyboardInterrupt):
                raise
            from .errors import failure

            status, message = failure(exc)
            if message:
                typer.echo(message, err=True)
            raise typer.Exit(status) from None

    return run  # type: ignore[return-value]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"wxb {version('wxb')}")
        raise typer.Exit(ExitStatus.OK)


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A calculator for f = W·X ⊕ b and any layer expression: forward pass, backward pass, Jacobian blocks.

    [bold]Example[/bold]: wxb forward -X "1 2; 3 4" -b "5; 6"
    """


def _on_dask(dask: bool, scheduler: str | None) -> Any:
    """Where the command's Dask graph runs (--scheduler's cluster, this machine's cores for --dask), or nowhere."""
    if not dask and scheduler is None:
        import contextlib

        return contextlib.nullcontext()  # and Dask's module is not even imported: start-up stays as it was
    from .run.dask import running

    return running(dask, scheduler)


def _in_memory(command: str, dask: bool, scheduler: str | None) -> None:
    """jacobian, check and explain compute in memory: say so when --dask or --scheduler was asked for."""
    if dask or scheduler is not None:
        from .env import note

        note(f"{command} computes in memory: {'--scheduler' if scheduler else '--dask'} is for forward and backward")


def _out(fmt: str | None, output: Any, precision: int) -> Any:
    from .model import OutputChoice

    return OutputChoice(fmt, output, precision)


@app.command(context_settings=HELP_OPTIONS)
@guarded
@operand_options(grad=False, formula=True)
def forward(
    sources: Any,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    chunk: ChunkOption = None,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Compute f = W·X ⊕ b (the bias broadcast over W·X), or any expression given with -e.

    [bold]Example[/bold]: wxb forward -X "1 2; 3 4" -b "5; 6"   (f = [[6,7],[9,10]])
    """
    from .commands import work as commands

    with _on_dask(dask, scheduler):
        lazy = sources._replace(lazy=dask or scheduler is not None)
        commands.forward(commands.load(lazy), _out(fmt, output, precision), chunk)


@app.command(context_settings=HELP_OPTIONS)
@guarded
@operand_options(loss=True)
def backward(
    sources: Any,
    loss: LossOption = None,
    wrt: WrtOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    chunk: ChunkOption = None,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Backpropagate an upstream gradient G = ∂L/∂f to dL/db (and dL/dW, dL/dX, or any operand of -e).

    [bold]Example[/bold]: wxb backward -X "1 2; 3 4" -b "5; 6"   (dL/db = G·1 = [2;2])
    """
    from .commands import work as commands

    with _on_dask(dask, scheduler):
        lazy = sources._replace(lazy=dask or scheduler is not None)
        commands.backward(commands.load(lazy), loss.value if loss else None, wrt, _out(fmt, output, precision), chunk)


@app.command(context_settings=HELP_OPTIONS)
@guarded
@operand_options(grad=False)
def jacobian(
    sources: Any,
    wrt: Annotated[
        str | None,
        typer.Option("--wrt", metavar="NAME", help="The operand to differentiate f with respect to (default: b).",
                     show_default=False),
    ] = None,
    block: Annotated[
        int | None,
        typer.Option(
            "--block", "-k", min=0, help="Output block K only (∂f[:,K]/∂b for a column bias).", show_default=False
        ),
    ] = None,
    dense: Annotated[bool, typer.Option("--dense", help="Output the whole dense Jacobian (size-guarded).")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most entries --dense may allocate.")] = 10_000_000,
    fmt: JacobianFormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Show the Jacobian of f in blocks: ∂f[:,k]/∂b = I for every column k, its Kronecker form and a spy plot.

    [bold]Example[/bold]: wxb jacobian -X "1 2; 3 4" -b "5; 6"   (2 blocks, each I₂)
    """
    from .commands import work as commands

    _in_memory("jacobian", dask, scheduler)

    request = commands.JacobianRequest(wrt, block, dense, limit)
    commands.jacobian(commands.load(sources), request, _out(fmt, output, precision))


@app.command(context_settings=HELP_OPTIONS)
@guarded
@operand_options(loss=True)
def check(
    sources: Any,
    loss: LossOption = None,
    wrt: WrtOption = None,
    fmt: CheckFormatOption = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 3,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Compare the analytic gradients of L with central finite differences; exit 1 if any disagree. L is Σ G ⊙ f
    for -G, else the --loss (default sum: L = Σ f), against -T for mse; the check says which.

    [bold]Example[/bold]: wxb check -W samples/dense/W.csv -X samples/dense/X.csv -b samples/dense/b.csv
    """
    from .commands import work as commands

    _in_memory("check", dask, scheduler)

    if not commands.check(commands.load(sources), loss.value if loss else None, wrt, _out(fmt, output, precision)):
        raise typer.Exit(ExitStatus.CHECK_FAILED)


@app.command(context_settings=HELP_OPTIONS)
@guarded
@operand_options(loss=True)
def explain(
    sources: Any,
    loss: LossOption = None,
    wrt: WrtOption = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", metavar="FMT", help="table, text, json, markdown or latex (default: table on "
                     "a terminal, text in a pipe, or from -o's suffix: .txt .json .md .tex).", show_default=False,
                     rich_help_panel="Output"),
    ] = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 6,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Derive the gradients step by step with your own numbers: B = b·1ᵀ, the forward pass, the chain rule.

    [bold]Example[/bold]: wxb explain -X "1 2; 3 4" -b "5; 6"
    """
    from .commands import work as commands

    _in_memory("explain", dask, scheduler)

    commands.explain(commands.load(sources), loss.value if loss else None, wrt, _out(fmt, output, precision))


@app.command(context_settings=HELP_OPTIONS)
@guarded
@operand_options(bindings=DeriveBindingsArgument)
def derive(
    sources: Any,
    loss: Annotated[
        FormulaLoss | None,
        typer.Option("--loss", "-l", help="L = sum(f) (G = 1) or mean(f) (G = 1/N); default: G itself, or 1 when "
                     "f is a scalar.", show_default=False),
    ] = None,
    wrt: WrtOption = None,
    inline: Annotated[
        bool, typer.Option("--inline", help="Write every subexpression out: no z = … lines (what forward -e takes).")
    ] = False,
    evaluate: Annotated[
        bool, typer.Option("--eval", help="Also evaluate each formula with the operands' data (and -G).")
    ] = False,
    fmt: DeriveFormatOption = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Write each gradient dL/dθ as a formula in wxb's expression language, from shapes, names or data.

    [bold]Example[/bold]: wxb derive -e "sum((W @ X + b - Y) ** 2)" --wrt W   (dL/dW = 2 * (W @ X + b - Y) @ X.T)
    """
    from .commands import derive as deriving

    request = deriving.Request(wrt, loss.value if loss else None, inline, evaluate)
    deriving.derive(sources, request, _out(fmt, output, precision))


@app.command(context_settings=HELP_OPTIONS)
@guarded
def convert(
    source: Annotated[str, typer.Argument(metavar="SRC", help="CSV, TSV or whitespace-delimited text: a path, or - "
                                          "for standard input.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="DST", help="The .npy file to write.", show_default=False,
                     dir_okay=False),
    ],
    transpose: Annotated[
        bool,
        typer.Option("--transpose", "-t", help="The rows are samples: write the transpose, so the batch is the last "
                     "axis (Fortran order: its column blocks read contiguously)."),
    ] = False,
    delimiter: SourceDelimiterOption = None,
    header: SourceHeaderOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Convert large text to .npy in bounded memory, so that it can stream (forward and backward --chunk).

    [bold]Example[/bold]: wxb convert X.csv -o X.npy   (or: zcat X.csv.gz | wxb convert - -o X.npy --transpose)
    """
    from .commands.convert import convert as run

    with using(switched_environment(pretty=False, quiet=quiet, no_color=False)):
        run(source, output, transpose=transpose, delimiter=delimiter, header=header)


@app.command(context_settings=HELP_OPTIONS)
@guarded
def demo(
    fmt: DemoFormatOption = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Run the seed example, no files needed: W = I, X = [[1,2],[3,4]], b = [5;6].

    [bold]Example[/bold]: wxb demo
    """
    from .commands import work as commands

    commands.demo(_out(fmt, output, precision))


def main() -> None:
    """The console script: usage errors as one line, die quietly on a closed pipe (as Unix filters do)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _named_shell(sys.argv[1:])
    command = typer.main.get_command(app)
    if COMPLETE_VAR in os.environ:  # the shell asks for completions (Tab): Click answers, before any usage logic
        sys.exit(command.main(args=sys.argv[1:], prog_name="wxb"))
    argv = help_alias(sys.argv[1:], list(getattr(command, "commands", {})))
    if not argv:
        typer.echo(short_usage(command), err=True)
        sys.exit(ExitStatus.ERROR)
    try:
        repeated = repeated_option(command, argv)
        if repeated:
            typer.echo(f"wxb: error: {repeated} is given more than once (hint: give each option once)", err=True)
            sys.exit(ExitStatus.ERROR)
        status = command.main(args=argv, prog_name="wxb", standalone_mode=False)
    except typer.TyperException as exc:  # Click's usage errors, vendored by Typer
        sys.exit(usage_error(exc))
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(ExitStatus.INTERRUPTED)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)


COMPLETE_VAR = "_WXB_COMPLETE"
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def help_alias(argv: list[str], commands: list[str]) -> list[str]:
    """`wxb help` is `wxb --help`, and `wxb help COMMAND` is `wxb COMMAND --help`; `wxb help functions` and
    `wxb help FUNCTION` show the expression language and exit; other argv is unchanged."""
    if argv[:1] != ["help"]:
        return argv
    if len(argv) == 1 or argv[1] in commands:
        return [*argv[1:2], "--help"]
    from .show import topics

    text = topics.topic(argv[1]) if len(argv) == 2 else None
    if text is None:
        typer.echo(topics.unknown(" ".join(argv[1:]), commands), err=True)
        sys.exit(ExitStatus.ERROR)
    show_topic(text)
    sys.exit(ExitStatus.OK)


def show_topic(text: str) -> None:
    """A help topic: on a terminal through Rich (its headings bold), elsewhere the same text without colour."""
    env = current()
    if not env.stdout_isatty:
        print(text, end="", file=env.stdout)
        return
    from rich.text import Text

    from .show.render import make_console

    styled = Text()
    for line in text.splitlines(keepends=True):
        styled.append(line, style="bold" if line.endswith(":\n") or line.startswith(("example:", "Operators"))
                      else "")
    make_console().print(styled, end="")


def _named_shell(argv: Sequence[str]) -> None:
    """`--show-completion fish` and `--install-completion zsh` take the shell named, not the one detected."""
    if len(argv) > 1 and argv[0] in ("--show-completion", "--install-completion") and argv[1] in SHELLS:
        os.environ["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"  # Typer then reads the shell from argv


def repeated_option(command: Any, argv: Sequence[str]) -> str | None:
    """The first single-valued option given twice in argv for a subcommand (`-X a.csv -X b.csv`, or `-X` and
    `--input`), as Click's own parser reads argv, else None (Click, which keeps the last, would not say)."""
    if not argv or argv[0].startswith("-"):
        return None
    sub = getattr(command, "commands", {}).get(argv[0])
    if sub is None:
        return None
    context = typer.Context(sub, info_name=argv[0], resilient_parsing=True, **sub.context_settings)
    try:
        _, _, order = sub.make_parser(context).parse_args(list(argv[1:]))
    except typer.TyperException:  # Click's exceptions derive from it: public API only
        return None  # a usage error, which the real parse reports
    seen: set[str | None] = set()
    for param in order:
        if getattr(param, "param_type_name", "") != "option" or getattr(param, "multiple", False):
            continue
        if param.name in seen:
            return "/".join((*param.opts, *param.secondary_opts))
        seen.add(param.name)
    return None


def short_usage(command: Any) -> str:
    """A few lines for a bare `wxb`: how to call it, each command with its summary, and where the help is."""
    commands = getattr(command, "commands", {})
    width = max(map(len, commands), default=0)
    lines = ["usage: wxb <command> [options] [NAME=SOURCE]...", "", "commands:"]
    lines += [f"  {name:<{width}}  {sub.get_short_help_str(limit=70)}" for name, sub in commands.items()]
    lines += ["", "See 'wxb --help' for the options, and 'wxb <command> --help' for one command."]
    return "\n".join(lines)


def usage_error(exc: typer.TyperException) -> ExitStatus:
    """Print a usage error the wxb way (errors.failure), one line on stderr, and return its exit status."""
    from .errors import failure

    status, message = failure(exc)
    if message:
        typer.echo(message, err=True)
    return status
