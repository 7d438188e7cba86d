"""Progress on stderr while wxb reads or writes something big, shown only to a person at a terminal: a bar for
reading text (parsed in pieces, so progress is real), a spinner for writing (one call, nothing to measure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

BIG = 50 * 1024 * 1024  # bytes; smaller inputs finish before a spinner would be noticed


def wants_spinner(size: int) -> bool:
    """True when the work is big and stderr is an interactive terminal (not a pipe, not TERM=dumb)."""
    from ..env import current

    env = current()
    return size > BIG and env.stderr_isatty and not env.dumb


@contextmanager
def working(message: str, size: int) -> Iterator[None]:
    """Run the body under a Rich spinner saying `message` when wants_spinner(size); otherwise silently."""
    if not wants_spinner(size):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(f"{message} ({size / 1e6:.0f} MB)…"):
        yield


@contextmanager
def reading(message: str, size: int) -> Iterator[Callable[[int], object] | None]:
    """A Rich progress bar over `size` bytes when wants_spinner(size), yielding advance(bytes); otherwise None."""
    if not wants_spinner(size):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(message), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(message, total=size)
        yield lambda done: progress.advance(task, done)
