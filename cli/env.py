"""The Environment: everything wxb reads from the process it runs in, read once (as httpie's context.Environment):
the standard streams and whether each is a terminal, colour (NO_COLOR, TERM=dumb, --no-color), the terminal's
width ($COLUMNS), the memory cap (WXB_MEMORY), and the switches every command shares (-q, --pretty).

The command entry point builds one (Environment.from_process) and runs the command under it (`using`); what needs
the terminal asks `current()` for it. Tests build their own, with io.StringIO streams and a fixed width, instead
of patching sys."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import IO, Any, TextIO

MEMORY_VARIABLE = "WXB_MEMORY"
DEFAULT_WIDTH = 100  # columns of plain text when $COLUMNS does not say


def _is_terminal(stream: IO[Any] | None) -> bool:
    """True when stream is open and a terminal."""
    if stream is None or getattr(stream, "closed", False):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


@dataclass(frozen=True)
class Environment:
    """The process's streams and terminal state, and the command's shared switches, in one injectable object."""

    stdin: TextIO | None
    stdout: TextIO | None
    stderr: TextIO | None
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    colors: bool = True  # False under NO_COLOR, TERM=dumb or --no-color
    dumb: bool = False  # TERM=dumb: no spinners, no colour
    width: int = DEFAULT_WIDTH
    memory_cap: str | None = None  # WXB_MEMORY, verbatim
    quiet: bool = False  # -q: notes silenced (warnings and errors never are)
    pretty: bool = False  # --pretty: JSON indented

    @classmethod
    def from_process(cls, environ: Mapping[str, str] | None = None, *, quiet: bool = False, pretty: bool = False,
                     no_color: bool = False) -> Environment:
        """The Environment of this process: sys's streams as they are now, os.environ (or environ)."""
        environ = os.environ if environ is None else environ
        dumb = environ.get("TERM") == "dumb"
        try:
            width = int(environ.get("COLUMNS", "") or 0)
        except ValueError:
            width = 0
        return cls(sys.stdin, sys.stdout, sys.stderr, _is_terminal(sys.stdin), _is_terminal(sys.stdout),
                   _is_terminal(sys.stderr), colors=not (no_color or "NO_COLOR" in environ or dumb), dumb=dumb,
                   width=width if width > 0 else DEFAULT_WIDTH, memory_cap=environ.get(MEMORY_VARIABLE) or None,
                   quiet=quiet, pretty=pretty)

    def note(self, message: str, kind: str = "note") -> None:
        """A one-line note (or warning) on stderr; never on stdout, which carries results, even when stderr is
        closed. -q silences notes, not warnings."""
        if kind == "note" and self.quiet:
            return
        if self.stderr is not None and not getattr(self.stderr, "closed", False):
            print(f"wxb: {kind}: {message}", file=self.stderr)

    def switched(self, *, quiet: bool = False, pretty: bool = False, no_color: bool = False) -> Environment:
        """This Environment under a command's switches: -q, --pretty and --no-color."""
        return replace(self, quiet=quiet, pretty=pretty, colors=self.colors and not no_color)


_CURRENT: ContextVar[Environment | None] = ContextVar("wxb_environment", default=None)


def current() -> Environment:
    """The Environment the running command was given; outside a command, this process's as it is now."""
    env = _CURRENT.get()
    return env if env is not None else Environment.from_process()


@contextmanager
def using(env: Environment) -> Iterator[Environment]:
    """Run the body under env: what reads the terminal, the colour or the switches reads env."""
    token = _CURRENT.set(env)
    try:
        yield env
    finally:
        _CURRENT.reset(token)


def note(message: str, kind: str = "note") -> None:
    """A note (or warning) on the current Environment's stderr (Environment.note)."""
    current().note(message, kind)
