"""The wxb command: a Typer app whose commands are thin wrappers over wxb.core."""

from __future__ import annotations

import typer

app = typer.Typer(name="wxb", no_args_is_help=True, add_completion=True)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"wxb {version('wxb')}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A calculator for f = W·X ⊕ b: forward pass, backward pass and Jacobian blocks."""


def main() -> None:
    app()
