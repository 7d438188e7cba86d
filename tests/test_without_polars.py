"""polars is optional (the extra fast-csv): without it, large text reads (by path and from a pipe) and large
csv/tsv/json writes give the same numbers, by NumPy and the careful parser."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from wxb.cli.read import largetext, textparse
from wxb.cli.read.operands import read_operand
from wxb.cli.write import output
from wxb.cli.write.output import write_results

pytest.importorskip("polars")  # the comparison needs both ways

BLOCK_POLARS = "import runpy, sys; sys.modules['polars'] = None; runpy.run_module('wxb.cli', run_name='__main__')"


def values(rows: int, cols: int) -> np.ndarray:
    """Numbers with many digits, tiny and huge magnitudes, a -0.0, a NaN and ±inf."""
    rng = np.random.default_rng(7)
    table = rng.standard_normal((rows, cols)) * 10.0 ** rng.integers(-30, 30, (rows, cols))
    table.reshape(-1)[:4] = [-0.0, np.nan, np.inf, -np.inf]
    return table


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(((a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))).all())


def big_text(tmp_path: Path) -> tuple[Path, np.ndarray]:
    table = values(6000, 30)
    path = tmp_path / "big.csv"
    path.write_text("# made by a test\n" + "".join(",".join(map(repr, row)) + "\n" for row in table.tolist()))
    assert path.stat().st_size > textparse.LARGE_TEXT
    return path, table


def without_polars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # `import polars` raises ImportError
    assert largetext.polars_module() is None


def test_large_text_by_path_reads_the_same_without_polars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, table = big_text(tmp_path)
    by_polars = read_operand(str(path), "-X")
    without_polars(monkeypatch)
    by_numpy = read_operand(str(path), "-X")
    assert same_bits(by_polars, table) and same_bits(by_numpy, by_polars)


def test_large_text_on_a_pipe_reads_the_same_without_polars(tmp_path: Path) -> None:
    path, table = big_text(tmp_path)
    outputs = []
    for code in (["-m", "wxb.cli"], ["-c", BLOCK_POLARS]):
        done = subprocess.run([sys.executable, *code, "forward", "-X", "-", "-b", "0", "-o", str(tmp_path / "f.npy")],
                              stdin=path.open("rb"), capture_output=True, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(np.load(tmp_path / "f.npy"))
    assert same_bits(outputs[0], table + 0.0)  # -0.0 + 0 is 0.0
    assert same_bits(outputs[1], outputs[0])


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json"])
@pytest.mark.parametrize("shape", [(500, 300), (150_001,)], ids=["matrix", "vector"])
def test_large_results_write_the_same_numbers_without_polars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, shape: tuple[int, ...]
) -> None:
    table = values(*shape, 1)[:, 0] if len(shape) == 1 else values(*shape)
    assert table.size > output.LARGE_CELLS
    write_results({"f": table}, fmt, tmp_path / f"polars.{fmt}")
    without_polars(monkeypatch)
    write_results({"f": table}, fmt, tmp_path / f"numpy.{fmt}")
    read = [read_operand(str(tmp_path / f"{how}.{fmt}"), "-X") for how in ("polars", "numpy")]
    assert same_bits(read[1], read[0])
    text = (tmp_path / f"numpy.{fmt}").read_text()
    if fmt == "json":
        parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
        assert np.isnan(np.array(parsed, dtype=float).reshape(-1)[1:4]).all()  # NaN and ±inf as null
    else:
        small = io.StringIO()
        sep = "," if fmt == "csv" else "\t"
        small.write(output._delimited_text(table.reshape(len(table), -1), sep))
        assert text == small.getvalue()  # chunk by chunk, the same text as a small table's
