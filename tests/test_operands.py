"""Reading operands: files of every kind, archives, bundles, standard input and inline literals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import environment
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wxb.cli.errors import InputError
from wxb.cli.read.largetext import parse_large_text
from wxb.cli.read.operands import read_operand, read_operands
from wxb.cli.read.textparse import Where, parse_text


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape and identical float64 bits (-0.0 != 0.0); any NaN equals any NaN (text has no NaN payloads)."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        return False
    both_nan = np.isnan(a64) & np.isnan(b64)
    return bool(((a64.view(np.uint64) == b64.view(np.uint64)) | both_nan).all())


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path




# ---------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("1 2; 3 4", [[1, 2], [3, 4]]),
        ("1, 2; 3, 4", [[1, 2], [3, 4]]),
        ("1,2\n3,4", [[1, 2], [3, 4]]),
        ("[1, 2; 3, 4]", [[1, 2], [3, 4]]),
        ("[1 2 3]", [[1, 2, 3]]),
        ("5; 6", [[5], [6]]),
        ("5 6", [[5, 6]]),
        ("5;", [[5]]),
        ("[[1,2],[3,4]]", [[1, 2], [3, 4]]),
        ("[[[1],[2]]]", [[[1], [2]]]),
        ("-1.5e3 .5 +2", [[-1500, 0.5, 2]]),
    ],
)
def test_matrix_literals_give_the_shape_written(literal: str, expected: list[object]) -> None:
    array = read_operand(literal, "-X")
    assert array.dtype == np.float64
    assert array.shape == np.array(expected).shape
    assert array.tolist() == np.array(expected, dtype=float).tolist()


@pytest.mark.parametrize(("literal", "value"), [("7", 7.0), ("-0.25", -0.25), ("1e-300", 1e-300)])
def test_a_lone_number_is_a_scalar(literal: str, value: float) -> None:
    array = read_operand(literal, "-b")
    assert array.shape == ()
    assert array.item() == value


def test_json_vector_keeps_rank_one() -> None:
    assert read_operand("[1, 2, 3]", "-b").shape == (3,)


@pytest.mark.parametrize("literal", ["nan", "NaN", "-INF", "inf; -inf", "Infinity", "[NaN, -Infinity]"])
def test_special_values_are_accepted_in_any_case(literal: str) -> None:
    array = read_operand(literal, "-X")
    assert not np.isfinite(array).any()


def test_an_existing_file_wins_over_a_literal(here: Path) -> None:
    Path("7").write_text("1,2\n")
    assert read_operand("7", "-X").tolist() == [[1.0, 2.0]]


# ---------------------------------------------------------------- text files


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.csv", "1,2,3\n4,5,6\n"),
        ("a.csv", "1;2;3\n4;5;6\n"),
        ("a.csv", "1\t2\t3\n4\t5\t6\n"),
        ("a.csv", '"1","2","3"\r\n"4","5","6"\r\n'),
        ("a.tsv", "1\t2\t3\n4\t5\t6"),
        ("a.txt", "1 2   3\n  4\t5 6\n"),
        ("a.dat", "# comment\n\n1 2 3\n\n4 5 6\n# end\n"),
        ("a.csv", "\ufeffx,y,z\n1,2,3\n4,5,6\n"),
        ("noext", "1,2,3\n4,5,6\n"),
        ("noext2", "1 2 3\n4 5 6\n"),
    ],
)
def test_text_files_of_every_layout(here: Path, name: str, text: str) -> None:
    Path(name).write_text(text, encoding="utf-8")
    assert read_operand(name, "-X").tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize(("text", "shape"), [("1,2,3\n", (1, 3)), ("1\n2\n3\n", (3, 1)), ("42\n", (1, 1))])
def test_orientation_comes_from_the_file(here: Path, text: str, shape: tuple[int, int]) -> None:
    Path("v.csv").write_text(text)
    assert read_operand("v.csv", "-b").shape == shape


def test_header_row_is_skipped_with_a_note_on_stderr(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("data.csv").write_text("a,b\n1,2\n")
    assert read_operand("data.csv", "-X").tolist() == [[1, 2]]
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "wxb: note: skipped header row in -X data.csv line 1\n"


def test_nan_and_inf_cells_any_case(here: Path) -> None:
    Path("s.csv").write_text("NaN,Inf,-inf\nnan,INFINITY,-Infinity\n")
    array = read_operand("s.csv", "-X")
    assert np.isnan(array[:, 0]).all() and (array[:, 1] == np.inf).all() and (array[:, 2] == -np.inf).all()


def test_forced_delimiter(here: Path) -> None:
    Path("p.csv").write_text("1|2\n3|4\n")
    assert read_operand("p.csv", "-X", delimiter="|").tolist() == [[1, 2], [3, 4]]
    assert read_operand("p.csv", "-X", delimiter="|").dtype == np.float64


def test_text_parsing_is_exact_for_shortest_reprs(here: Path) -> None:
    values = np.array([[0.1, 5e-324, 2.2250738585072014e-308], [1.7976931348623157e308, -0.0, 1 / 3]])
    Path("e.csv").write_text("\n".join(",".join(repr(v) for v in row) for row in values.tolist()))
    assert same_bits(read_operand("e.csv", "-X"), values)


# ---------------------------------------------------------------- binary files and archives


def test_npy_is_memory_mapped_read_only_with_its_dtype(here: Path) -> None:
    np.save("w.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    array = read_operand("w.npy", "-W")
    assert isinstance(array, np.memmap)
    assert array.dtype == np.float32 and array.shape == (2, 3) and not array.flags.writeable


def test_fortran_ordered_npy_reads_the_same_values(here: Path) -> None:
    values = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.save("f.npy", values)
    assert np.array_equal(read_operand("f.npy", "-W"), values)


def test_npy_with_a_csv_name_is_recognised_by_its_magic(here: Path) -> None:
    with open("odd.csv", "wb") as file:
        np.save(file, np.eye(2))
    assert np.array_equal(read_operand("odd.csv", "-W"), np.eye(2))


def test_npz_key_syntax_and_bare_archives(here: Path) -> None:
    np.savez("p.npz", W=np.eye(2), X=np.ones((2, 3)))
    np.savez("one.npz", anything=np.full(2, 7.0))
    assert np.array_equal(read_operand("p.npz:W", "-X"), np.eye(2))
    assert np.array_equal(read_operand("p.npz", "-X"), np.ones((2, 3)))  # named after the operand
    assert np.array_equal(read_operand("one.npz", "-b"), np.full(2, 7.0))  # the only array


def test_compressed_npz(here: Path) -> None:
    np.savez_compressed("c.npz", X=np.arange(12.0).reshape(3, 4))
    assert np.array_equal(read_operand("c.npz:X", "-X"), np.arange(12.0).reshape(3, 4))


def test_a_path_with_a_colon_that_exists_is_a_path(here: Path) -> None:
    Path("odd:name.csv").write_text("1,2\n")
    np.savez("arch.npz", k=np.eye(2))
    Path("arch.npz:k").write_text("9\n")
    assert read_operand("odd:name.csv", "-X").tolist() == [[1, 2]]
    assert read_operand("arch.npz:k", "-X").tolist() == [[9]]


def test_json_files_plain_and_keyed(here: Path) -> None:
    Path("a.json").write_text("[[1, 2], [3, 4]]")
    Path("r.json").write_text(json.dumps({"f": [1, 2], "db": [[3.5]]}))
    assert read_operand("a.json", "-X").tolist() == [[1, 2], [3, 4]]
    assert read_operand("r.json:db", "-b").tolist() == [[3.5]]


def test_bundle_fills_operands_not_given(here: Path) -> None:
    np.savez("bundle.npz", W=np.eye(2), X=np.ones((2, 2)), b=np.zeros(2), extra=np.ones(1))
    arrays = read_operands({"W": None, "X": "5 6; 7 8", "b": None}, bundle="bundle.npz")
    assert list(arrays) == ["W", "X", "b"]  # exactly the operands asked for
    assert arrays["X"] is not None and arrays["X"].tolist() == [[5, 6], [7, 8]]
    assert arrays["W"] is not None and np.array_equal(arrays["W"], np.eye(2))
    assert arrays["b"] is not None and arrays["b"].shape == (2,)


def test_nothing_given_is_none() -> None:
    assert read_operands({"W": None, "X": "1", "b": None}) == {"W": None, "X": np.array(1.0), "b": None}


# ---------------------------------------------------------------- standard input


@pytest.mark.parametrize("kind", ["csv", "npy", "npz", "json"])
def test_stdin_by_content(kind: str) -> None:
    values = np.array([[1.5, -2.0], [np.nan, 4e-310]])
    buffer = io.BytesIO()
    if kind == "npy":
        np.save(buffer, values)
    elif kind == "npz":
        np.savez(buffer, X=values)
    elif kind == "json":
        buffer.write(json.dumps(values.tolist()).encode())
    else:
        buffer.write(b"\n".join(b",".join(repr(v).encode() for v in row) for row in values.tolist()))
    with environment(buffer.getvalue()):
        assert same_bits(read_operand("-", "-X"), values)


def test_stdin_in_read_operands() -> None:
    with environment(b"1 2\n3 4\n"):
        arrays = read_operands({"X": "-", "W": "2"})
    assert arrays["X"] is not None and arrays["X"].tolist() == [[1, 2], [3, 4]]


# ---------------------------------------------------------------- large text: polars = the careful parser


def test_large_csv_read_by_polars_is_bit_exact(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((400, 300)) * 10.0 ** rng.integers(-300, 300, size=(400, 300))
    values[0, :6] = [5e-324, -0.0, 1e308, np.nan, np.inf, -np.inf]
    lines = ["# made by a test", "a;b;" + ";".join(f"c{i}" for i in range(298))]
    lines += [";".join(repr(v) for v in row) for row in values.tolist()]
    Path("big.csv").write_text("\n".join(lines) + "\n")
    assert Path("big.csv").stat().st_size > 1 << 20
    assert same_bits(read_operand("big.csv", "-X"), values)
    assert "skipped header row in -X big.csv line 2" in capsys.readouterr().err


def test_large_text_with_a_bad_cell_gets_the_careful_located_error(here: Path) -> None:
    rows = [",".join(["1.25"] * 200)] * 3000
    rows[2500] = rows[2500][:-4] + "oops"
    Path("big.csv").write_text("\n".join(rows))
    with pytest.raises(InputError, match=r"non-numeric cell 'oops', in -X big.csv line 2501 column 200"):
        read_operand("big.csv", "-X")


cell = st.one_of(
    st.floats(width=64).map(repr),
    st.sampled_from(["nan", "NaN", "-inf", "Infinity", "1e5", ".5", "5.", "+3", '"2"', "x", "", "1,5", " 7 "]),
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 5).flatmap(lambda n: st.lists(st.lists(cell, min_size=n, max_size=n), min_size=1, max_size=6)),
    delimiter=st.sampled_from([",", ";", "\t", " "]),
    extras=st.sampled_from(["", "# c\n", "\n", "h1,h2\n"]),
)
def test_polars_path_agrees_with_the_careful_parser(rows: list[list[str]], delimiter: str, extras: str) -> None:
    data = (extras + "\n".join(delimiter.join(row) for row in rows) + "\n").encode()
    where = Where("-X", "t.csv")
    careful: np.ndarray | InputError
    try:
        careful = parse_text(data, where)
    except InputError as exc:
        careful = exc
    try:
        fast: np.ndarray | InputError = parse_large_text(data, where)
    except InputError as exc:
        fast = exc
    if isinstance(careful, InputError):
        assert isinstance(fast, InputError) and str(fast) == str(careful)
    else:
        assert isinstance(fast, np.ndarray) and same_bits(fast, careful)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=5)))
def test_repr_text_round_trips_through_files(tmp_path_factory: pytest.TempPathFactory, values: np.ndarray) -> None:
    path = tmp_path_factory.mktemp("rt") / "v.csv"
    path.write_text("\n".join(",".join(repr(v) for v in row) for row in values.tolist()) + "\n")
    assert same_bits(read_operand(str(path), "-X"), values)


def test_one_enormous_line_is_a_row_even_past_the_sniffing_window() -> None:
    line = ",".join(["0.125", "-3.5e-7"] * 6000)  # > 64 KiB and no newline at all
    where = Where("-X", "row.csv")
    fast = parse_large_text(line.encode(), where)
    assert fast.shape == (1, 12000) and same_bits(fast, parse_text(line.encode(), where))
