"""No silent traps for NumPy and PyTorch users: a note when a 1-D operand, read as a column, would broadcast as
NumPy's row too (to other numbers); Octave's transpose X' read as X.T."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import wxb

from wxb import core
from wxb.core.shapes import row_reading_differs

README_CASE = ("forward", "-e", "X @ W.T + b", "X=1 2; 3 4; 5 6", "W=1 0; 0 1; 1 1")


@pytest.mark.parametrize(("shape", "beside", "differs"), [
    ((3,), (3, 3), True),  # square: both readings broadcast
    ((3,), (1, 1), True),  # (3,1) or (1,3): both broadcast, to other shapes
    ((3,), (3, 2), False),  # only the column fits
    ((2,), (3, 2), False),  # only the row fits (wxb refuses it)
    ((1,), (3, 3), False),  # one value: both readings are the same
    ((3,), (3,), False),  # no matrix beside it: no column rule
    ((3, 1), (3, 3), False),  # two axes: the user chose
    ((3,), (4, 3, 3), True),
])
def test_row_reading_differs_exactly_when_both_readings_broadcast(shape: tuple[int, ...], beside: tuple[int, ...],
                                                                  differs: bool) -> None:
    assert row_reading_differs(shape, beside) is differs


def test_the_readme_case_notes_b_and_how_to_write_a_row() -> None:
    done = wxb(*README_CASE, "b=[10, 20, 30]")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "11.0,12.0,13.0\n23.0,24.0,27.0\n35.0,36.0,41.0\n"  # b as a column: b[i] on row i
    (line,) = done.stderr.splitlines()
    assert line.startswith("wxb: note: b (3,) is read as a column (3,1)") and "NumPy" in line
    assert "b='10 20 30'" in line and "b='10; 20; 30'" in line
    row = wxb(*README_CASE, "b=10 20 30")  # the row the note suggests: NumPy's numbers, and no note
    X, W, b = np.array([[1, 2], [3, 4], [5, 6]]), np.array([[1, 0], [0, 1], [1, 1]]), np.array([10, 20, 30])
    expected = "".join(",".join(repr(float(v)) for v in r) + "\n" for r in X @ W.T + b)
    assert row.returncode == 0 and row.stdout == expected and row.stderr == ""


def test_no_note_where_only_the_column_broadcasts_or_two_axes_are_given() -> None:
    only_column = wxb("forward", "-X", "1 2; 3 4; 5 6", "-b", "[1, 2, 3]")
    assert only_column.returncode == 0 and only_column.stderr == ""
    column = wxb(*README_CASE, "b=10; 20; 30")
    assert column.returncode == 0 and column.stderr == ""


def test_quiet_silences_the_note() -> None:
    done = wxb(*README_CASE, "b=[10, 20, 30]", "-q")
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.parametrize(("quoted", "plain"), [
    ("X'", "X.T"),
    ("A' @ B'", "A.T @ B.T"),
    ("(A @ B)'", "(A @ B).T"),
    ("W' @ V + X''", "W.T @ V + X.T.T"),
    ("A′ @ B", "A.T @ B"),
])
def test_a_quote_is_the_transpose(quoted: str, plain: str) -> None:
    assert core.parse(quoted).root.text == core.parse(plain).root.text


def test_the_quote_transpose_on_the_command_line() -> None:
    done = wxb("forward", "-e", "(A @ B)'", "A=1 2; 3 4", "B=1 0; 0 2")
    assert done.returncode == 0 and done.stdout == "1.0,3.0\n4.0,8.0\n"
