"""Rich renderings for people at a terminal: matrices as tables, Jacobian sparsity as a spy plot.

Only `table` output comes here; data for pipes and files goes through wxb.cli.output, never through Rich.

Numbers on screen (number_text) say what the data holds, as briefly as `--precision` allows: `%g`-style, at most
that many significant digits and never more than the number's shortest round-trip form in its own type (a
float32 shows float32's digits); exponents signed with at least two digits (`1e+02`, `1e-05`), as csv writes
them. An integer value drops its point (`6` where csv writes `6.0`), and so does zero, keeping its sign: -0.0 is
`-0` on screen and `-0.0` in csv and json. At precision 17 a table's text reads back as the very number csv
writes (tested).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ...core.notation import shape_text

MAX_ROWS = 16  # more rows than this are summarised NumPy-style: the first and last EDGE_ROWS with an ellipsis
EDGE_ROWS = 6
MAX_SLICES = 4  # leading index combinations of an N-d array shown before summarising
ELLIPSIS = "⋮"
H_ELLIPSIS = "…"


def make_console(*, stderr: bool = False) -> Console:
    """A console for people: colour only on a terminal, off under NO_COLOR or TERM=dumb (Rich honours both)."""
    from ..env import current

    env = current()
    return Console(file=env.stderr if stderr else env.stdout, no_color=not env.colors, highlight=False, soft_wrap=False)


def number_text(x: float | np.number[Any], precision: int) -> str:
    """A number for display: `%.{precision}g` with signed exponents, no more digits than its shortest round-trip
    form in its own type (0.1 stays `0.1` at any precision; float32 shows its own digits); -0.0 is `-0`."""
    value = x if isinstance(x, np.floating) else np.float64(x)
    if not np.isfinite(value):
        return repr(float(value))  # nan, inf, -inf
    if value == 0:
        return "-0" if np.signbit(value) else "0"
    shortest = np.format_float_scientific(value, unique=True, trim="-", exp_digits=2)
    mantissa, _, exponent = shortest.partition("e")
    if len(mantissa.lstrip("-").replace(".", "")) > max(precision, 1):
        return f"{float(value):.{max(precision, 1)}g}"
    if -4 <= int(exponent) < max(precision, 1):
        return np.format_float_positional(value, unique=True, trim="-")
    return shortest


def number_style(x: float | np.number[Any]) -> str:
    """Colour by sign and kind: negatives red, zeros dim, non-finite values bold yellow."""
    if not np.isfinite(x):
        return "bold yellow"
    if x < 0:
        return "red"
    if x == 0:
        return "dim"
    return "cyan"


def _summarised(n: int, limit: int, edge: int) -> list[int | None]:
    """Indices 0..n-1, or the first and last `edge` with None standing for the elided middle."""
    if n <= limit:
        return list(range(n))
    return [*range(edge), None, *range(n - edge, n)]


def _columns_that_fit(a: np.ndarray, rows: list[int | None], precision: int, width: int) -> list[int | None]:
    """The column indices to show so the table fits `width` characters, NumPy-style summarised."""
    n = a.shape[1]
    shown_rows = [i for i in rows if i is not None]
    shown_cols = [j for j in _summarised(n, 12, 6) if j is not None]
    sample = a[np.ix_(shown_rows, shown_cols)].ravel() if shown_rows and shown_cols else a[:0, :0].ravel()
    cell = max((len(number_text(x, precision)) for x in sample), default=1)
    cell = max(cell, len(str(n - 1))) + 2
    label = len(str(a.shape[0])) + 2
    if n <= max((width - label) // cell, 1):
        return list(range(n))
    beside = max((width - label - 3) // cell, 1)  # number columns beside the … column; never cut a number
    if beside == 1:
        return [0, None]
    edge = beside // 2
    return [*range(edge), None, *range(n - edge, n)]


def shows_every_column(a: np.ndarray, precision: int, width: int) -> bool:
    """True when array_view at `width` shows every column of a (of each 2-D slice of an N-d a) with no ….

    A 1-D or 0-d a is one column."""
    if a.ndim < 2:
        return True
    matrix = a.reshape(-1, *a.shape[-2:])[0]
    return None not in _columns_that_fit(matrix, _summarised(matrix.shape[0], MAX_ROWS, EDGE_ROWS), precision, width)


def aligned_texts(values: np.ndarray, precision: int) -> list[str]:
    """Numbers of one column as texts of equal width, aligned on the decimal point as NumPy prints them."""
    texts = [number_text(x, precision) for x in values]
    plain = [t for t in texts if "e" not in t and t not in ("nan", "inf", "-inf")]
    if len(plain) != len(texts):
        width = max(map(len, texts), default=0)
        return [t.rjust(width) for t in texts]
    whole = [t.partition(".")[0] for t in texts]
    fraction = [t.partition(".")[2] for t in texts]
    wide, places = max(map(len, whole), default=0), max(map(len, fraction), default=0)
    return [w.rjust(wide) + (("." + f) if f else (" " if places else "")).ljust(places + 1 if places else 0)
            for w, f in zip(whole, fraction, strict=True)]


def matrix_table(a: np.ndarray, *, precision: int, width: int, title: str | None = None,
                 labels: list[str] | None = None) -> Table:
    """A 2-D array as a table with row and column indices (or the rows' labels), summarised to fit `width`."""
    rows = _summarised(a.shape[0], MAX_ROWS, EDGE_ROWS)
    cols = _columns_that_fit(a, rows, precision, width)
    shown_rows = [i for i in rows if i is not None]
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="dim", show_edge=False)
    table.add_column("", style="dim", justify="right")
    columns: list[list[Text]] = []
    for j in cols:
        if j is None:
            table.add_column(H_ELLIPSIS, justify="center")
            columns.append([Text(H_ELLIPSIS, style="dim")] * len(shown_rows))
            continue
        values = a[shown_rows, j]
        texts = aligned_texts(values, precision)
        table.add_column(str(j).rjust(max(map(len, texts), default=0)), justify="left")
        columns.append([Text(t, style=number_style(x)) for t, x in zip(texts, values, strict=True)])
    position = 0
    for i in rows:
        if i is None:
            table.add_row(ELLIPSIS, *(ELLIPSIS if j is not None else "" for j in cols))
            continue
        table.add_row(labels[i] if labels else str(i), *(column[position] for column in columns))
        position += 1
    return table


def _leading_indices(shape: tuple[int, ...]) -> Iterator[tuple[int, ...] | None]:
    """Index tuples over the leading axes of an N-d array, summarised; None marks the elided middle."""
    combos = list(itertools.product(*(range(n) for n in shape)))
    if len(combos) <= MAX_SLICES:
        yield from combos
        return
    yield from combos[: MAX_SLICES // 2]
    yield None
    yield from combos[-(MAX_SLICES // 2) :]


def array_view(a: np.ndarray, name: str, *, precision: int, width: int) -> RenderableType:
    """Any array for a person: a 0-d number, a 1-D vector as a column (wxb's convention), 2-D as a table,
    N-d as a series of 2-D slices named like name[0,1,:,:]."""
    heading = Text.assemble((name, "bold"), f" {shape_text(a.shape)}", (f" {a.dtype}", "dim"))
    if a.ndim == 0:
        x: Any = a[()]
        return Text.assemble(heading, " = ", (number_text(x, precision), number_style(x)))
    if a.ndim == 1:
        return Group(heading, matrix_table(a.reshape(-1, 1), precision=precision, width=width))
    if a.ndim == 2:
        return Group(heading, matrix_table(a, precision=precision, width=width))
    squeezed = a.squeeze()
    if squeezed.ndim <= 2:  # e.g. a per-channel bias (1,C,1,1): its C values, as a column
        heading.append(f", its {squeezed.size} values shown {_as_shape(squeezed)}", style="dim")
        table = matrix_table(squeezed.reshape(squeezed.shape[0] if squeezed.ndim else 1, -1),
                             precision=precision, width=width)
        return Group(heading, table)
    parts: list[RenderableType] = [heading]
    lead = a.shape[:-2]
    for index in _leading_indices(lead):
        if index is None:
            parts.append(Text(f"  {ELLIPSIS} {int(np.prod(lead)) - MAX_SLICES} more slices", style="dim"))
            continue
        parts.append(Text(f"{name}[{','.join(str(i) for i in index)},:,:]", style="dim"))
        parts.append(matrix_table(a[index], precision=precision, width=width))
    return Group(*parts)


def _as_shape(squeezed: np.ndarray) -> str:
    """How a squeezed array is laid out on screen."""
    return "as a column" if squeezed.ndim <= 1 else f"as {shape_text(squeezed.shape)}"


# ---- spy plots -----------------------------------------------------------------------------------------------

SPY_FULL, SPY_EMPTY = "█", "·"


def spy_grid(
    rows: int,
    cols: int,
    entries: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    height: int,
    width: int,
    budget: int = 16_000_000,
    chunk: int = 1_000_000,
) -> tuple[np.ndarray, bool]:
    """A height×width occupancy grid of a rows×cols matrix read through `entries(r, c)`: a cell is filled when
    any entry it covers is nonzero.

    Every entry is read when rows·cols ≤ budget, `chunk` entries at a time; otherwise random (seeded) rows and
    columns are read, every column when that fits, so the grid is exact for each sampled row and random sampling
    cannot alias with a periodic structure. Returns (grid, sampled?)."""
    height, width = max(min(height, rows), 1), max(min(width, cols), 1)
    rng = np.random.default_rng(0)
    sample_cols = np.arange(cols) if cols * height * 16 <= budget else _sample(rng, cols, budget // (height * 16))
    sample_rows = _sample(rng, rows, max(budget // len(sample_cols), height))
    grid = np.zeros((height, width), dtype=bool)
    cell_r = sample_rows * height // rows
    cell_c = sample_cols * width // cols
    per_chunk = max(chunk // len(sample_cols), 1)
    for start in range(0, len(sample_rows), per_chunk):
        part = slice(start, start + per_chunk)
        hit_r, hit_c = np.nonzero(entries(sample_rows[part][:, None], sample_cols[None, :]))
        grid[cell_r[part][hit_r], cell_c[hit_c]] = True
    return grid, len(sample_rows) < rows or len(sample_cols) < cols


def _sample(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """All of 0..n-1 when k ≥ n, else k distinct indices drawn at random, sorted."""
    if k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


def spy_text(grid: np.ndarray, *, colour: str = "cyan") -> Text:
    """The occupancy grid drawn with one character per cell."""
    text = Text()
    for line in grid:
        for filled in line:
            text.append(SPY_FULL if filled else SPY_EMPTY, style=colour if filled else "dim")
        text.append("\n")
    text.rstrip()
    return text


# ---- matrices on paper --------------------------------------------------------------------------------------

EQUATION_MAX = 8  # arrays up to this many rows and columns are drawn inline in equations


def drawable(a: np.ndarray) -> bool:
    """Small enough, and of at most 2 axes, to be drawn inline in an equation."""
    return a.ndim <= 2 and all(0 < n <= EQUATION_MAX for n in a.shape)


def bracket_lines(a: np.ndarray, precision: int) -> list[str]:
    """A small matrix as on paper, between tall brackets (a 1-D vector is a column, as in the maths); a scalar as
    itself."""
    if np.ndim(a) == 0:
        return aligned_texts(np.asarray(a, dtype=float).reshape(1), precision)
    m = np.asarray(a)
    m = (m if m.dtype.kind == "f" else m.astype(float)).reshape(a.shape[0] if a.ndim else 1, -1)
    columns = [aligned_texts(m[:, j], precision) for j in range(m.shape[1])]
    rows = ["  ".join(column[i] for column in columns) for i in range(m.shape[0])]
    if len(rows) == 1:
        return [f"[{rows[0]}]"]
    left = ["⎡", *["⎢"] * (len(rows) - 2), "⎣"]
    right = ["⎤", *["⎥"] * (len(rows) - 2), "⎦"]
    return [f"{opening}{row}{closing}" for opening, row, closing in zip(left, rows, right, strict=True)]


def equation(parts: tuple[str | np.ndarray, ...], precision: int) -> Text:
    """Words and matrices laid side by side, each centred on the equation's middle line."""
    blocks = [bracket_lines(p, precision) if isinstance(p, np.ndarray) else [p] for p in parts]
    height = max(len(block) for block in blocks)
    lines = [""] * height
    for block in blocks:
        width = max(len(line) for line in block)
        top = (height - len(block)) // 2
        for row in range(height):
            inside = top <= row < top + len(block)
            lines[row] += block[row - top].ljust(width) if inside else " " * width
    text = Text("\n".join(line.rstrip() for line in lines))
    text.highlight_regex(r"[⎡⎢⎣⎤⎥⎦\[\]]", "dim")
    return text
