"""Exit statuses, the errors of the outside world, and the one place that turns an exception into a message."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

import typer

from ..core.errors import WxbError


class ExitStatus(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    ERROR = 2
    INTERRUPTED = 130


class InputError(WxbError):
    """Bad input from the user: a file, a literal or an option, located as precisely as we can.

    Rendered as `<what>, <where>`, e.g. "non-numeric cell 'abc', in -X data.csv line 3 column 2".
    """

    def __init__(
        self,
        what: str,
        *,
        operand: str | None = None,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.what = what
        self.operand = operand
        self.source = source
        self.line = line
        self.column = column
        super().__init__(self._render(), hint=hint)

    def _render(self) -> str:
        where = " ".join(part for part in (self.operand, self.source) if part)
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += f" column {self.column}"
        where = where.strip()
        return f"{self.what}, in {where}" if where else self.what


class OutputError(InputError):
    """Results that could not be written: stdout closed or full, or an -o target that refuses them."""


def error_message(exc: BaseException) -> str:
    """The one line printed on stderr for an error the user caused."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    hint = getattr(exc, "hint", None)
    return f"wxb: error: {text}" + (f" (hint: {hint})" if hint else "")


def failure(exc: BaseException) -> tuple[ExitStatus, str | None]:
    """The one mapping from an exception to the exit status and the line on stderr (None: print nothing)."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED, None
    if isinstance(exc, MemoryError):
        return ExitStatus.ERROR, ("wxb: error: out of memory: the operands or a result are too large for this "
                                  "machine (hint: ask for less: --wrt one operand, --block K, --format json for a "
                                  "structure)")
    if isinstance(exc, RecursionError):
        return ExitStatus.ERROR, "wxb: error: the input is too deeply nested to process"
    format_message = getattr(exc, "format_message", None)
    if callable(format_message):  # a usage error from Click (vendored by Typer): bad option, missing value
        ctx = getattr(exc, "ctx", None)
        hint = f" (hint: see '{ctx.command_path} --help')" if ctx is not None else ""
        return ExitStatus.ERROR, f"wxb: error: {' '.join(str(format_message()).split())}{hint}"
    return ExitStatus.ERROR, error_message(exc)


F = TypeVar("F", bound=Callable[..., Any])


def guarded(command: F) -> F:
    """Run a command so that every failure the user can cause ends in one line on stderr and its exit status;
    NumPy's floating-point warnings are silenced here and reported per result by the commands."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            import numpy as np

            from .env import Environment, using

            with np.errstate(all="ignore"), using(Environment.from_process()):  # the terminal's state, read once
                return command(*args, **kwargs)
        except typer.Exit:
            raise
        except BaseException as exc:
            if kwargs.get("debug") and not isinstance(exc, KeyboardInterrupt):
                raise
            status, message = failure(exc)
            if message:
                typer.echo(message, err=True)
            raise typer.Exit(status) from None

    return run  # type: ignore[return-value]


@dataclass(frozen=True)
class Where:
    """Where text came from, for messages: the option (`-X`) and the source (a path, `stdin`, `literal '...'`)."""

    operand: str
    source: str

    def error(self, what: str, line: int | None = None, column: int | None = None, **kw: Any) -> InputError:
        return InputError(what, operand=self.operand, source=self.source, line=line, column=column, **kw)
