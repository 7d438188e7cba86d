"""Files other tools write (pandas, R, Excel, PowerShell, classic Mac OS, NumPy big-endian), the header rules and
`--header`/`--no-header`, what `--delimiter` may touch, short error lines with useful hints, and operands of any
name (the expression engine's W1, b2, ...)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest
from arrays import npy_bytes, npz_bytes
from conftest import environment, wxb
from hypothesis import given, settings
from hypothesis import strategies as st

from wxb.cli.errors import InputError, error_message
from wxb.cli.read.largetext import parse_large_text
from wxb.cli.read.operands import read_operand, read_operands
from wxb.cli.read.textparse import LARGE_TEXT, Where, parse_text
from wxb.core.operands import as_operand


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def notes(capsys: pytest.CaptureFixture[str]) -> list[str]:
    out, err = capsys.readouterr()
    assert out == ""
    return err.splitlines()


VALUES = np.array([[1.5, 2.0, 3.0], [-4.0, 0.25, 6e-3]])
BIG = np.arange(1.0, 1.0 + 3 * 60000).reshape(-1, 3) / 8  # ~1.7 MB as text: the polars path

# The bytes these tools write for VALUES (a frame with columns a, b, c, or with numbered columns).
PANDAS_INDEX = b",a,b,c\n0,1.5,2.0,3.0\n1,-4.0,0.25,0.006\n"  # df.to_csv()
PANDAS_NUMBERED_INDEX = b",0,1,2\n0,1.5,2.0,3.0\n1,-4.0,0.25,0.006\n"  # pd.DataFrame(arr).to_csv()
PANDAS_NO_INDEX = b"0,1,2\n1.5,2.0,3.0\n-4.0,0.25,0.006\n"  # pd.DataFrame(arr).to_csv(index=False)
R_WRITE_CSV = b'"","a","b","c"\n"1",1.5,2,3\n"2",-4,0.25,0.006\n'  # write.csv(data.frame(a=, b=, c=))
R_NAMED_ROWS = b'"","V1","V2","V3"\r\n"first",1.5,2,3\r\n"second",-4,0.25,0.006\r\n'  # write.csv(m) on Windows


def pandas_index(values: np.ndarray) -> bytes:
    rows = [f"{i}," + ",".join(repr(v) for v in row) for i, row in enumerate(values.tolist())]
    return ("," + ",".join(str(j) for j in range(values.shape[1])) + "\n" + "\n".join(rows) + "\n").encode()


def pandas_no_index(values: np.ndarray) -> bytes:
    rows = [",".join(repr(v) for v in row) for row in values.tolist()]
    return (",".join(str(j) for j in range(values.shape[1])) + "\n" + "\n".join(rows) + "\n").encode()


def r_write_csv(values: np.ndarray) -> bytes:
    rows = [f'"{i}",' + ",".join(repr(v) for v in row) for i, row in enumerate(values.tolist(), start=1)]
    return ('"",' + ",".join(f'"V{j}"' for j in range(1, values.shape[1] + 1)) + "\n" + "\n".join(rows) + "\n").encode()


# ---------------------------------------------------------------- pandas and R: row labels and numbered headers


@pytest.mark.parametrize("content", [PANDAS_INDEX, PANDAS_NUMBERED_INDEX, R_WRITE_CSV, R_NAMED_ROWS],
                         ids=["pandas-index", "pandas-numbered-index", "R-write.csv", "R-named-rows-crlf"])
def test_a_header_with_an_empty_first_cell_marks_row_labels(here: Path, capsys: pytest.CaptureFixture[str],
                                                             content: bytes) -> None:
    Path("frame.csv").write_bytes(content)
    assert np.array_equal(read_operand("frame.csv", "-X"), VALUES)
    [note] = notes(capsys)
    assert note.startswith("wxb: note: skipped header row in -X frame.csv line 1")
    assert "column 1" in note and "row labels" in note


@pytest.mark.parametrize("make", [pandas_index, r_write_csv], ids=["pandas-index", "R-write.csv"])
def test_row_labels_in_a_large_file(here: Path, capsys: pytest.CaptureFixture[str], make: object) -> None:
    assert callable(make)
    Path("frame.csv").write_bytes(make(BIG))
    assert Path("frame.csv").stat().st_size > LARGE_TEXT
    assert np.array_equal(read_operand("frame.csv", "-X"), BIG)
    [note] = notes(capsys)
    assert "row labels" in note


def test_row_labels_with_forced_header(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("frame.csv").write_bytes(PANDAS_NUMBERED_INDEX)
    assert np.array_equal(read_operand("frame.csv", "-X", header=True), VALUES)
    assert "row labels" in notes(capsys)[0]


def test_no_header_reads_a_labelled_file_as_data_and_says_where_it_fails(here: Path) -> None:
    Path("frame.csv").write_bytes(PANDAS_INDEX)
    with pytest.raises(InputError, match=r"^empty cell, in -X frame.csv line 1 column 1$"):
        read_operand("frame.csv", "-X", header=False)


def test_numbered_header_from_pandas_without_index(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("arr.csv").write_bytes(PANDAS_NO_INDEX)
    assert np.array_equal(read_operand("arr.csv", "-X"), VALUES)
    [note] = notes(capsys)
    assert note.startswith("wxb: note: ") and "line 1 of -X arr.csv" in note
    assert "0,1,2" in note and "header" in note and "--no-header" in note


def test_numbered_header_in_a_large_file(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("arr.csv").write_bytes(pandas_no_index(BIG))
    assert Path("arr.csv").stat().st_size > LARGE_TEXT
    assert np.array_equal(read_operand("arr.csv", "-X"), BIG)
    assert "--no-header" in notes(capsys)[0]
    assert np.array_equal(read_operand("arr.csv", "-X", header=False), np.vstack([[0.0, 1.0, 2.0], BIG]))
    assert notes(capsys) == []


def test_no_header_keeps_the_numbered_row_as_data(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("arr.csv").write_bytes(PANDAS_NO_INDEX)
    assert np.array_equal(read_operand("arr.csv", "-X", header=False), np.vstack([[0.0, 1.0, 2.0], VALUES]))
    assert notes(capsys) == []


@pytest.mark.parametrize("content", [b"0,1\n0,1\n", b"0,1\n", b"0\n5\n6\n", b"0.0,1.0\n2,3\n"],
                         ids=["repeated", "alone", "one-column", "not-integers"])
def test_a_row_of_column_numbers_that_is_data_stays_data(here: Path, capsys: pytest.CaptureFixture[str],
                                                         content: bytes) -> None:
    Path("a.csv").write_bytes(content)
    assert read_operand("a.csv", "-X").shape[0] == content.count(b"\n")
    assert notes(capsys) == []


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
def test_forced_header_skips_a_numeric_first_row(here: Path, capsys: pytest.CaptureFixture[str], large: bool) -> None:
    values = BIG if large else VALUES
    Path("a.csv").write_bytes(b"9,9,9\n" + "\n".join(",".join(map(repr, row)) for row in values.tolist()).encode())
    assert np.array_equal(read_operand("a.csv", "-X", header=True), values)
    assert np.array_equal(read_operand("a.csv", "-X")[0], [9.0, 9.0, 9.0])
    assert notes(capsys) == []


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
def test_no_header_refuses_a_word_header_with_its_location(here: Path, large: bool) -> None:
    values = BIG if large else VALUES
    Path("a.csv").write_bytes(b"x,y,z\n" + "\n".join(",".join(map(repr, row)) for row in values.tolist()).encode())
    with pytest.raises(InputError, match=r"^non-numeric cell 'x', in -X a.csv line 1 column 1$"):
        read_operand("a.csv", "-X", header=False)


def test_header_flag_reaches_standard_input() -> None:
    with environment(PANDAS_NO_INDEX):
        assert read_operand("-", "-X", header=False).shape == (3, 3)


def test_read_operands_passes_header_on(here: Path) -> None:
    Path("a.csv").write_bytes(b"7,8\n1,2\n")
    arrays = read_operands({"X": "a.csv", "b": "a.csv"}, header=True)
    assert arrays["X"] is not None and arrays["X"].tolist() == [[1, 2]]


# ---------------------------------------------------------------- UTF-16 with a BOM, classic-Mac line ends


EXCEL_UNICODE_TEXT = "\ufeffa\tb\tc\r\n1.5\t2\t3\r\n-4\t0.25\t0.006\r\n"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-16-le", EXCEL_UNICODE_TEXT),  # Excel "Unicode Text"
        ("utf-16-le", "\ufeff1.5,2,3\r\n-4,0.25,0.006\r\n"),  # PowerShell `>`
        ("utf-16-be", "\ufeff1.5 2 3\n-4 0.25 0.006\n"),
        ("utf-8", "1.5,2,3\r-4,0.25,0.006\r"),  # classic Mac OS
        ("utf-16-le", "\ufeff1.5;2;3\r-4;0.25;0.006"),
    ],
    ids=["excel-unicode-text", "powershell", "utf16-be", "mac-cr", "utf16-mac-cr"],
)
@pytest.mark.parametrize("name", ["t.csv", "t.txt", "t"])
def test_utf16_and_cr_only_text(here: Path, encoding: str, text: str, name: str) -> None:
    if name == "t.txt" and "\t" not in text and " " not in text:
        text = re.sub("[,;]", " ", text)
    Path(name).write_bytes(text.encode(encoding))
    assert np.array_equal(read_operand(name, "-X"), VALUES)


@pytest.mark.parametrize(("encoding", "newline"), [("utf-16-le", "\r\n"), ("utf-16-be", "\n"), ("utf-8", "\r")])
def test_utf16_and_cr_only_large_files(here: Path, capsys: pytest.CaptureFixture[str], encoding: str,
                                       newline: str) -> None:
    lines = ["x\ty\tz", *("\t".join(map(repr, row)) for row in BIG.tolist())]
    Path("big.csv").write_bytes(("\ufeff" if encoding != "utf-8" else "").encode(encoding)
                                + newline.join(lines).encode(encoding))
    assert Path("big.csv").stat().st_size > LARGE_TEXT
    assert np.array_equal(read_operand("big.csv", "-X"), BIG)
    assert notes(capsys) == ["wxb: note: skipped header row in -X big.csv line 1"]


def test_utf16_on_standard_input() -> None:
    with environment(EXCEL_UNICODE_TEXT.encode("utf-16-le")):
        assert np.array_equal(read_operand("-", "-X"), VALUES)


def test_bad_utf16_is_located(here: Path) -> None:
    Path("t.csv").write_bytes("\ufeff1,2\n3,4\n".encode("utf-16-le") + b"\x00")
    with pytest.raises(InputError, match=r"UTF-16.*, in -X t.csv line 3"):
        read_operand("t.csv", "-X")


def test_cr_only_errors_name_the_right_line(here: Path) -> None:
    Path("t.csv").write_bytes(b"1,2\r3,4\r5,x\r")
    with pytest.raises(InputError, match=r"^non-numeric cell 'x', in -X t.csv line 3 column 2$"):
        read_operand("t.csv", "-X")


# ---------------------------------------------------------------- --delimiter touches text only




@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.json", b"[[1.5, 2, 3], [-4, 0.25, 0.006]]"),
        ("a.csv", npy_bytes(VALUES)),  # .npy data under another suffix
        ("a", npy_bytes(VALUES)),
        ("a.dat", npz_bytes(X=VALUES)),
        ("a.npz", npz_bytes(X=VALUES)),
        ("noext", b"[[1.5, 2, 3], [-4, 0.25, 0.006]]"),
    ],
)
@pytest.mark.parametrize("delimiter", [";", "|", "tab", "space"])
def test_delimiter_leaves_json_npy_npz_alone(here: Path, name: str, content: bytes, delimiter: str) -> None:
    Path(name).write_bytes(content)
    assert np.array_equal(read_operand(name, "-X", delimiter=delimiter), VALUES)


@pytest.mark.parametrize("delimiter", [";", "|", "tab"])
def test_delimiter_leaves_json_literals_and_json_on_stdin_alone(delimiter: str) -> None:
    assert read_operand("[[1, 2], [3, 4]]", "-X", delimiter=delimiter).tolist() == [[1, 2], [3, 4]]
    with environment(b'{"X": [1, 2]}'):
        assert read_operand("-", "-X", delimiter=delimiter).tolist() == [1, 2]


# ---------------------------------------------------------------- big-endian floats


@pytest.mark.parametrize(("dtype", "expected"), [(">f4", np.float32), ("<f4", np.float32), (">f8", np.float64),
                                                 ("<f2", np.float64), (">i4", np.float64)])
def test_as_operand_makes_native_floats(dtype: str, expected: type) -> None:
    array = as_operand(np.arange(4, dtype=dtype), "X")
    assert array.dtype == np.dtype(expected) and array.dtype.isnative
    assert array.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_as_operand_does_not_copy_native_floats() -> None:
    for dtype in (np.float32, np.float64):
        array = np.ones(3, dtype=dtype)
        assert as_operand(array, "X") is array


def test_a_big_endian_npy_stays_float32(here: Path) -> None:
    np.save("be.npy", np.array([[1.25, -2.5]], dtype=">f4"))
    assert as_operand(read_operand("be.npy", "-X"), "X").dtype == np.float32


# ---------------------------------------------------------------- short error lines, useful hints


def raised(spec: str, **kw: object) -> InputError:
    with pytest.raises(InputError) as caught:
        read_operand(spec, "-X", **kw)  # type: ignore[arg-type]
    return caught.value


LONG = "7" * 12000


@pytest.mark.parametrize(
    ("spec", "content"),
    [
        ("1 2; 3 " + "x" * 12000, None),  # a long non-numeric cell in a literal
        ("a" * 12000, None),  # a long word: neither a file nor a literal
        ("dir/" + "a" * 12000, None),
        ("1 " * 6000 + "; 1 x", None),  # a long literal whose error is elsewhere
        ("1" + LONG + "j", None),  # a long complex number
        ("p.npz:" + "k" * 12000, "npz"),  # a long key
        ("c.csv", f"1;{LONG},5\n".encode()),  # a long decimal-comma cell
        ("j.csv", f"1,{LONG}j\n".encode()),  # a long complex cell
        ("w.csv", f"1,{'y' * 12000}\n".encode()),
        ("nope.npz:X" + "k" * 12000, None),
        ("[" + ", ".join(["1"] * 6000) + ', "x"]', None),  # JSON
    ],
    ids=["literal-cell", "word", "path", "literal", "complex", "npz-key", "decimal-comma", "complex-cell", "cell",
         "missing-archive", "json"],
)
def test_long_input_gives_a_short_error_line(here: Path, spec: str, content: bytes | str | None) -> None:
    if content == "npz":
        np.savez("p.npz", X=np.eye(2))
    elif isinstance(content, bytes):
        Path(spec).write_bytes(content)
    line = error_message(raised(spec))
    assert len(line) < 400, line


def test_long_delimiter_is_shown_short() -> None:
    assert len(error_message(raised("1 2", delimiter="|" * 12000))) < 400


def test_a_wide_structured_dtype_is_shown_short(here: Path) -> None:
    np.save("s.npy", np.zeros(2, dtype=[(f"field_{i}", "<f8") for i in range(300)]))
    assert len(error_message(raised("s.npy"))) < 200


def test_many_archive_names_are_listed_short(here: Path) -> None:
    np.savez("many.npz", **{f"array_number_{i}": np.ones(1) for i in range(2000)})  # type: ignore[arg-type]
    assert len(error_message(raised("many.npz"))) < 600


@pytest.mark.parametrize(
    ("content", "message", "hint"),
    [
        (b"1,2,\n3,4,\n", r"^empty cell, in -X t.csv line 1 column 3$", r"end with a delimiter ','"),
        (b"1;2;\n3;4;\n", r"^empty cell, in -X t.csv line 1 column 3$", r"end with a delimiter ';'"),
        (b"1|2|3\n4|5|6\n", r"^non-numeric cell '1\|2\|3', in -X t.csv line 1 column 1$", r"--delimiter '\|'"),
        (b"1,NA,3\n", r"^non-numeric cell 'NA', in -X t.csv line 1 column 2$", r"nan"),
        (b"1,N/A,3\n", r"^non-numeric cell 'N/A'", r"nan"),
        (b"1,null,3\n", r"^non-numeric cell 'null'", r"nan"),
        (b'1,"NA",3\n', r"^non-numeric cell 'NA'", r"nan"),
        (b"1,,3\n", r"^empty cell, in -X t.csv line 1 column 2$", r"nan"),
        (b"1\tNaN\t3\n4\t#N/A\t6\n", r"^non-numeric cell '#N/A', in -X t.csv line 2 column 2$", r"nan"),
    ],
    ids=["trailing-comma", "trailing-semicolon", "pipes", "NA", "N/A", "null", "quoted-NA", "empty", "excel-NA"],
)
def test_hints_name_the_likely_cause(here: Path, content: bytes, message: str, hint: str) -> None:
    Path("t.csv").write_bytes(content)
    error = raised("t.csv")
    assert re.search(message, str(error)), str(error)
    assert error.hint and re.search(hint, error.hint), error.hint
    assert len(error_message(error)) < 200


def test_hints_also_for_large_files(here: Path) -> None:
    Path("t.csv").write_bytes(b"".join(b"%d,%d,\n" % (i, i + 1) for i in range(200000)))
    assert Path("t.csv").stat().st_size > LARGE_TEXT
    error = raised("t.csv")
    assert "line 1 column 3" in str(error) and error.hint and "delimiter" in error.hint


# ---------------------------------------------------------------- operands of any name


def test_operands_of_any_name_are_read(here: Path) -> None:
    np.savez("layer.npz", W1=np.eye(2), b2=np.ones(2), X=np.zeros((2, 1)))
    arrays = read_operands({"W1": None, "b2": "5; 6", "X": None, "h": "1 2"}, bundle="layer.npz")
    assert list(arrays) == ["W1", "b2", "X", "h"]
    assert arrays["W1"] is not None and np.array_equal(arrays["W1"], np.eye(2))
    assert arrays["b2"] is not None and arrays["b2"].tolist() == [[5], [6]]
    assert arrays["X"] is not None and arrays["X"].shape == (2, 1)
    assert arrays["h"] is not None and arrays["h"].tolist() == [[1, 2]]


def test_other_names_are_labelled_name_equals(here: Path) -> None:
    with pytest.raises(InputError, match=r"^non-numeric cell 'x', in W1= literal '1 x' row 1 column 2$"):
        read_operands({"W1": "1 x"})
    with pytest.raises(InputError, match=r", in -b literal"):
        read_operands({"b": "1 x"})


def test_a_bare_archive_gives_the_array_named_after_the_operand(here: Path) -> None:
    np.savez("p.npz", W1=np.eye(2), W2=np.ones((2, 2)))
    arrays = read_operands({"W2": "p.npz"})
    assert arrays["W2"] is not None and np.array_equal(arrays["W2"], np.ones((2, 2)))


def test_the_bundle_is_called_from_in_messages(here: Path) -> None:
    np.savez("b.npz", f=np.eye(2))
    with pytest.raises(InputError, match=r"^no arrays named W1, X \(it has: f\), in --from b.npz$"):
        read_operands({"W1": None, "X": "1"}, bundle="b.npz")


def test_one_reader_of_standard_input_across_any_names() -> None:
    with pytest.raises(InputError, match=r"^W1= and b2= both read standard input") as caught:
        read_operands({"W1": "-", "b2": "-"})
    assert caught.value.hint and "only one operand" in caught.value.hint
    with pytest.raises(InputError, match=r"^-X and --from both read standard input"):
        read_operands({"X": "-"}, bundle="-")
    with pytest.raises(InputError, match=r"^h=, -G and --from all read standard input"):
        read_operands({"h": "/dev/stdin", "G": "-"}, bundle="/dev/stdin")


@pytest.mark.parametrize("name", ["1W", "W-1", "", "a b"])
def test_operand_names_must_be_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        read_operands({name: "1"})


# ---------------------------------------------------------------- the polars path agrees, whatever the layout


cell = st.one_of(st.floats(width=64).map(repr), st.integers(0, 3).map(str),
                 st.sampled_from(["nan", "x", "", '"1"', "NA", "a b"]))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 4).flatmap(lambda n: st.lists(st.lists(cell, min_size=n, max_size=n), min_size=1, max_size=5)),
    first=st.sampled_from(["", ",a,b\n", '"","V1"\n', "0,1\n", "0,1,2\n", ",0,1\n", "x,y\n"]),
    header=st.sampled_from([None, True, False]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "utf-16"]),
)
def test_polars_path_agrees_with_the_careful_parser_on_every_layout(
    rows: list[list[str]], first: str, header: bool | None, newline: str, encoding: str
) -> None:
    text = (first + "\n".join(",".join(row) for row in rows) + "\n").replace("\n", newline)
    data = text.encode(encoding)
    where = Where("-X", "t.csv")
    with redirect_stderr(io.StringIO()) as careful_notes:
        careful = outcome(lambda: parse_text(data, where, header=header))
    with redirect_stderr(io.StringIO()) as fast_notes:
        fast = outcome(lambda: parse_large_text(data, where, header=header))
    if isinstance(careful, InputError):
        assert isinstance(fast, InputError) and str(fast) == str(careful)
    else:
        assert isinstance(fast, np.ndarray) and fast.shape == careful.shape
        assert np.array_equal(fast, careful, equal_nan=True)
        assert fast_notes.getvalue() == careful_notes.getvalue()


def outcome(parse: Callable[[], np.ndarray]) -> np.ndarray | InputError:
    try:
        return parse()
    except InputError as exc:
        return exc


# ---- files other tools wrote ----

@pytest.mark.parametrize("delimiter", [",", " ", "\t", ";"])
def test_np_savetxt_files_read_whatever_their_delimiter_and_suffix(tmp_path: Path, delimiter: str) -> None:
    a = np.array([[1.5, 2.0], [3.0, 4e-5]])
    for suffix in (".txt", ".dat", ".csv"):
        path = tmp_path / f"a{suffix}"
        np.savetxt(path, a, delimiter=delimiter)
        done = wxb("forward", "-X", str(path), "-b", "0", "--format", "json")
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert json.loads(done.stdout) == a.tolist()


def test_a_matrix_of_integers_starting_0_1_is_data_with_a_note_and_floats_below_it_make_it_a_header(
        tmp_path: Path) -> None:
    path = tmp_path / "perm.csv"
    path.write_text("0,1\n1,0\n")
    done = wxb("forward", "-X", str(path), "-b", "0", "--format", "json")
    assert json.loads(done.stdout) == [[0.0, 1.0], [1.0, 0.0]]
    assert "as data" in done.stderr and "--header" in done.stderr
    floats = tmp_path / "pd.csv"
    floats.write_text("0,1,2\n1.5,2.0,3.0\n")
    done = wxb("forward", "-X", str(floats), "-b", "0", "--format", "json")
    assert json.loads(done.stdout) == [[1.5, 2.0, 3.0]] and "as a header" in done.stderr


def test_a_tab_separated_file_with_row_labels_drops_them(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("\t0\t1\n0\t1.5\t2\n1\t3\t4\n")
    done = wxb("forward", "-X", str(path), "-b", "0", "--format", "json")
    assert json.loads(done.stdout) == [[1.5, 2.0], [3.0, 4.0]] and "row labels" in done.stderr


def test_a_huge_cell_is_judged_in_linear_time(tmp_path: Path) -> None:
    """A number pattern that can split a run of digits two ways backtracks quadratically on a cell that is not a
    number: 12,000 digits took 16 s. At 300,000 digits a quadratic pattern would run for hours."""
    path = tmp_path / "c.csv"
    path.write_text("1;" + "7" * 300_000 + ",5\n")
    done = wxb("forward", "-X", str(path), "-b", "0")
    assert done.returncode == 2
    assert done.stderr.startswith("wxb: error: non-numeric cell")


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from([".5", "5.", "+1", "-0", "INF", "-Infinity", "nan", "-nan", " 2 ", "1e5", "1E-5", "1_000", "0x10",
                     "1.5d3", "1,5", "", "NA", "1e", "--1", "\u00a01", "nan(1)", "1.2.3", "True"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=4),
       st.sampled_from([",", ";", "\t", " "]))
def test_numpys_reader_and_the_careful_parser_agree(rows: list[list[str]], delimiter: str) -> None:
    """parse_text reads with NumPy's C reader where it can; whatever it accepts, the careful parser reads the same,
    and whatever it refuses, the careful parser decides."""
    import wxb.cli.read.textparse as textparse

    text = "\n".join(delimiter.join(row) for row in rows).encode()
    where = Where("-X", "t.csv")

    def read() -> np.ndarray | str:
        try:
            with redirect_stderr(io.StringIO()):
                return parse_text(text, where, delimiter=delimiter if delimiter != " " else None, header=False)
        except InputError as exc:
            return str(exc)

    fast = read()
    original = textparse._loadtxt
    textparse._loadtxt = lambda *args: None  # type: ignore[assignment]
    try:
        careful = read()
    finally:
        textparse._loadtxt = original
    if isinstance(careful, str) or isinstance(fast, str):
        assert fast == careful
    else:
        np.testing.assert_array_equal(fast, careful)
        assert fast.dtype == careful.dtype and fast.shape == careful.shape
