"""Writing results: format choice, exact round trips, shapes per format, atomic files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from conftest import environment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wxb.cli.errors import InputError
from wxb.cli.formats import FORMATS, choose_format
from wxb.cli.read.operands import read_operand
from wxb.cli.show.progress import BIG, wants_spinner
from wxb.cli.write import output
from wxb.cli.write.output import format_number, write_results, write_text


def strict_json(text: str) -> object:
    """text parsed as RFC 8259 JSON: NaN, Infinity and -Infinity refused."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def as_json_keeps(values: np.ndarray) -> np.ndarray:
    """values as standard JSON keeps them: NaN and ±inf become null (read back as NaN)."""
    return np.where(np.isfinite(values), values, np.nan).astype(values.dtype)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape and identical float64 bits (-0.0 != 0.0); any NaN equals any NaN (text has no NaN payloads)."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        return False
    return bool(((a64.view(np.uint64) == b64.view(np.uint64)) | (np.isnan(a64) & np.isnan(b64))).all())


SPECIAL = np.array([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e308, 1.7976931348623157e308, 0.1, 1 / 3,
                    np.nan, np.inf, -np.inf, 6.0, 1e16, 1e-300, 123456789.123456789])  # fmt: skip


# ---------------------------------------------------------------- format_number


@pytest.mark.parametrize(
    ("value", "text"),
    [(6.0, "6.0"), (0.1, "0.1"), (np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf"), (1e-300, "1e-300"),
     (-0.0, "-0.0"), (np.float64(2.5), "2.5"), (np.float32(0.1), "0.1"),
     (np.float32(0.1).item(), "0.10000000149011612")],
)  # fmt: skip
def test_format_number_examples(value: float, text: str) -> None:
    assert format_number(value) == text


@given(st.floats(allow_nan=False))
def test_format_number_round_trips_every_float(x: float) -> None:
    assert np.float64(float(format_number(x))).tobytes() == np.float64(x).tobytes()


# ---------------------------------------------------------------- choose_format


@pytest.mark.parametrize(
    ("requested", "output_name", "terminal", "expected"),
    [
        (None, None, True, "table"),
        (None, None, False, "csv"),
        (None, "-", False, "csv"),
        ("JSON", None, False, "json"),
        ("csv", None, True, "csv"),
        ("json", "r.csv", False, "json"),  # --format wins over the suffix
        (None, "r.csv", True, "csv"),
        (None, "r.TSV", True, "tsv"),
        (None, "r.txt", True, "tsv"),
        (None, "r.json", True, "json"),
        (None, "r.npy", True, "npy"),
        (None, "r.npz", True, "npz"),
        ("npy", None, False, "npy"),
    ],
)
def test_choose_format(requested: str | None, output_name: str | None, terminal: bool, expected: str) -> None:
    path = Path(output_name) if output_name else None
    assert choose_format(requested, path, stdout_is_terminal=terminal) == expected


@pytest.mark.parametrize(
    ("requested", "output_name", "terminal", "message", "hint"),
    [
        ("xml", None, False, "unknown format 'xml', in --format", "table, csv, tsv, json, npy, npz"),
        (None, "result.xlsx", False, "cannot tell the format from the file name 'result.xlsx', in -o", ".csv"),
        (None, "result", False, "cannot tell the format from the file name 'result', in -o", "--format"),
        ("table", "r.csv", False, "a table is for the terminal, not a file, in --format", "csv or json"),
        ("npz", None, True, "npz is binary and stdout is a terminal, in --format", "-o result.npz"),
    ],
)
def test_choose_format_refusals(
    requested: str | None, output_name: str | None, terminal: bool, message: str, hint: str
) -> None:
    with pytest.raises(InputError) as caught:
        choose_format(requested, Path(output_name) if output_name else None, stdout_is_terminal=terminal)
    assert str(caught.value) == message
    assert caught.value.hint and hint in caught.value.hint


def test_formats_table() -> None:
    assert FORMATS == ("table", "csv", "tsv", "json", "npy", "npz", "zarr")


# ---------------------------------------------------------------- what each format writes


@pytest.mark.parametrize(
    ("fmt", "array", "text"),
    [
        ("csv", np.float64(6), "6.0\n"),
        ("csv", np.array([1.5, -0.0, np.nan]), "1.5\n-0.0\nnan\n"),  # a 1-D vector is a column
        ("csv", np.array([[1.0, 2.0], [3.0, np.inf]]), "1.0,2.0\n3.0,inf\n"),
        ("tsv", np.array([[1.0, 2.0], [3.0, -np.inf]]), "1.0\t2.0\n3.0\t-inf\n"),
        ("json", np.array([[1.0, 0.1]]), "[[1.0, 0.1]]\n"),
        ("json", np.float64(2.5), "2.5\n"),
    ],
)
def test_one_result_to_stdout(
    capsysbinary: pytest.CaptureFixture[bytes], fmt: str, array: np.ndarray, text: str
) -> None:
    write_results({"f": array}, fmt)
    out, err = capsysbinary.readouterr()
    assert out.decode() == text and err == b""


def test_several_results_as_json_and_npz(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    results = {"f": np.eye(2), "db": np.array([1.0, 2.0])}
    write_results(results, "json")
    assert json.loads(capsysbinary.readouterr().out) == {"f": [[1.0, 0.0], [0.0, 1.0]], "db": [1.0, 2.0]}
    write_results(results, "npz", tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as archive:
        assert sorted(archive.files) == ["db", "f"] and np.array_equal(archive["db"], [1.0, 2.0])
    assert np.array_equal(read_operand(f"{tmp_path / 'r.npz'}:f", "-W"), np.eye(2))


def test_npy_and_npz_to_stdout_are_binary(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_results({"db": np.arange(3.0)}, "npy")
    assert capsysbinary.readouterr().out.startswith(b"\x93NUMPY")
    write_results({"db": np.arange(3.0)}, "npz")
    assert capsysbinary.readouterr().out.startswith(b"PK")


@pytest.mark.parametrize(
    ("fmt", "results", "message", "hint"),
    [
        ("csv", {"f": np.eye(2), "db": np.ones(2)}, "2 results (f, db) cannot be written as csv", "npz or json"),
        ("npy", {"f": np.eye(2), "db": np.ones(2)}, "2 results (f, db) cannot be written as npy", "npz or json"),
        ("tsv", {"J": np.zeros((2, 2, 2))}, "J has 3 dimensions (2, 2, 2); tsv holds at most 2", "json or npy"),
    ],
)
def test_refusals_touch_no_file(
    tmp_path: Path, fmt: str, results: dict[str, np.ndarray], message: str, hint: str
) -> None:
    target = tmp_path / "keep.csv"
    target.write_text("precious\n")
    with pytest.raises(InputError) as caught:
        write_results(results, fmt, target)
    assert str(caught.value) == message and caught.value.hint and hint in caught.value.hint
    assert target.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["keep.csv"]


def test_table_is_not_written_here() -> None:
    with pytest.raises(ValueError, match="tables are rendered by the caller"):
        write_results({"f": np.eye(2)}, "table")


# ---------------------------------------------------------------- exact round trips through wxb's own reader


arrays_2d = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=arrays_2d, fmt=st.sampled_from(["csv", "tsv", "json", "npy", "npz"]), polars=st.booleans())
def test_written_results_read_back_bit_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: np.ndarray, fmt: str, polars: bool
) -> None:
    monkeypatch.setattr(output, "LARGE_CELLS", 0 if polars else 10**9)  # both csv writers
    path = tmp_path / f"r.{fmt}"
    write_results({"f": values}, fmt, path)
    back = read_operand(str(path), "-X")
    assert same_bits(back, values)


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_large_results_written_by_polars_round_trip(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**64, size=(500, 300), dtype=np.uint64)
    values = bits.view(np.float64).copy()
    values[0, : SPECIAL.size] = SPECIAL
    assert values.size > output.LARGE_CELLS
    write_results({"dW": values}, fmt, tmp_path / f"big.{fmt}")
    text = (tmp_path / f"big.{fmt}").read_text()
    assert "NaN" not in text and "nan" in text
    assert same_bits(read_operand(str(tmp_path / f"big.{fmt}"), "-X"), values)


@pytest.mark.parametrize("shape", [(500, 300), (150_001,)], ids=["matrix", "vector"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_json_is_streamed_row_by_row_and_reads_back_exactly(tmp_path: Path, shape: tuple[int, ...],
                                                                   dtype: type) -> None:
    rng = np.random.default_rng(2)
    values = (rng.standard_normal(shape) * 10.0 ** rng.integers(-30, 30, shape)).astype(dtype)
    with np.errstate(over="ignore"):  # 1e308 is inf in float32
        values.reshape(-1)[: SPECIAL.size] = SPECIAL.astype(dtype)
    assert values.size > output.LARGE_CELLS
    write_results({"f": values}, "json", tmp_path / "big.json")
    write_results({"f": values, "db": SPECIAL}, "json", tmp_path / "record.json")
    text = (tmp_path / "big.json").read_text()
    assert text.startswith("[") and text.endswith("]\n") and "null" in text and "Infinity" not in text
    assert same_bits(np.array(strict_json(text), dtype=dtype), as_json_keeps(values))  # None reads as NaN
    record = strict_json((tmp_path / "record.json").read_text())
    assert same_bits(np.array(record["f"], dtype=dtype), as_json_keeps(values))
    assert same_bits(np.array(record["db"], dtype=float), as_json_keeps(SPECIAL))
    small = {"f": values.reshape(-1)[:6].reshape(2, 3)}
    write_results(small, "json", tmp_path / "small.json")
    assert (tmp_path / "small.json").read_text().startswith("[[")


def test_vectors_and_scalars_read_back_as_columns_and_one_by_one(tmp_path: Path) -> None:
    write_results({"db": SPECIAL}, "csv", tmp_path / "v.csv")
    write_results({"f": np.float64(0.1)}, "csv", tmp_path / "s.csv")
    assert same_bits(read_operand(str(tmp_path / "v.csv"), "-b"), SPECIAL.reshape(-1, 1))
    assert same_bits(read_operand(str(tmp_path / "s.csv"), "-b"), np.array([[0.1]]))


# ---------------------------------------------------------------- atomic files


def test_a_failure_while_writing_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.npy"
    target.write_bytes(b"old")

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(InputError, match=r"^cannot write it: No space left on device, in -o .*r.npy$"):
        write_results({"f": np.eye(2)}, "npy", target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["r.npy"]


def test_an_interrupt_while_writing_removes_the_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_results({"f": np.eye(2)}, "npy", tmp_path / "r.npy")
    assert os.listdir(tmp_path) == []


def test_replacing_keeps_permissions_and_new_files_follow_the_umask(tmp_path: Path) -> None:
    existing = tmp_path / "e.csv"
    existing.write_text("x\n")
    existing.chmod(0o640)
    write_results({"f": np.eye(2)}, "csv", existing)
    write_results({"f": np.eye(2)}, "csv", tmp_path / "n.csv")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "n.csv").stat().st_mode) == 0o666 & ~umask
    assert existing.read_text() == "1.0,0.0\n0.0,1.0\n"


@pytest.mark.parametrize(("where", "message"), [("missing/r.csv", "cannot write there"), (".", "is a folder")])
def test_unwritable_targets(tmp_path: Path, where: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        write_results({"f": np.eye(2)}, "csv", tmp_path / where)


# ---------------------------------------------------------------- the spinner


@pytest.mark.parametrize(
    ("size", "terminal", "term", "shown"),
    [(BIG + 1, True, "xterm", True), (BIG - 1, True, "xterm", False), (BIG + 1, False, "xterm", False),
     (BIG + 1, True, "dumb", False)],
)  # fmt: skip
def test_spinner_only_for_big_work_on_a_terminal(size: int, terminal: bool, term: str, shown: bool) -> None:
    with environment(stderr_isatty=terminal, dumb=term == "dumb"):
        assert wants_spinner(size) is shown


def test_write_text_to_stdout_and_atomically_to_a_file(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    write_text('{"passed": true}\n')
    assert capsysbinary.readouterr().out == b'{"passed": true}\n'
    target = tmp_path / "report.json"
    target.write_text("old")
    write_text("ü\n", target)
    assert target.read_bytes() == "ü\n".encode() and os.listdir(tmp_path) == ["report.json"]


# ---------------------------------------------------------------- descriptions: the same registry


@pytest.mark.parametrize(
    ("requested", "output_name", "allowed", "expected"),
    [
        (None, "steps.md", ("json", "markdown", "latex"), "markdown"),
        (None, "steps.markdown", ("json", "markdown", "latex"), "markdown"),
        (None, "steps.tex", ("json", "markdown", "latex"), "latex"),
        (None, "steps.txt", ("json",), "text"),
        (None, "notes", ("json",), "text"),
        ("md", None, ("markdown",), "markdown"),
        ("TEX", "x.txt", ("latex",), "latex"),
        (None, "r.csv", ("csv", "tsv", "json"), "csv"),
    ],
)
def test_descriptive_format(requested: str | None, output_name: str | None, allowed: tuple[str, ...],
                            expected: str) -> None:
    from wxb.cli.formats import descriptive_format

    path = Path(output_name) if output_name else None
    assert descriptive_format(requested, path, allowed, stdout_is_terminal=False) == expected


@pytest.mark.parametrize(
    ("requested", "output_name", "operand", "message"),
    [
        (None, "steps.latex", "-o", "cannot tell the format from the file name 'steps.latex'"),
        (None, "x.html", "-o", "cannot tell the format from the file name 'x.html'"),
        (None, "r.npy", "-o", "this command has no npy form (asked for by the suffix of 'r.npy')"),
        ("npy", None, "--format", "this command has no npy form"),
    ],
)
def test_descriptive_format_refusals_name_what_asked(requested: str | None, output_name: str | None, operand: str,
                                                     message: str) -> None:
    from wxb.cli.formats import descriptive_format

    path = Path(output_name) if output_name else None
    with pytest.raises(InputError) as caught:
        descriptive_format(requested, path, ("csv", "tsv", "json"), stdout_is_terminal=False)
    assert str(caught.value).startswith(message)
    assert caught.value.operand == operand


def test_an_empty_output_name_is_called_empty() -> None:
    from typer.testing import CliRunner

    from wxb.cli.app import app

    result = CliRunner().invoke(app, ["forward", "-X", "1", "-b", "1", "-o", ""])
    assert result.exit_code == 2
    assert "the file name is empty" in result.stderr and "'.'" not in result.stderr, result.stderr


def test_binary_onto_a_terminal_through_dev_stdout_is_refused() -> None:
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "wxb.cli", "forward", "-X", "1", "-b", "1", "-o", "/dev/stdout",
                               "--format", "npy"], stdout=slave, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert done.returncode == 2
    assert "binary" in done.stderr and "terminal" in done.stderr, done.stderr
