"""Numbers as text: float32 in its own shortest digits, signed exponents, -0.0 alike everywhere, -p 0 refused."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from conftest import wxb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rich.console import Console

from wxb.cli.read.operands import read_operand
from wxb.cli.show import render
from wxb.cli.write import output
from wxb.cli.write.output import format_number, write_results

F32 = np.float32


def f32_bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and the same float32 bits; any NaN equals any NaN."""
    a32, b32 = np.asarray(a, dtype=F32), np.asarray(b, dtype=F32)
    if a32.shape != b32.shape:
        return False
    return bool(((a32.view(np.uint32) == b32.view(np.uint32)) | (np.isnan(a32) & np.isnan(b32))).all())


# ---------------------------------------------------------------- float32 in its own shortest form


@pytest.mark.parametrize(
    ("value", "text"),
    [(F32(5.629016399383545), "5.6290164"), (F32(0.1), "0.1"), (F32(6), "6.0"), (F32(-0.0), "-0.0"),
     (F32(1e-5), "1e-05"), (F32(1e-4), "0.0001"), (F32(1e20), "1e+20"), (F32(1e16), "1e+16"),
     (F32(123456789), "123456790.0"), (F32(1e-45), "1e-45"), (F32(3.4e38), "3.4e+38"),
     (F32(np.nan), "nan"), (F32(np.inf), "inf"), (F32(-np.inf), "-inf"), (np.float16(0.1), "0.1"),
     (np.float64(0.1), "0.1"), (0.1, "0.1"), (1e-5, "1e-05"), (-0.0, "-0.0")],
)  # fmt: skip
def test_format_number_writes_each_dtype_in_its_own_shortest_form(value: float, text: str) -> None:
    assert format_number(value) == text


@given(st.floats(width=32, allow_nan=False))
def test_float32_text_round_trips_and_has_float32s_shortest_digits(x: float) -> None:
    value = F32(x)
    text = format_number(value)
    assert F32(float(text)).tobytes() == value.tobytes()  # read as float64, then float32: the same bits
    assert Decimal(text) == Decimal(str(value))  # NumPy's own shortest float32 digits (its layout may differ)
    exponent = Decimal(text).adjusted() if value != 0 else 0
    assert ("e" in text) == (exponent < -4 or exponent >= 16)  # Python's repr layout


@pytest.mark.parametrize(
    ("fmt", "text"),
    [("csv", "1.6,2.7\n3.55,4.65\n"), ("tsv", "1.6\t2.7\n3.55\t4.65\n"), ("json", "[[1.6, 2.7], [3.55, 4.65]]\n")],
)
def test_float32_results_are_written_in_float32_digits(
    capsysbinary: pytest.CaptureFixture[bytes], fmt: str, text: str
) -> None:
    write_results({"f": np.array([[1.6, 2.7], [3.55, 4.65]], dtype=F32)}, fmt)
    assert capsysbinary.readouterr().out.decode() == text


def test_float32_json_specials_and_records(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    results = {"f": np.array([F32(np.nan), F32(np.inf), F32(-np.inf), F32(-0.0)]), "db": np.array([0.1], F32)}
    write_results(results, "json")
    text = capsysbinary.readouterr().out.decode()
    assert text == '{"f": [null, null, null, -0.0], "db": [0.1]}\n'
    assert json.loads(text)["db"] == [0.1]
    write_results({"f": F32(2.5)}, "json")
    assert capsysbinary.readouterr().out == b"2.5\n"


def test_mixed_records_keep_each_dtype(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_results({"f": np.array([F32(0.1)]), "db": np.array([0.1], dtype=np.float32).astype(np.float64)}, "json")
    assert capsysbinary.readouterr().out == b'{"f": [0.1], "db": [0.10000000149011612]}\n'


arrays_f32 = hnp.arrays(F32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=arrays_f32, fmt=st.sampled_from(["csv", "tsv", "json"]), polars=st.booleans())
def test_float32_results_read_back_as_the_same_float32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: np.ndarray, fmt: str, polars: bool
) -> None:
    monkeypatch.setattr(output, "LARGE_CELLS", 0 if polars else 10**9)
    path = tmp_path / f"r.{fmt}"
    write_results({"f": values}, fmt, path)
    back = read_operand(str(path), "-X")
    kept = np.where(np.isfinite(values), values, F32(np.nan)) if fmt == "json" else values  # JSON: ±inf is null
    assert f32_bits_equal(back.reshape(values.shape), kept)


def test_large_float32_results_by_polars_have_float32_digits(tmp_path: Path) -> None:
    values = np.full((400, 300), F32(5.629016399383545))
    values[0, :4] = [F32(np.nan), F32(-0.0), F32(1e-5), F32(np.inf)]
    assert values.size > output.LARGE_CELLS
    write_results({"f": values}, "csv", tmp_path / "big.csv")
    text = (tmp_path / "big.csv").read_text()
    assert "5.629016399383545" not in text and text.splitlines()[1].split(",")[0] == "5.6290164"
    assert text.startswith("nan,-0.0,")
    assert f32_bits_equal(read_operand(str(tmp_path / "big.csv"), "-X"), values)


def test_float64_results_keep_float64_digits(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_results({"f": np.array([5.629016399383545, 0.1])}, "csv")
    assert capsysbinary.readouterr().out == b"5.629016399383545\n0.1\n"


def test_float32_through_the_real_command(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.array([[1.1, 2.2], [3.3, 4.4]], dtype=F32))
    np.save(tmp_path / "b.npy", np.array([0.5, 0.25], dtype=F32))
    done = wxb("forward", "-X", str(tmp_path / "x.npy"), "-b", str(tmp_path / "b.npy"), text=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"1.6,2.7\n3.55,4.65\n"


# ---------------------------------------------------------------- tables: precision, exponents, -0


@pytest.mark.parametrize(
    ("value", "precision", "text"),
    [(-0.0, 6, "-0"), (0.0, 6, "0"), (1e21, 4, "1e+21"), (1e-5, 6, "1e-05"), (100.0, 1, "1e+02"),
     (100.0, 3, "100"), (-2e-9, 4, "-2e-09"), (1 / 3, 4, "0.3333"), (6.0, 6, "6"), (123456.0, 6, "123456"),
     (1234567.0, 6, "1.23457e+06"), (0.1, 17, "0.1"), (F32(5.629016399383545), 17, "5.6290164"),
     (F32(5.629016399383545), 6, "5.62902"), (F32(0.1), 17, "0.1"), (np.nan, 3, "nan"), (-np.inf, 3, "-inf"),
     (np.int64(7), 6, "7")],
)  # fmt: skip
def test_number_text(value: float, precision: int, text: str) -> None:
    assert render.number_text(value, precision) == text


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(1, 17))
def test_number_text_is_printf_g_with_signed_exponents_and_no_noise(x: float, precision: int) -> None:
    """`%.pg` (exponents signed, at least two digits), but never more digits than the shortest round trip."""
    text = render.number_text(x, precision)
    shortest = len(np.format_float_scientific(x, unique=True, trim="-").partition("e")[0].lstrip("-").replace(".", ""))
    if x == 0:
        assert text == ("-0" if np.signbit(x) else "0")
    elif precision < shortest:
        assert text == f"{x:.{precision}g}"
    else:
        assert float(text) == x
    assert "e" not in text or text.partition("e")[2][0] in "+-"


@given(st.floats(allow_nan=False))
def test_a_table_at_full_precision_shows_the_number_the_data_holds(x: float) -> None:
    """Table and csv/json agree: the table's text (17 digits) reads back as the very float csv writes, -0 too."""
    shown, written = float(render.number_text(x, 17)), float(format_number(x))
    assert np.float64(shown).tobytes() == np.float64(written).tobytes() == np.float64(x).tobytes()


def rendered(a: np.ndarray, precision: int) -> str:
    console = Console(width=100, record=True, no_color=True, file=io.StringIO())
    console.print(render.array_view(a, "f", precision=precision, width=100))
    return console.export_text()


def test_tables_show_float32_digits_signed_exponents_and_minus_zero() -> None:
    text = rendered(np.array([[F32(5.629016399383545), F32(-0.0)], [F32(1e-5), F32(100)]]), 17)
    assert "5.6290164" in text and "5.629016399" not in text
    assert "1e-05" in text and "-0" in text.split()
    assert rendered(np.float32(5.629016399383545), 17).endswith("= 5.6290164\n")
    assert "1e+02" in rendered(np.array([100.0, 1e-5]), 1).split()


def test_bracket_lines_keep_float32() -> None:
    assert render.bracket_lines(np.array([F32(0.1), F32(-0.0)]), 17) == ["⎡ 0.1⎤", "⎣-0  ⎦"]


# ---------------------------------------------------------------- --precision


def test_precision_zero_is_refused_with_the_range() -> None:
    done = wxb("forward", "-X", "1", "-b", "1", "-p", "0")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "1<=x<=17" in done.stderr and "--precision" in done.stderr


def test_precision_one_is_accepted() -> None:
    done = wxb("forward", "-X", "1", "-b", "1", "-p", "1")
    assert done.returncode == 0 and done.stdout == "2.0\n"
