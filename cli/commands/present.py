"""Showing results: a view drawn for a person (table on a terminal, or its text without colour), or data written for
a pipe or a file, in the format wxb.cli.formats chooses."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from ... import core
from .. import formats
from ..env import note
from ..model import OutputChoice
from ..show.diagnosis import nonfinite_lines, nonfinite_warnings
from ..write.output import write_results, write_text

Array = np.ndarray[Any, np.dtype[Any]]


def views() -> ModuleType:
    """The Rich views, imported only when a person is looking (table or text output)."""
    from ..show import views

    return views

def stdout_is_terminal() -> bool:
    """True when stdout is an open terminal."""
    from ..env import current

    return current().stdout_isatty


def output_format(out: OutputChoice) -> str:
    """The format data results go out in: --format, else -o's suffix, else table on a terminal and csv in a pipe."""
    return formats.choose_format(out.fmt, out.output, stdout_is_terminal=stdout_is_terminal())


def descriptive_format(out: OutputChoice, allowed: tuple[str, ...], hint: str = "") -> str:
    """The format of a descriptive command: --format, else -o's suffix, else table on a terminal and, in a pipe
    or a file, the same text without colour."""
    return formats.descriptive_format(out.fmt, out.output, allowed, stdout_is_terminal=stdout_is_terminal(),
                                      hint=hint)


def show(fmt: str, out: OutputChoice, draw: Any) -> None:
    """A view drawn on the terminal (table), or as plain text without colour to a pipe or file (text)."""
    if fmt == "table":
        draw(views().console())
    else:
        write_text(views().plain_text(draw), out.output)

def emit(results: Mapping[str, Array], out: OutputChoice, draw: Any, *, record: bool = False,
         problem: core.Problem | None = None, upstream: Mapping[str, Array | None] | None = None,
         warned: bool = False) -> None:
    """Results as a table for a person (the view), or as data for a pipe or a file; a NaN or an infinity in a
    result is reported first, one warning line each (upstream: G or T, when they were given), unless `warned`."""
    if not warned:
        for line in nonfinite_warnings(results, problem, upstream):
            note(line, "warning")
    fmt = output_format(out)
    if fmt == "table":
        draw(views().console())
    else:
        write_results(results, fmt, out.output, record=record)


def computed(results: Mapping[str, Any], out: OutputChoice, problem: core.Problem,
             record: bool = False) -> dict[str, Array] | None:
    """Lazy (Dask) results computed in one go, their warning lines printed; None when the tasks wrote them to -o
    themselves (a .npy file or a zarr store)."""
    from ..run.dask import realize

    arrays, counts = realize(results, list(problem.operands.values()), output_format(out), out.output, record)
    nan_given, inf_given = counts.pop("", (False, False))
    dtypes = {name: np.dtype(value.dtype) for name, value in results.items()}
    for line in nonfinite_lines(counts, dtypes, "the operands" if nan_given else "",
                                "the operands" if inf_given else ""):
        note(line, "warning")
    return arrays
