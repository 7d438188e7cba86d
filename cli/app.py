"""The wxb command: a Typer app whose commands are thin wrappers over wxb.core.

Each command reads its options, then hands plain values to wxb.cli.commands, imported only when a command runs,
so `wxb --help` and `wxb --version` start without NumPy or Rich.
"""

# No `from __future__ import annotations`: Typer would have to eval every hint of every command at each start.
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from . import argv
from .env import using
from .errors import ExitStatus, guarded
from .options import (
    AssumeOption,
    CheckFormatOption,
    ChunkOption,
    ClaimOption,
    ClaimsOption,
    DaskOption,
    DebugOption,
    DemoFormatOption,
    DeriveAssumeOption,
    DeriveBindingsArgument,
    DeriveFormatOption,
    DeriveLossOption,
    DescriptionOutputOption,
    EigOption,
    FormatOption,
    HessianFormatOption,
    InMemoryDaskOption,
    InMemorySchedulerOption,
    JacobianFormatOption,
    JacobianOutputOption,
    LossOption,
    OrderOption,
    OutputOption,
    PrecisionOption,
    QuietOption,
    SchedulerOption,
    SourceDelimiterOption,
    SourceHeaderOption,
    VectorOption,
    WrtOption,
    completes,
    operand_options,
    switched_environment,
)
from .show.usage import HELP

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    name="wxb",
    no_args_is_help=False,  # a bare `wxb` gets main's short usage instead
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings=HELP_OPTIONS,
    epilog="Manual: docs/ in the source tree (make docs builds it; docs/index.md is its start). "
    "Completion: wxb --install-completion \\[bash|zsh|fish]. The expression language: wxb help functions.",
)

F = TypeVar("F", bound=Callable[..., Any])


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


@app.command(context_settings=HELP_OPTIONS, help=HELP["forward"])
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
    """Compute f = W·X ⊕ b (the bias broadcast over W·X), or any expression given with -e."""
    from .commands import work as commands

    with _on_dask(dask, scheduler):
        lazy = sources._replace(lazy=dask or scheduler is not None)
        commands.forward(commands.load(lazy), _out(fmt, output, precision), chunk)


@app.command(context_settings=HELP_OPTIONS, help=HELP["backward"])
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
    """Backpropagate an upstream gradient G = ∂L/∂f to dL/db (and dL/dW, dL/dX, or any operand of -e)."""
    from .commands import work as commands

    with _on_dask(dask, scheduler):
        lazy = sources._replace(lazy=dask or scheduler is not None)
        commands.backward(commands.load(lazy), loss.value if loss else None, wrt, _out(fmt, output, precision), chunk)


@app.command(context_settings=HELP_OPTIONS, help=HELP["jvp"])
@guarded
@operand_options(grad=False)
def jvp(
    sources: Any,
    tangent: Annotated[
        list[str] | None,
        typer.Option("--tangent", metavar="NAME=SOURCE", help="The tangent v of operand NAME, of its shape (any "
                     "operand source); repeat for several. Operands without one have tangent 0.", show_default=False),
    ] = None,
    value: Annotated[bool, typer.Option("--value", help="Also output f, keyed f beside df (json, npz and zarr always "
                                        "hold both).")] = False,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    chunk: ChunkOption = None,
    dask: InMemoryDaskOption = False,
    scheduler: InMemorySchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Forward mode: the directional derivative df = J·v of f along tangents of its operands, f's shape, exact."""
    from .commands import jvp as forward_mode

    _in_memory("jvp", dask, scheduler)
    forward_mode.jvp(sources, tangent, value, _out(fmt, output, precision), chunk)


@app.command(context_settings=HELP_OPTIONS, help=HELP["jacobian"])
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
    output: JacobianOutputOption = None,
    precision: PrecisionOption = 6,
    dask: InMemoryDaskOption = False,
    scheduler: InMemorySchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Show the Jacobian of f in blocks: ∂f[:,k]/∂b = I for every column k, its Kronecker form and a spy plot."""
    from .commands import work as commands

    _in_memory("jacobian", dask, scheduler)

    request = commands.JacobianRequest(wrt, block, dense, limit)
    commands.jacobian(commands.load(sources), request, _out(fmt, output, precision))


@app.command(context_settings=HELP_OPTIONS, help=HELP["hessian"])
@guarded
@operand_options(loss=True)
def hessian(
    sources: Any,
    loss: LossOption = None,
    wrt: WrtOption = None,
    vector: VectorOption = None,
    eig: EigOption = False,
    fmt: HessianFormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    dask: InMemoryDaskOption = False,
    scheduler: InMemorySchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """The second derivatives of a scalar L (f with one entry, or the --loss): H·v, H and its structure, exact."""
    from .commands import hessian as curvature

    _in_memory("hessian", dask, scheduler)
    request = curvature.Request(wrt, loss.value if loss else None, vector or [], eig)
    curvature.hessian(sources, request, _out(fmt, output, precision))


@app.command(context_settings=HELP_OPTIONS, help=HELP["check"])
@guarded
@operand_options(loss=True)
def check(
    sources: Any,
    loss: LossOption = None,
    wrt: WrtOption = None,
    claim: ClaimOption = None,
    claims: ClaimsOption = None,
    assume: AssumeOption = None,
    order: OrderOption = 1,
    fmt: CheckFormatOption = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 3,
    dask: InMemoryDaskOption = False,
    scheduler: InMemorySchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Compare the analytic gradients of L with central finite differences; exit 1 if any disagree."""
    from .commands import work as commands

    _in_memory("check", dask, scheduler)
    if order == 2:
        from .commands import hessian as curvature

        if claim or claims is not None or assume:
            raise typer.BadParameter("--order 2 checks H·v; claims are of gradients", param_hint="--order")
        if not curvature.hvp_check(commands.load(sources), loss.value if loss else None, wrt,
                                   _out(fmt, output, precision)):
            raise typer.Exit(ExitStatus.CHECK_FAILED)
        return
    if claim or claims is not None:
        from .commands import claim as claiming

        if wrt is not None:
            raise typer.BadParameter("a claim names its own operand (dL/dNAME); --wrt is for the check without one",
                                     param_hint="--wrt")
        request = claiming.Request(claim or [], claims, assume or [], loss.value if loss else None)
        if not claiming.check_claims(sources, request, _out(fmt, output, precision)):
            raise typer.Exit(ExitStatus.CHECK_FAILED)
        return
    if assume:
        raise typer.BadParameter("--assume is for the draws of check --claim", param_hint="--assume")

    if not commands.check(commands.load(sources), loss.value if loss else None, wrt, _out(fmt, output, precision)):
        raise typer.Exit(ExitStatus.CHECK_FAILED)


@app.command(context_settings=HELP_OPTIONS, help=HELP["explain"])
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
                     rich_help_panel="Output", autocompletion=completes("table", "text", "json", "markdown", "latex")),
    ] = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 6,
    dask: InMemoryDaskOption = False,
    scheduler: InMemorySchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Derive the gradients step by step with your own numbers: B = b·1ᵀ, the forward pass, the chain rule."""
    from .commands import work as commands

    _in_memory("explain", dask, scheduler)

    commands.explain(commands.load(sources), loss.value if loss else None, wrt, _out(fmt, output, precision))


@app.command(context_settings=HELP_OPTIONS, help=HELP["derive"])
@guarded
@operand_options(bindings=DeriveBindingsArgument)
def derive(
    sources: Any,
    loss: DeriveLossOption = None,
    wrt: WrtOption = None,
    inline: Annotated[
        bool, typer.Option("--inline", help="Write every subexpression out: no z = … lines (what forward -e takes).")
    ] = False,
    evaluate: Annotated[
        bool, typer.Option("--eval", help="Also evaluate each formula with the operands' data (and -G).")
    ] = False,
    assume: DeriveAssumeOption = None,
    order: OrderOption = 1,
    fmt: DeriveFormatOption = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Write each gradient dL/dθ as a formula in wxb's expression language, from shapes, names or data."""
    from .commands import derive as deriving

    request = deriving.Request(wrt, loss.value if loss else None, inline, evaluate, order, assume or [])
    deriving.derive(sources, request, _out(fmt, output, precision))


@app.command(context_settings=HELP_OPTIONS, help=HELP["convert"])
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
    """Convert large text to .npy in bounded memory, so that it can stream (forward and backward --chunk)."""
    from .commands.convert import convert as run

    with using(switched_environment(pretty=False, quiet=quiet, no_color=False)):
        run(source, output, transpose=transpose, delimiter=delimiter, header=header)


@app.command(context_settings=HELP_OPTIONS, help=HELP["demo"])
@guarded
def demo(
    fmt: DemoFormatOption = None,
    output: DescriptionOutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Run the seed example, no files needed: W = I, X = [[1,2],[3,4]], b = [5;6]."""
    from .commands import work as commands

    commands.demo(_out(fmt, output, precision))


def main() -> None:
    """The console script: usage errors as one line, die quietly on a closed pipe (as Unix filters do)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv.named_shell(sys.argv[1:])
    command = typer.main.get_command(app)
    if argv.COMPLETE_VAR in os.environ:  # the shell asks for completions (Tab): Click answers, before any usage logic
        os.environ["COLUMNS"] = "65536"  # Typer renders each option's help with Rich: one line each, for fish and zsh
        sys.exit(command.main(args=sys.argv[1:], prog_name="wxb"))
    args = argv.help_alias(sys.argv[1:], list(getattr(command, "commands", {})))
    if not args:
        typer.echo(argv.short_usage(command), err=True)
        sys.exit(ExitStatus.ERROR)
    try:
        repeated = argv.repeated_option(command, args)
        if repeated:
            typer.echo(f"wxb: error: {repeated} is given more than once (hint: give each option once)", err=True)
            sys.exit(ExitStatus.ERROR)
        status = command.main(args=args, prog_name="wxb", standalone_mode=False)
    except typer.TyperException as exc:  # Click's usage errors, vendored by Typer
        sys.exit(argv.usage_error(exc))
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(ExitStatus.INTERRUPTED)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)
