"""Bad input gives one located InputError (operand, file, line, column, offending text), and nothing else."""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import environment
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wxb.cli.errors import InputError, error_message
from wxb.cli.read.largetext import parse_large_text
from wxb.cli.read.operands import read_operand, read_operands
from wxb.cli.read.textparse import Where, parse_text


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


class Marker:
    """Unpickling this would create a file: proof that a pickle ran code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return (open, (self.path, "w"))


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """A valid version-1.0 .npy header for `shape`, with no data after it."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def truncated_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(100.0))
    return buffer.getvalue()[:-17]


# (file name, content, spec given, the message expected (regex), hint expected (regex) or None)
FILE_CASES = [
    ("empty.csv", b"", "empty.csv", r"no numbers \(the file is empty\), in -X empty.csv$", None),
    ("comments.csv", b"# only\n\n", "comments.csv", r"no numbers \(only comments\), in -X comments.csv$", None),
    ("header.csv", b"a,b,c\n", "header.csv", r"no numbers \(only a header row\), in -X header.csv line 1$", None),
    (
        "ragged.csv",
        b"1,2,3\n4,5\n",
        "ragged.csv",
        r"row has 2 cells but line 1 has 3, in -X ragged.csv line 2 column 3",
        "same number",
    ),
    (
        "ragged2.txt",
        b"1 2\n# c\n3 4 5\n",
        "ragged2.txt",
        r"row has 3 cells but line 1 has 2, in -X ragged2.txt line 3 column 3",
        None,
    ),
    ("cell.csv", b"1,2\n3,abc\n", "cell.csv", r"non-numeric cell 'abc', in -X cell.csv line 2 column 2$", None),
    ("empty_cell.csv", b"1,,2\n", "empty_cell.csv", r"empty cell, in -X empty_cell.csv line 1 column 2$", None),
    (
        "underscore.csv",
        b"1_000,2\n",
        "underscore.csv",
        r"non-numeric cell '1_000', in -X underscore.csv line 1 column 1",
        None,
    ),
    (
        "decimal.csv",
        b"1,5;2,5\n3,5;4,5\n",
        "decimal.csv",
        r"non-numeric cell '1,5', in -X decimal.csv line 1 column 1",
        "decimal commas.*'1.5'",
    ),
    ("quoted_comma.csv", b'"1,5","2"\n', "quoted_comma.csv", r"non-numeric cell '1,5'", None),
    (
        "garbage.csv",
        bytes(range(256)) * 4,
        "garbage.csv",
        r"binary data, not text \(a NUL byte\), in -X garbage.csv line 1 column 1",
        ".npy",
    ),
    (
        "latin1.csv",
        "1,2\n3,4é\n".encode("latin-1"),
        "latin1.csv",
        r"not UTF-8 text \(byte 0xe9\), in -X latin1.csv line 2 column 4",
        "UTF-8",
    ),
    (
        "complex.csv",
        b"1,2+3j\n",
        "complex.csv",
        r"complex number '2\+3j', in -X complex.csv line 1 column 2",
        "real numbers",
    ),
    (
        "truncated.npy",
        truncated_npy(),
        "truncated.npy",
        r"truncated .npy: its header says \(100,\) float64 \(800 bytes",
        None,
    ),
    (
        "huge.npy",
        npy_header((10**9, 10**9)),
        "huge.npy",
        r"truncated .npy: its header says \(1000000000, 1000000000\)",
        None,
    ),
    ("notnpy.npy", b"hello world, not numpy", "notnpy.npy", r"not a valid .npy file", None),
    ("complex.npy", None, "complex.npy", r"holds complex numbers \(complex128\), in -X complex.npy$", "real numbers"),
    ("strings.npy", None, "strings.npy", r"holds <U3 data, not numbers", None),
    ("structured.npy", None, "structured.npy", r"holds .* data, not numbers", None),
    ("p.npz", None, "p.npz:Z", r"has no array named 'Z' \(it has: W, X\), in -X p.npz$", None),
    ("two.npz", None, "two.npz", r"holds several arrays and none named 'X' \(it has: a, b\)", "two.npz:KEY"),
    ("bad.npz", b"PK\x03\x04 not really a zip", "bad.npz", r"not a valid .npz file", None),
    ("huge.npz", None, "huge.npz", r"truncated .npy: its header says \(1000000000, 1000000000\) float64", None),
    ("bad.json", b"[[1, 2],\n [3, ]]", "bad.json", r"not valid JSON .*, in -X bad.json line 2 column 6", None),
    (
        "ragged.json",
        b"[[1, 2], [3]]",
        "ragged.json",
        r"ragged nested lists: \[1\] has shape \(1,\), \[0\] has \(2,\)",
        None,
    ),
    ("plain.csv", b"1,2\n", "plain.csv:X", r"holds a single array", None),
]


def make_binary(name: str) -> None:
    """The binary fixtures that are easiest to make with NumPy itself."""
    if name == "complex.npy":
        np.save(name, np.array([1 + 2j]))
    elif name == "strings.npy":
        np.save(name, np.array(["abc"]))
    elif name == "structured.npy":
        np.save(name, np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]))
    elif name == "p.npz":
        np.savez(name, W=np.eye(2), X=np.eye(2))
    elif name == "two.npz":
        np.savez(name, a=np.eye(2), b=np.eye(2))
    elif name == "huge.npz":
        import zipfile

        with zipfile.ZipFile(name, "w") as archive:
            archive.writestr("X.npy", npy_header((10**9, 10**9)))


@pytest.mark.parametrize(("name", "content", "spec", "message", "hint"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_files_give_one_located_error(
    here: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    spec: str,
    message: str,
    hint: str | None,
) -> None:
    if content is None:
        make_binary(name)
    else:
        Path(name).write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_operand(spec, "-X")
    assert caught.value.operand == "-X"
    assert re.search(message, str(caught.value)), str(caught.value)
    if hint is not None:
        assert caught.value.hint and re.search(hint, caught.value.hint), caught.value.hint
    assert capsys.readouterr().out == ""
    assert "\n" not in error_message(caught.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("data.csv", r"^no such file 'data.csv', and not a matrix literal either, in -X$"),
        ("missing/params.npz", r"^no such file 'missing/params.npz', and not a matrix literal either"),
        ("missing.npz:W", r"^no such file 'missing.npz', in -X$"),
        ("abc", r"^no such file 'abc', and not a matrix literal either"),
        ("1 2; 3 x", r"^non-numeric cell 'x', in -X literal '1 2; 3 x' row 2 column 2$"),
        ("1 2; 3", r"^row 2 has 1 number but row 1 has 2, in -X literal"),
        ("1,,2", r"^empty cell, in -X literal '1,,2' row 1 column 2$"),
        ("1+2j", r"^complex number '1\+2j'"),
        ("[[1, 2], [3]]", r"^ragged nested lists"),
        ('[1, "2"]', r"^not a number: \"2\" at \[1\]"),
        ("[true]", r"^not a number: true at \[0\]"),
        ("   ", r"^empty matrix literal"),
        ("[" * 5000 + "]" * 5000, r"nested"),
    ],
)
def test_bad_literals_and_missing_files(here: Path, spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_operand(spec, "-X")


def test_a_folder_is_not_a_file(here: Path) -> None:
    Path("d.csv").mkdir()
    with pytest.raises(InputError, match=r"^is a folder, not a file, in -X d.csv$"):
        read_operand("d.csv", "-X")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file(here: Path) -> None:
    Path("secret.csv").write_text("1\n")
    Path("secret.csv").chmod(0)
    with pytest.raises(InputError, match=r"^cannot read it: Permission denied, in -X secret.csv$"):
        read_operand("secret.csv", "-X")


def test_unknown_delimiter_is_refused(here: Path) -> None:
    with pytest.raises(InputError, match="cannot use 'ab' as a delimiter"):
        read_operand("1 2", "-X", delimiter="ab")


# ---------------------------------------------------------------- pickles never run


@pytest.mark.parametrize("container", ["npy", "npz", "npz-stdin", "npy-stdin"])
def test_a_malicious_pickle_runs_no_code(here: Path, monkeypatch: pytest.MonkeyPatch, container: str) -> None:
    marker = here / "pwned"
    evil = np.array([Marker(str(marker))], dtype=object)
    buffer = io.BytesIO()
    if container.startswith("npy"):
        np.save(buffer, evil, allow_pickle=True)
    else:
        np.savez(buffer, X=evil)
    spec = "-" if container.endswith("stdin") else f"evil.{container}"
    if spec != "-":
        Path(spec).write_bytes(buffer.getvalue())
    with environment(buffer.getvalue()), pytest.raises(InputError, match="holds Python objects"):
        read_operand(spec, "-X")
    assert not marker.exists()
    # the fixture really is dangerous: unpickling it does create the marker
    np.load(io.BytesIO(buffer.getvalue()), allow_pickle=True)["X" if "npz" in container else ...]
    assert marker.exists()


# ---------------------------------------------------------------- standard input


def test_stdin_that_is_a_terminal() -> None:
    terminal = environment(b"1\n", stdin_isatty=True)
    with terminal, pytest.raises(InputError, match=r"^-X reads standard input, but it is a terminal$") as caught:
        read_operand("-", "-X")
    assert caught.value.hint and "pipe or redirect" in caught.value.hint


@pytest.mark.parametrize("data", [b"", b"\n  \n"])
def test_empty_stdin(data: bytes) -> None:
    with environment(data), pytest.raises(InputError, match=r"^standard input is empty, in -G stdin$"):
        read_operand("-", "-G")


def test_bad_text_on_stdin_is_located() -> None:
    message = r"^non-numeric cell 'x', in -X stdin line 2 column 2$"
    with environment(b"1,2\n3,x\n"), pytest.raises(InputError, match=message):
        read_operand("-", "-X")


@pytest.mark.parametrize(
    ("specs", "bundle", "named"),
    [({"W": "-", "X": "-"}, None, "-W and -X"), ({"G": "-"}, "-", "-G and --from")],
)
def test_two_operands_reading_stdin(specs: dict[str, str | None], bundle: str | None, named: str) -> None:
    with pytest.raises(InputError, match=f"^{named} both read standard input") as caught:
        read_operands(specs, bundle=bundle)
    assert caught.value.hint and "only one operand" in caught.value.hint


def test_bundle_without_operand_names(here: Path) -> None:
    np.savez("b.npz", f=np.eye(2))
    with pytest.raises(InputError, match=r"no arrays named W, X, b, G, T \(it has: f\), in --from b.npz"):
        read_operands({"W": None, "X": "1", "b": None, "G": None, "T": None}, bundle="b.npz")


# ---------------------------------------------------------------- anything at all: an array or an InputError


def array_or_input_error(read: Callable[[], np.ndarray]) -> None:
    try:
        array = read()
    except InputError as exc:
        assert str(exc) and "\n" not in error_message(exc)
    else:
        assert isinstance(array, np.ndarray) and array.dtype == np.float64


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_any_literal_text(text: str) -> None:
    assume(text != "-")
    with environment():  # "-:" and its kin read stdin: an empty one, never pytest's
        array_or_input_error(lambda: read_operand(text, "-X"))


literal_alphabet = st.sampled_from(list('0123456789 ,;[].eE+-\nnaifjNI"{}:tx'))


@settings(max_examples=400, deadline=None)
@given(st.text(literal_alphabet, max_size=40))
def test_any_literal_made_of_number_characters(text: str) -> None:
    assume(text != "-")
    with environment():  # "-:" and its kin read stdin: an empty one, never pytest's
        array_or_input_error(lambda: read_operand(text, "-X"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | st.text(literal_alphabet, max_size=80).map(str.encode))
def test_any_file_content(here: Path, data: bytes) -> None:
    where = Where("-X", "t.csv")
    array_or_input_error(lambda: parse_text(data, where))
    array_or_input_error(lambda: parse_large_text(data, where))
    for suffix in (".csv", ".txt", ".json"):
        Path(f"t{suffix}").write_bytes(data)
        array_or_input_error(lambda: read_operand(f"t{suffix}", "-X"))  # noqa: B023


def test_an_empty_npz_says_it_holds_no_arrays(here: Path) -> None:
    np.savez(here / "empty.npz")
    for spec in ("empty.npz", "empty.npz:X"):
        with pytest.raises(InputError) as caught:
            read_operand(spec, "-X")
        message = error_message(caught.value)
        assert "holds no arrays" in message and "it has" not in message, message


def test_an_npz_key_holding_a_colon_is_selected_by_the_last_colon_after_an_existing_file(here: Path) -> None:
    np.savez(here / "k.npz", **{"a:b": np.ones(2), "a": np.zeros(2)})
    np.testing.assert_array_equal(read_operand("k.npz:a:b", "-X"), np.ones(2))
    np.testing.assert_array_equal(read_operand("k.npz:a", "-X"), np.zeros(2))


def test_a_crafted_npy_header_does_not_leak_python_objects(here: Path) -> None:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (f(1),), }"
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    (here / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(8))
    with pytest.raises(InputError) as caught:
        read_operand("bad.npy", "-X")
    message = error_message(caught.value)
    assert "not a valid .npy file" in message and "<ast" not in message and "0x" not in message, message
