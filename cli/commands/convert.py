"""`wxb convert SRC -o DST`: text to .npy in bounded memory (wxb.cli.textstream), so that it can stream.

The header row, row labels and delimiter are sniffed from the first lines, as for any text operand.

--transpose is for files whose rows are samples: the batch becomes the last axis. The rows, as they come, are the
columns of the transposed array in Fortran order, so the same bytes are written and only the header differs
(shape (columns, rows), fortran_order True); wxb reads the column blocks of such a file contiguously.

DST formats are a table by suffix (WRITERS); zarr can be added beside .npy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import InputError, Where
from ..read.textstream import text_to_npy

# ---- The command ----

def _to_npy(source: IO[bytes], head: bytes, where: Where, output: Path, delimiter: str | None,
            header: bool | None, transpose: bool) -> tuple[int, ...]:
    from ..write.through import write_through

    shapes: list[tuple[int, ...]] = []

    def emit(stream: BinaryIO) -> None:
        shapes.append(text_to_npy(source, head, stream, where, delimiter=delimiter, header=header,
                                  transpose=transpose))

    write_through(output, emit)
    return shapes[0]


Writer = Callable[[IO[bytes], bytes, Where, Path, "str | None", "bool | None", bool], tuple[int, ...]]
WRITERS: dict[str, Writer] = {".npy": _to_npy}


def convert(source: str, output: Path, *, transpose: bool, delimiter: str | None, header: bool | None) -> None:
    """CSV, TSV or whitespace-delimited text (a path, or - for stdin) to DST by its suffix, in bounded memory."""
    from ..env import current, note
    from ..read.operands import normalize_delimiter
    from ..read.textparse import SUFFIX_DELIMITERS

    suffix = output.suffix.lower()
    if suffix not in WRITERS:
        raise InputError(f"cannot convert to {output.name!r}", operand="-o",
                         hint="name the output " + " or ".join(f"*{s}" for s in WRITERS))
    delimiter = normalize_delimiter(delimiter) or SUFFIX_DELIMITERS.get(Path(source).suffix.lower())
    where = Where("convert", "stdin" if source == "-" else source)
    if source == "-":
        env = current()
        if env.stdin is None or env.stdin_isatty:
            raise InputError("convert - reads standard input, but it is a terminal",
                             hint="pipe text into it, e.g. wxb convert - -o X.npy < X.csv")
        stream: IO[bytes] = env.stdin.buffer
        shape = _convert_stream(stream, where, output, delimiter, header, transpose)
    else:
        try:
            with open(source, "rb") as stream:
                shape = _convert_stream(stream, where, output, delimiter, header, transpose)
        except OSError as exc:
            raise where.error(f"cannot read it: {exc.strerror or exc}") from None
    note(f"wrote {output}: {shape[0]}×{shape[1]} float64" + (", transposed (Fortran order)" if transpose else ""))


def _convert_stream(stream: IO[bytes], where: Where, output: Path, delimiter: str | None, header: bool | None,
                    transpose: bool) -> tuple[int, ...]:
    from ..read.operands import content_kind

    head = stream.read(4096)
    kind = content_kind(head, "")
    if kind in ("npy", "npz"):
        raise where.error(f"holds .{kind} data already, not text", hint="wxb reads .npy and .npz as they are")
    return WRITERS[output.suffix.lower()](stream, head, where, output, delimiter, header, transpose)
