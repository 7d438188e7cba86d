"""Operands that are not regular files, read by the real `wxb` in real shells: `/dev/stdin`, named pipes,
`<(...)`, `/dev/fd/N`. Each is opened once and read once, at 5 rows and past 64 KB (and past the 1 MB polars
threshold), as text, .npy and .npz."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from arrays import npy_bytes, npz_bytes
from conftest import ROOT, shell, wxb

TIMEOUT = 60  # seconds; the old code could block for ever reopening a pipe whose writer had gone


def bash(script: str, *, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a bash script in which `wxb` (and $WXB) is this environment's wxb; its streams as bytes."""
    return shell(script, stdin=stdin, cwd=cwd or ROOT, text=False, timeout=TIMEOUT)


def column(first: int, last: int) -> np.ndarray:
    """What `seq first last` holds, as the m×1 column wxb reads from it."""
    return np.arange(first, last + 1, dtype=np.float64).reshape(-1, 1)


def csv_values(out: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(out), delimiter=",", ndmin=2)




@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    """A directory for named pipes and the writers feeding them (each writer is reaped or killed afterwards)."""
    writers: list[subprocess.Popen[bytes]] = []
    yield tmp_path, writers
    for writer in writers:
        try:
            writer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()


def feed_fifo(path: Path, data: bytes, writers: list[subprocess.Popen[bytes]]) -> None:
    """Make a named pipe at `path` and start a separate process that writes `data` into it once."""
    os.mkfifo(path)
    source = path.with_name(path.name + ".source")
    source.write_bytes(data)
    writers.append(subprocess.Popen(["bash", "-c", f'cat "{source}" > "{path}"']))


SIZES = [(1, 5), (100000, 120000), (100000, 300000)]  # 5 rows; ~140 KB; ~1.4 MB (over the polars threshold)
SIZE_IDS = ["5-rows", "140KB", "1.4MB"]


# ---------------------------------------------------------------- text


@pytest.mark.parametrize(("first", "last"), SIZES, ids=SIZE_IDS)
def test_dev_stdin_from_a_pipe_reads_every_row(first: int, last: int) -> None:
    done = bash(f"seq {first} {last} | wxb forward -X /dev/stdin -b 0")
    assert done.returncode == 0, done.stderr
    assert np.array_equal(csv_values(done.stdout), column(first, last))


@pytest.mark.parametrize(("first", "last"), SIZES, ids=SIZE_IDS)
def test_process_substitution_reads_every_row(first: int, last: int) -> None:
    done = bash(f"wxb forward -X <(seq {first} {last}) -b 0")
    assert done.returncode == 0, done.stderr
    assert np.array_equal(csv_values(done.stdout), column(first, last))


@pytest.mark.parametrize(("first", "last"), SIZES[:2], ids=SIZE_IDS[:2])
def test_an_inherited_descriptor_reads_every_row(first: int, last: int) -> None:
    done = bash(f"wxb forward -X /dev/fd/3 -b 0 3< <(seq {first} {last})")
    assert done.returncode == 0, done.stderr
    assert np.array_equal(csv_values(done.stdout), column(first, last))


@pytest.mark.parametrize(("first", "last"), SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("name", ["data.csv", "data"])
def test_a_named_pipe_reads_every_row(fifo: tuple[Path, list[subprocess.Popen[bytes]]], name: str,
                                      first: int, last: int) -> None:
    folder, writers = fifo
    values = column(first, last)
    feed_fifo(folder / name, b"".join(b"%d\n" % v for v in range(first, last + 1)), writers)
    done = bash(f'wxb forward -X "{folder / name}" -b 0')
    assert done.returncode == 0, done.stderr
    assert np.array_equal(csv_values(done.stdout), values)


def test_a_header_in_a_pipe_is_skipped_once_with_one_note() -> None:
    done = bash("{ echo x,y; seq 1 20000 | paste -d, - -; } | wxb forward -X /dev/stdin -b 0")
    assert done.returncode == 0, done.stderr
    assert np.array_equal(csv_values(done.stdout), np.arange(1.0, 20001.0).reshape(-1, 2))
    assert done.stderr.decode().count("skipped header row") == 1


# ---------------------------------------------------------------- .npy and .npz


@pytest.mark.parametrize("rows", [5, 20000], ids=["5-rows", "160KB"])
@pytest.mark.parametrize("name", ["X.npy", "X"])
def test_npy_through_a_named_pipe(fifo: tuple[Path, list[subprocess.Popen[bytes]]], name: str, rows: int) -> None:
    folder, writers = fifo
    values = np.linspace(-1.0, 1.0, rows).reshape(-1, 1) / 3.0
    feed_fifo(folder / name, npy_bytes(values), writers)
    done = bash(f'wxb forward -X "{folder / name}" -b 0 --format npy')
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(io.BytesIO(done.stdout)), values)


@pytest.mark.parametrize("rows", [5, 20000], ids=["5-rows", "160KB"])
@pytest.mark.parametrize("spec", ["{fifo}", "{fifo}:X"])
def test_npz_through_a_named_pipe(fifo: tuple[Path, list[subprocess.Popen[bytes]]], spec: str, rows: int) -> None:
    folder, writers = fifo
    values = np.arange(rows, dtype=np.float64).reshape(-1, 1) * 0.1
    feed_fifo(folder / "p.npz", npz_bytes(X=values, b=np.ones(rows)), writers)
    done = bash(f'wxb forward -X "{spec.format(fifo=folder / "p.npz")}" -b 0 --format npy')
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(io.BytesIO(done.stdout)), values)


def test_npy_from_one_wxb_into_dev_stdin_of_another() -> None:
    done = bash('wxb forward -X "1 2; 3 4" -b "5; 6" --format npy | wxb forward -X /dev/stdin -b 0 --format json')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[6, 7], [9, 10]]


def test_a_bundle_from_process_substitution(tmp_path: Path) -> None:
    (tmp_path / "layer.npz").write_bytes(npz_bytes(X=np.arange(6.0).reshape(2, 3), b=np.array([1.0, -1.0])))
    done = bash(f'wxb forward --from <(cat "{tmp_path / "layer.npz"}") --format json')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[1, 2, 3], [2, 3, 4]]


# ---------------------------------------------------------------- one reader of standard input


def test_dev_stdin_and_dash_cannot_both_read_standard_input() -> None:
    done = bash("seq 1 5 | wxb forward -X /dev/stdin -b -")
    assert done.returncode == 2
    assert b"-X and -b both read standard input" in done.stderr


def test_two_operands_reading_stdin_are_refused_naming_them_as_typed() -> None:
    both = wxb("forward", "-e", "X + b", "X=-", "b=-", stdin=b"1 2\n", text=False)
    assert both.returncode == 2 and b"X= and b= both read standard input" in both.stderr


def test_an_npz_on_stdin_is_read_by_key(tmp_path: Path) -> None:
    record = tmp_path / "g.npz"
    assert wxb("backward", "-X", "1 2; 3 4", "-b", "5; 6", "--wrt", "all", "-o", str(record)).returncode == 0
    done = wxb("forward", "-X", "-:dX", "-b", "0", "--format", "json", stdin=record.read_bytes(), text=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[1.0, 1.0], [1.0, 1.0]]
