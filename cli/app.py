"""The wxb command: a Typer app whose commands are thin wrappers over wxb.core.

Each command reads its options, then hands plain values to wxb.cli.commands, imported only when a command runs,
so `wxb --help` and `wxb --version` start without NumPy or Rich.
"""

# No `from __future__ import annotations`: Typer would have to eval every hint of every command at each start.
import functools
import signal
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from .errors import ExitStatus
from .options import (
    BiasOption,
    BindingsArgument,
    BundleOption,
    CheckFormatOption,
    DaskOption,
    DebugOption,
    DelimiterOption,
    DemoFormatOption,
    ExprOption,
    FormatOption,
    GradOption,
    HeaderOption,
    InputOption,
    JacobianFormatOption,
    OutputOption,
    PrecisionOption,
    SchedulerOption,
    TargetOption,
    WeightOption,
    WrtOption,
)

app = typer.Typer(
    name="wxb",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])


class Loss(str, Enum):
    sum = "sum"
    mean = "mean"
    mse = "mse"


def guarded(command: F) -> F:
    """Run a command so that every failure the user can cause ends in one line on stderr and its exit status;
    NumPy's floating-point warnings are silenced here and reported per result by the commands."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            import numpy as np

            with np.errstate(all="ignore"):
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


def _sources(expr: str | None, bindings: list[str] | None, W: str | None = None, X: str | None = None,
             b: str | None = None, T: str | None = None, G: str | None = None, bundle: str | None = None,
             delimiter: str | None = None, header: bool | None = None, lazy: bool = False) -> Any:
    """What the user gave for the operands, for wxb.cli.commands.load (lazy: as Dask arrays)."""
    from . import commands

    return commands.load(commands.Sources(expr, bindings, {"W": W, "X": X, "b": b, "T": T}, G, bundle, delimiter,
                                          header, lazy))


def _on_dask(dask: bool, scheduler: str | None) -> Any:
    """The Dask client for the command (--scheduler's cluster, or a local one for --dask), or nothing."""
    from .daskrun import running

    return running(dask, scheduler)


def _in_memory(command: str, dask: bool, scheduler: str | None) -> None:
    """jacobian, check and explain compute in memory: say so when --dask or --scheduler was asked for."""
    if dask or scheduler is not None:
        from .textparse import note

        note(f"{command} computes in memory: {'--scheduler' if scheduler else '--dask'} is for forward and backward")


def _out(fmt: str | None, output: Any, precision: int) -> Any:
    from .commands import OutputChoice

    return OutputChoice(fmt, output, precision)


@app.command()
@guarded
def forward(
    bindings: BindingsArgument = None,
    expr: ExprOption = None,
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    T: TargetOption = None,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Compute f = W·X ⊕ b (the bias broadcast over W·X), or any expression given with -e.

    [bold]Example[/bold]: wxb forward -X "1 2; 3 4" -b "5; 6"   (f = [[6,7],[9,10]])
    """
    from . import commands

    with _on_dask(dask, scheduler):
        loaded = _sources(expr, bindings, W, X, b, T, None, bundle, delimiter, header, dask or bool(scheduler))
        commands.forward(loaded, _out(fmt, output, precision))


@app.command()
@guarded
def backward(
    bindings: BindingsArgument = None,
    expr: ExprOption = None,
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    G: GradOption = None,
    T: TargetOption = None,
    loss: Annotated[
        Loss | None,
        typer.Option(
            "--loss",
            "-l",
            help="Scalar loss that gives G when -G is absent: sum (G = 1), mean (G = 1/N) "
            "or mse against -T (G = 2(f − T)/N). Default: sum.",
            show_default=False,
        ),
    ] = None,
    wrt: WrtOption = None,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Backpropagate an upstream gradient G = ∂L/∂f to dL/db (and dL/dW, dL/dX, or any operand of -e).

    [bold]Example[/bold]: wxb backward -X "1 2; 3 4" -b "5; 6"   (dL/db = G·1 = [2;2])
    """
    from . import commands

    with _on_dask(dask, scheduler):
        loaded = _sources(expr, bindings, W, X, b, T, G, bundle, delimiter, header, dask or bool(scheduler))
        commands.backward(loaded, loss.value if loss else None, wrt, _out(fmt, output, precision))


@app.command()
@guarded
def jacobian(
    bindings: BindingsArgument = None,
    expr: ExprOption = None,
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    T: TargetOption = None,
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
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = None,
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
    from . import commands

    _in_memory("jacobian", dask, scheduler)

    loaded = _sources(expr, bindings, W, X, b, T, None, bundle, delimiter, header)
    commands.jacobian(loaded, commands.JacobianRequest(wrt, block, dense, limit), _out(fmt, output, precision))


@app.command()
@guarded
def check(
    bindings: BindingsArgument = None,
    expr: ExprOption = None,
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    G: GradOption = None,
    T: TargetOption = None,
    wrt: WrtOption = None,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = None,
    fmt: CheckFormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 3,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Compare the analytic gradients with central finite differences; exit 1 if any disagree.

    [bold]Example[/bold]: wxb check -W samples/dense/W.csv -X samples/dense/X.csv -b samples/dense/b.csv
    """
    from . import commands

    _in_memory("check", dask, scheduler)

    loaded = _sources(expr, bindings, W, X, b, T, G, bundle, delimiter, header)
    if not commands.check(loaded, wrt, _out(fmt, output, precision)):
        raise typer.Exit(ExitStatus.CHECK_FAILED)


@app.command()
@guarded
def explain(
    bindings: BindingsArgument = None,
    expr: ExprOption = None,
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    G: GradOption = None,
    T: TargetOption = None,
    wrt: WrtOption = None,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    header: HeaderOption = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", metavar="FMT", help="table, text, json, markdown or latex (default: table on "
                     "a terminal, text in a pipe, or from -o's suffix: .txt .json .md .tex).", show_default=False,
                     rich_help_panel="Output"),
    ] = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    dask: DaskOption = False,
    scheduler: SchedulerOption = None,
    debug: DebugOption = False,
) -> None:
    """Derive the gradients step by step with your own numbers: B = b·1ᵀ, the forward pass, the chain rule.

    [bold]Example[/bold]: wxb explain -X "1 2; 3 4" -b "5; 6"
    """
    from . import commands

    _in_memory("explain", dask, scheduler)

    loaded = _sources(expr, bindings, W, X, b, T, G, bundle, delimiter, header)
    commands.explain(loaded, wrt, _out(fmt, output, precision))


@app.command()
@guarded
def demo(
    fmt: DemoFormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Run the seed example, no files needed: W = I, X = [[1,2],[3,4]], b = [5;6].

    [bold]Example[/bold]: wxb demo
    """
    from . import commands

    commands.demo(_out(fmt, output, precision))


def main() -> None:
    """The console script: usage errors as one line, die quietly on a closed pipe (as Unix filters do)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    command = typer.main.get_command(app)
    try:
        repeated = repeated_option(command, sys.argv[1:])
        if repeated:
            typer.echo(f"wxb: error: {repeated} is given more than once (hint: give each option once)", err=True)
            sys.exit(ExitStatus.ERROR)
        status = command.main(args=sys.argv[1:], prog_name="wxb", standalone_mode=False)
    except typer.TyperException as exc:  # Click's usage errors, vendored by Typer
        sys.exit(usage_error(exc))
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(ExitStatus.INTERRUPTED)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)


def repeated_option(command: Any, argv: Sequence[str]) -> str | None:
    """The first single-valued option given twice in argv for a subcommand (`-X a.csv -X b.csv`), else None."""
    if not argv or argv[0].startswith("-"):
        return None
    sub = getattr(command, "commands", {}).get(argv[0])
    if sub is None:
        return None
    options = {}
    for param in sub.params:
        if getattr(param, "param_type_name", "") == "option" and not getattr(param, "multiple", False):
            for name in (*param.opts, *param.secondary_opts):
                options[name] = param
    seen: dict[str, str] = {}
    tokens = iter(argv[1:])
    for token in tokens:
        if token == "--":
            break
        name, attached = _option_token(token, options)
        param = options.get(name)
        if param is None:
            continue
        if param.name in seen:
            return f"{seen[param.name]}/{name}" if seen[param.name] != name else name
        seen[param.name] = name
        if not param.is_flag and not param.count and not attached:
            next(tokens, None)
    return None


def _option_token(token: str, options: dict[str, Any]) -> tuple[str, bool]:
    """(option name, value attached?) for `--input=x`, `-Xx`, `-X`, `--input`; ('', False) for a value."""
    if token.startswith("--"):
        name, equals, _ = token.partition("=")
        return name, bool(equals)
    if token.startswith("-") and len(token) > 1 and token[:2] in options:
        return token[:2], len(token) > 2
    return "", False


def usage_error(exc: typer.TyperException) -> ExitStatus:
    """Print a usage error the wxb way (errors.failure), one line on stderr, and return its exit status."""
    from typer._click.exceptions import NoArgsIsHelpError

    from .errors import failure

    if isinstance(exc, NoArgsIsHelpError):  # bare `wxb`: the help itself, as Typer shows it
        exc.show()
        return ExitStatus(exc.exit_code)
    status, message = failure(exc)
    if message:
        typer.echo(message, err=True)
    return status
