"""wxb convert: text (a file, TSV, stdin) to .npy in pieces, the same numbers as reading the text as an operand;
--transpose writes the batch last (Fortran order); memory stays bounded whatever the size of the text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from wxb.cli.app import app
from wxb.cli.read import textstream as conversion

runner = CliRunner()
WXB = str(Path(sys.executable).parent / "wxb")
LAUNCH = Path(__file__).resolve().parent.parent / "bench" / "launch.py"


def test_csv_with_a_header(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y,z\n1,2,3\n4,5.5,-6e-3\n")
    result = runner.invoke(app, ["convert", str(tmp_path / "a.csv"), "-o", str(tmp_path / "a.npy")])
    assert result.exit_code == 0, result.output
    assert "skipped header row" in result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), [[1, 2, 3], [4, 5.5, -6e-3]])


def test_tsv_from_stdin(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", "-", "-o", str(tmp_path / "t.npy")], input="1\t2\n3\t4\n")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), [[1, 2], [3, 4]])


def test_transpose_puts_the_rows_last_in_fortran_order(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", "-", "-o", str(tmp_path / "t.npy"), "--transpose"],
                           input="# samples\n1,2,3\n4,5,6\n")
    assert result.exit_code == 0, result.output
    array = np.load(tmp_path / "t.npy")
    np.testing.assert_array_equal(array, [[1, 4], [2, 5], [3, 6]])
    assert array.flags.f_contiguous


def test_many_pieces_equal_reading_the_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversion, "PIECE", 1000)
    rng = np.random.default_rng(2)
    values = rng.normal(size=(3000, 7))
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in values) + "\n"
    (tmp_path / "m.csv").write_text("a,b,c,d,e,f,g\n" + text)
    result = runner.invoke(app, ["convert", str(tmp_path / "m.csv"), "-o", str(tmp_path / "m.npy")])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), values)


def test_a_bad_cell_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversion, "PIECE", 64)
    lines = [f"{i},{i + 1}" for i in range(40)]
    lines[30] = "30,oops"
    result = runner.invoke(app, ["convert", "-", "-o", str(tmp_path / "x.npy")], input="\n".join(lines) + "\n")
    assert result.exit_code == 2
    assert "non-numeric cell 'oops', in convert stdin line 31 column 2" in result.stderr
    assert not (tmp_path / "x.npy").exists()


def test_ragged_rows_across_pieces_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversion, "PIECE", 32)
    text = "1,2\n" * 20 + "1,2,3\n" * 20
    result = runner.invoke(app, ["convert", "-", "-o", str(tmp_path / "x.npy")], input=text)
    assert result.exit_code == 2
    assert "cells" in result.stderr or "numbers" in result.stderr


def test_empty_input_and_wrong_suffix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", "-", "-o", str(tmp_path / "x.npy")], input="# nothing\n")
    assert result.exit_code == 2 and "no numbers" in result.stderr
    result = runner.invoke(app, ["convert", "-", "-o", str(tmp_path / "x.csv")], input="1\n")
    assert result.exit_code == 2 and "name the output *.npy" in result.stderr


def peak_mb(argv: list[str], stdin: Any = None) -> tuple[int, float]:
    done = subprocess.run([sys.executable, "-I", "-S", str(LAUNCH), *argv], stdin=stdin, capture_output=True,
                          timeout=600)
    code, _, peak = done.stdout.decode().split()
    return int(code), int(peak) / 1024


@pytest.mark.slow
def test_convert_memory_is_bounded(tmp_path: Path) -> None:
    """200 MB of text from stdin (10M numbers, 80 MB as float64) converts within about 150 MB of RSS; the text
    read as an operand from stdin holds the array and one piece, not the whole bytes beside it."""
    import polars as pl

    values = np.random.default_rng(5).normal(size=(500_000, 20))
    path = tmp_path / "big.csv"
    pl.from_numpy(values).write_csv(path, include_header=False)
    assert path.stat().st_size > 150 << 20
    with open(path, "rb") as stdin:
        code, peak = peak_mb([WXB, "convert", "-", "-o", str(tmp_path / "big.npy"), "--transpose"], stdin)
    assert code == 0
    assert peak < 200, f"convert peaked at {peak:.0f} MB"
    np.testing.assert_array_equal(np.load(tmp_path / "big.npy"), values.T)
    os.remove(tmp_path / "big.npy")
    with open(path, "rb") as stdin:
        code, peak = peak_mb([WXB, "forward", "-X", "-", "-b", "0", "-o", str(tmp_path / "f.npy")], stdin)
    assert code == 0
    assert peak < 320, f"reading 200 MB of text from stdin peaked at {peak:.0f} MB"  # was 446 MB: bytes + array


def test_a_transposed_conversion_streams(tmp_path: Path) -> None:
    """Samples as rows → X with the batch last (Fortran order), read in column blocks by positioned reads."""
    samples = np.random.default_rng(9).normal(size=(500, 3))
    (tmp_path / "s.csv").write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in samples))
    assert runner.invoke(app, ["convert", str(tmp_path / "s.csv"), "-o", str(tmp_path / "X.npy"), "-t"]).exit_code == 0
    np.save(tmp_path / "W.npy", np.arange(6.0).reshape(2, 3))
    args = ["forward", "-e", "tanh(W @ X)", f"W={tmp_path / 'W.npy'}", f"X={tmp_path / 'X.npy'}"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "f.npy"), "--chunk", "1kB"],
                           env={"WXB_MEMORY": "20kB"})
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), np.tanh(np.arange(6.0).reshape(2, 3) @ samples.T),
                               rtol=1e-12)
