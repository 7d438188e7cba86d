"""Output formats: one registry for data results and descriptions alike, and the one place that chooses among them.

Data results (forward, backward, jacobian --block/--dense) go out as table, csv, tsv, json, npy or npz;
descriptions (explain, check, jacobian's structure, demo) as table, text, and what each command can write besides
(json, csv, markdown, latex). Without --format, -o's suffix decides, from this registry; without -o, a terminal
gets a table, a pipe csv (data) or the terminal's text without colour (descriptions). Writers for arrays live in
wxb.cli.output; a description's writers belong to its command, keyed by these names.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple

from .errors import InputError
from .write.through import descriptor, is_terminal


class Format(NamedTuple):
    """One output format: its name, the -o suffixes that choose it for data and for descriptions, and its nature."""

    name: str
    data_suffixes: tuple[str, ...] = ()
    text_suffixes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    binary: bool = False
    data: bool = True  # it can hold arrays (a data command's results)


REGISTRY: tuple[Format, ...] = (
    Format("table"),  # Rich, for a terminal only
    Format("text", text_suffixes=(".txt",), data=False),  # what a terminal shows, without colour
    Format("csv", (".csv",), (".csv",)),
    Format("tsv", (".tsv", ".txt", ".dat"), (".tsv",)),
    Format("json", (".json",), (".json",)),
    Format("npy", (".npy",), (".npy",), binary=True),
    Format("npz", (".npz",), (".npz",), binary=True),
    Format("zarr", (".zarr",), binary=True),  # a store, a folder: written by wxb.cli.zarrio (the wxb[dask] extra)
    Format("markdown", text_suffixes=(".md", ".markdown"), aliases=("md",), data=False),
    Format("latex", text_suffixes=(".tex",), aliases=("tex",), data=False),
    Format("numpy", text_suffixes=(".py",), aliases=("python", "py"), data=False),  # derive's formulas as code
)
FORMATS = tuple(f.name for f in REGISTRY if f.data)  # what a data command can write
BINARY = tuple(f.name for f in REGISTRY if f.binary)


def canonical(requested: str) -> str:
    """A format's name as registered ('md' → 'markdown'), or the request as given when it names none."""
    fmt = requested.lower()
    return next((f.name for f in REGISTRY if fmt == f.name or fmt in f.aliases), fmt)


def by_suffix(suffix: str, *, data: bool) -> str:
    """The format an -o suffix names, for data results or for descriptions; '' when it names none."""
    suffix = suffix.lower()
    return next((f.name for f in REGISTRY if suffix in (f.data_suffixes if data else f.text_suffixes)), "")


def suffixes(*, data: bool, allowed: tuple[str, ...] | None = None) -> list[str]:
    """The -o suffixes that choose a format (among `allowed`), in the registry's order."""
    return [s for f in REGISTRY if allowed is None or f.name in allowed
            for s in (f.data_suffixes if data else f.text_suffixes)]


def _stream_format(output: Path) -> str:
    """For an -o with no known suffix: csv for an inherited descriptor (`/dev/stdout`, `/dev/fd/N`) or a pipe,
    FIFO, device or socket, as for stdout in a pipe; else the suffix of what its links end at ('' when nothing
    tells)."""
    if descriptor(str(output)) is not None:
        return "csv"
    try:
        mode = os.stat(output).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return "csv"
    return by_suffix(os.path.splitext(os.path.realpath(output))[1], data=True)


def to_file(output: Path | None) -> bool:
    """True when -o names a file (not absent, not `-` for stdout)."""
    return output is not None and str(output) != "-"


def choose_format(requested: str | None, output: Path | None, *, stdout_is_terminal: bool) -> str:
    """A data command's format: --format wins; else -o's suffix (or, for a stream, its target's suffix or csv);
    else table on a terminal, csv in a pipe."""
    if requested is not None:
        fmt = canonical(requested)
        if fmt not in FORMATS:
            raise InputError(
                f"unknown format {requested!r}", operand="--format", hint=f"use one of {', '.join(FORMATS)}"
            )
    elif to_file(output):
        assert output is not None
        fmt = by_suffix(output.suffix, data=True) or _stream_format(output)
        if not fmt:
            hint = f"name it with one of {' '.join(suffixes(data=True))}, or give --format"
            raise InputError(f"cannot tell the format from the file name {str(output)!r}", operand="-o", hint=hint)
    else:
        fmt = "table" if stdout_is_terminal else "csv"
    if fmt == "table" and to_file(output):
        raise InputError("a table is for the terminal, not a file", operand="--format", hint="use csv or json")
    if fmt in BINARY and not to_file(output) and stdout_is_terminal:
        hint = f"write it to a file with -o result.{fmt}, or pipe it"
        raise InputError(f"{fmt} is binary and stdout is a terminal", operand="--format", hint=hint)
    if fmt in BINARY and output is not None and to_file(output) and is_terminal(output):
        hint = f"write it to a file with -o result.{fmt}, or pipe it"
        raise InputError(f"{fmt} is binary and {str(output)!r} is a terminal", operand="-o", hint=hint)
    return fmt


def descriptive_format(requested: str | None, output: Path | None, allowed: tuple[str, ...], *,
                       stdout_is_terminal: bool, hint: str = "") -> str:
    """A description's format: --format, else -o's suffix (an unknown one is refused), else table on a terminal
    and, in a pipe or a file, the same text without colour."""
    offered = ("table", "text", *allowed)
    if requested is not None:
        fmt, named_by = canonical(requested), "--format"
    elif to_file(output):
        assert output is not None
        fmt, named_by = by_suffix(output.suffix, data=False), "-o"
        if not fmt and output.suffix == "":
            fmt = "text"  # a name with no suffix (a FIFO, /dev/stdout, `notes`): the text a terminal shows
        if not fmt:
            known = " ".join(suffixes(data=False, allowed=offered))
            raise InputError(f"cannot tell the format from the file name {str(output)!r}", operand="-o",
                             hint=f"name it with one of {known}, or give --format")
    else:
        fmt, named_by = ("table" if stdout_is_terminal else "text"), ""
    if fmt == "table" and (to_file(output) or not stdout_is_terminal):
        fmt = "text"
    if fmt not in offered:
        what = f"this command has no {fmt} form" + (f" (asked for by the suffix of {str(output)!r})"
                                                    if named_by == "-o" else "")
        raise InputError(what, operand=named_by or None, hint=hint or "use " + ", ".join(offered))
    return fmt
