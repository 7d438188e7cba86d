"""The wxb command: a Typer app whose commands are thin wrappers over wxb.core.

Each command reads its options, then hands plain values to wxb.cli.commands, imported only when a command runs,
so `wxb --help` and `wxb --version` start without NumPy or Rich.
"""

# No `from __future__ import annotations`: Typer would have to eval every hint of every command at each start.
import functools
import signal
import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from wxb.cli.options import (
    BiasOption,
    BundleOption,
    DebugOption,
    DelimiterOption,
    FormatOption,
    GradOption,
    InputOption,
    OutputOption,
    PrecisionOption,
    TargetOption,
    WeightOption,
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


class Wrt(str, Enum):
    b = "b"
    W = "W"
    X = "X"
    all = "all"


class JacobianWrt(str, Enum):
    b = "b"
    W = "W"
    X = "X"


def guarded(command: F) -> F:
    """Run a command so that every failure the user can cause ends in one line on stderr and exit status 2."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:
            if kwargs.get("debug"):
                raise
            from wxb.cli.errors import ExitStatus, error_message

            typer.echo(error_message(exc), err=True)
            raise typer.Exit(ExitStatus.ERROR) from None

    return run  # type: ignore[return-value]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"wxb {version('wxb')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A calculator for f = W·X ⊕ b: its forward pass, its backward pass and its Jacobian blocks.

    [bold]Example[/bold]: wxb forward -X "1 2; 3 4" -b "5; 6"
    """


@app.command()
@guarded
def forward(
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Compute f = W·X ⊕ b, the bias broadcast over W·X.

    [bold]Example[/bold]: wxb forward -X "1 2; 3 4" -b "5; 6"   (f = [[6,7],[9,10]])
    """
    from wxb.cli import commands

    operands = commands.load(W=W, X=X, b=b, bundle=bundle, delimiter=delimiter)
    commands.forward(operands, commands.OutputChoice(fmt, output, precision))


@app.command()
@guarded
def backward(
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
    wrt: Annotated[Wrt, typer.Option("--wrt", help="Gradient(s) to compute: b, W, X or all.")] = Wrt.b,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Backpropagate an upstream gradient G = ∂L/∂f to dL/db (and dL/dW, dL/dX).

    [bold]Example[/bold]: wxb backward -X "1 2; 3 4" -b "5; 6"   (dL/db = G·1 = [2;2])
    """
    from wxb.cli import commands

    operands = commands.load(W=W, X=X, b=b, G=G, T=T, bundle=bundle, delimiter=delimiter)
    wrt_names = ("b", "W", "X") if wrt is Wrt.all else (wrt.value,)
    commands.backward(operands, loss.value if loss else None, wrt_names, commands.OutputChoice(fmt, output, precision))


@app.command()
@guarded
def jacobian(
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    wrt: Annotated[JacobianWrt, typer.Option("--wrt", help="Differentiate f with respect to b, W or X.")] = (
        JacobianWrt.b
    ),
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
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Show the Jacobian of f in blocks: ∂f[:,k]/∂b = I for every column k, its Kronecker form and a spy plot.

    [bold]Example[/bold]: wxb jacobian -X "1 2; 3 4" -b "5; 6"   (2 blocks, each I₂)
    """
    from wxb.cli import commands

    operands = commands.load(W=W, X=X, b=b, bundle=bundle, delimiter=delimiter)
    request = commands.JacobianRequest(wrt.value, block, dense, limit)
    commands.jacobian(operands, request, commands.OutputChoice(fmt, output, precision))


@app.command()
@guarded
def check(
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    G: GradOption = None,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 3,
    debug: DebugOption = False,
) -> None:
    """Compare the analytic gradients with central finite differences; exit 1 if any disagree.

    [bold]Example[/bold]: wxb check -W samples/dense/W.csv -X samples/dense/X.csv -b samples/dense/b.csv
    """
    from wxb.cli import commands

    operands = commands.load(W=W, X=X, b=b, G=G, bundle=bundle, delimiter=delimiter)
    passed = commands.check(operands, commands.OutputChoice(fmt, output, precision))
    if not passed:
        raise typer.Exit(1)


@app.command()
@guarded
def explain(
    W: WeightOption = None,
    X: InputOption = None,
    b: BiasOption = None,
    G: GradOption = None,
    bundle: BundleOption = None,
    delimiter: DelimiterOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Derive dL/db step by step with your own numbers: B = b·1ᵀ, ∂f[:,k]/∂b = I, dL/db = G·1.

    [bold]Example[/bold]: wxb explain -X "1 2; 3 4" -b "5; 6"
    """
    from wxb.cli import commands

    operands = commands.load(W=W, X=X, b=b, G=G, bundle=bundle, delimiter=delimiter)
    commands.explain(operands, commands.OutputChoice(fmt, output, precision))


@app.command()
@guarded
def demo(
    precision: PrecisionOption = 6,
    debug: DebugOption = False,
) -> None:
    """Run the seed example, no files needed: W = I, X = [[1,2],[3,4]], b = [5;6].

    [bold]Example[/bold]: wxb demo
    """
    from wxb.cli import commands

    commands.demo(precision)


def main() -> None:
    """The console script: usage errors as one line, die quietly on a closed pipe (as Unix filters do)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as exc:  # Click's usage errors, vendored by Typer
        sys.exit(usage_error(exc))
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)


def usage_error(exc: typer.TyperException) -> int:
    """Print a usage error the wxb way, one line on stderr with a hint, and return its exit status."""
    from typer._click.exceptions import NoArgsIsHelpError

    if isinstance(exc, NoArgsIsHelpError):  # bare `wxb`: the help itself, as Typer shows it
        exc.show()
        return exc.exit_code
    ctx = getattr(exc, "ctx", None)
    hint = f" (hint: see '{ctx.command_path} --help')" if ctx is not None else ""
    typer.echo(f"wxb: error: {' '.join(exc.format_message().split())}{hint}", err=True)
    return 2
