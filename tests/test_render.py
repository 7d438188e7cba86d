"""Terminal renderings: decimal alignment, bracketed matrices, equations and the spy plot's occupancy grid."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wxb.cli.show import render


def exact_grid(a: np.ndarray, height: int, width: int) -> np.ndarray:
    rows, cols = a.shape
    grid = np.zeros((height, width), dtype=bool)
    r, c = np.nonzero(a)
    grid[r * height // rows, c * width // cols] = True
    return grid


def reader(a: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda r, c: a[r, c]


@given(hnp.arrays(np.int8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=40), elements=st.integers(0, 1)),
       st.integers(1, 12), st.integers(1, 12))
def test_spy_grid_is_exact_when_every_entry_fits_the_budget(a: np.ndarray, height: int, width: int) -> None:
    grid, sampled = render.spy_grid(*a.shape, reader(a), height=height, width=width)
    h, w = min(height, a.shape[0]), min(width, a.shape[1])
    assert not sampled
    np.testing.assert_array_equal(grid, exact_grid(a, h, w))


@given(hnp.arrays(np.int8, (60, 50), elements=st.integers(0, 1)))
def test_sampled_spy_grid_never_invents_a_nonzero(a: np.ndarray) -> None:
    grid, sampled = render.spy_grid(60, 50, reader(a), height=6, width=5, budget=300, chunk=7)
    assert sampled
    assert not (grid & ~exact_grid(a, 6, 5)).any()


def test_sampling_does_not_alias_with_periodic_blocks() -> None:
    stacked = np.tile(np.eye(50), (40, 1))  # 1₄₀ ⊗ I₅₀: every cell row covers whole identity blocks
    grid, sampled = render.spy_grid(2000, 50, reader(stacked), height=4, width=5, budget=20_000)
    assert sampled
    assert grid.all()


def test_aligned_texts_line_up_decimal_points() -> None:
    texts = render.aligned_texts(np.array([8.754, 5.54, -1.5, 22.0]), 4)
    assert len({len(t) for t in texts}) == 1
    assert len({t.index(".") for t in texts if "." in t}) == 1


def test_aligned_texts_with_exponents_or_nan_are_right_aligned() -> None:
    texts = render.aligned_texts(np.array([1e-20, np.nan, 3.0]), 3)
    assert texts == ["1e-20", "  nan", "    3"]


def test_bracket_lines_draw_a_column_vector_as_a_column() -> None:
    assert render.bracket_lines(np.array([5.0, 6.0]), 6) == ["⎡5⎤", "⎣6⎦"]
    assert render.bracket_lines(np.array([[1.0, 1.0]]), 6) == ["[1  1]"]


def test_equation_centres_its_parts() -> None:
    column, row = np.array([[5.0], [6.0], [7.0]]), np.array([[1.0, 1.0]])
    text = render.equation(("B = ", column, " · ", row), 6)
    assert text.plain.splitlines() == ["    ⎡5⎤", "B = ⎢6⎥ · [1  1]", "    ⎣7⎦"]


def test_number_text_is_short_and_signed() -> None:
    assert [render.number_text(x, 4) for x in (-0.0, 1 / 3, -2e-9, np.inf, 1e21)] == [
        "-0", "0.3333", "-2e-09", "inf", "1e+21"]


def test_a_narrow_terminal_hides_columns_and_never_cuts_a_number() -> None:
    from rich.console import Console

    values = np.array([[2.06755e-05, 4.25232e-05, 1.5], [-3.25e-07, 1.0, 2.0]])
    console = Console(width=40, record=True, color_system=None)
    console.print(render.matrix_table(values, precision=6, width=40))
    text = console.export_text()
    assert "2.06755e-05" in text and "…" in text
    assert all(len(line.rstrip()) <= 40 for line in text.splitlines())


def test_explain_on_a_narrow_terminal_shows_every_column_that_fits() -> None:
    """40 columns: a 2×2 matrix of six-digit numbers fits a panel whole, and is shown whole, in every step."""
    from conftest import wxb

    done = wxb("explain", "-e", "tanh(W @ X + b)", "W=0.25 0.5; 0.75 1", "X=0.5 0.25; 1 2", "b=0.5; 1",
               env={"COLUMNS": "40"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 40 for line in lines)
    f = lines.index(next(line for line in lines if "f = tanh(z2)" in line))
    assert "0.809301" in lines[f + 3] and "0.915825" in lines[f + 3] and "…" not in lines[f + 3], lines[f:f + 5]
    assert "…" not in "\n".join(lines[:f + 5])
