"""Benchmark wxb against the plain scripts a user would otherwise write: whole processes, timed and weighed.

Usage: python bench/run.py [--quick] [--runs N]
       [--only start-up,csv,npy,memory,tanh,derive,linalg,hessian,curvature,dask,scale,big]

Each case runs every command once as a warm-up, then N times ALTERNATING wxb and its alternatives, timing the
whole process and weighing its own peak RSS. Both come from bench/launch.py, a small process that starts the
command, times it (time.perf_counter around spawn and os.wait4) and reads ru_maxrss from the rusage wait4 returns:
a command started straight from this harness would report the harness's memory instead (see launch.py), and
check_own_peak() makes sure it does not. The table shows medians, the ratio wxb / alternative with PASS / MISS
against the targets, and whether wxb's output file holds the same numbers as the alternative's. Operands are
generated into bench/data/ from a fixed seed and reused when present; outputs go to bench/data/out/. The tables
are also written as markdown to bench/results.md. A case that fails is reported and the others still run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
OUT = DATA / "out"
RESULTS = BENCH / "results.md"
PYTHON = sys.executable
WXB = str(Path(PYTHON).parent / "wxb")
LAUNCH = (PYTHON, "-I", "-S", str(BENCH / "launch.py"))  # isolated, no site: a small process
SEED = 20240601
OPERAND_NAMES = ("W", "X", "b", "G", "A", "B")
MB = 1024 * 1024


# ---------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Sizes:
    """How many runs and how large the operands are, for a full run or a --quick one."""

    startup_runs: int
    runs: int
    csv_n: int
    npy_n: int
    memory_n: int
    jacobian_n: int
    tanh_n: int
    scale_ns: tuple[int, ...]
    linalg_n: int = 2000
    big_gb: tuple[float, ...] = (1, 2, 4, 8)  # X (and G) of these sizes for `--only big`, W 1000×1000
    dask_n: int = 125_000  # batch columns of X and G (1000 rows): 1 GB each in float64
    hessian_m: int = 1000  # hessian --vector: W m×m, X m×hessian_n
    hessian_n: int = 10_000


FULL = Sizes(
    15, 9, csv_n=2000, npy_n=3000, memory_n=4000, jacobian_n=2000, tanh_n=2000, scale_ns=(250, 500, 1000, 2000, 4000)
)
QUICK = Sizes(5, 3, csv_n=500, npy_n=1000, memory_n=1000, jacobian_n=500, tanh_n=500, scale_ns=(250, 500, 1000),
              linalg_n=500, big_gb=(0.25, 0.5), dask_n=12_500, hessian_m=200, hessian_n=2000)


# ---------------------------------------------------------------- operands


def operand(n: int, name: str) -> np.ndarray:
    """Operand `name` for size n, the same on every machine: W, X, G, A and B are n×n standard normal, b is n×1."""
    rng = np.random.default_rng([SEED, n, OPERAND_NAMES.index(name)])
    return rng.normal(size=(n, 1) if name == "b" else (n, n))


def npy_operands(n: int, names: str) -> dict[str, str]:
    """Paths of bench/data/npy-n/<name>.npy for each name, written first if missing."""
    folder = DATA / f"npy-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        path = folder / f"{name}.npy"
        if not path.exists():
            write_atomically(path, partial(np.save, arr=operand(n, name)))
        paths[name] = str(path)
    return paths


def csv_operands(n: int, names: str) -> dict[str, str]:
    """Paths of bench/data/csv-n/<name>.csv (shortest round-trip floats, no header), written first if missing."""
    import polars as pl

    folder = DATA / f"csv-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        path = folder / f"{name}.csv"
        if not path.exists():
            frame = pl.from_numpy(operand(n, name), orient="row")
            write_atomically(path, partial(frame.write_csv, include_header=False))
        paths[name] = str(path)
    return paths


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary name in the same folder, so an interrupted run leaves no half file to reuse."""
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    write(tmp)
    tmp.replace(path)


def out(name: str) -> str:
    """A path under bench/data/out/ for a command's output."""
    OUT.mkdir(parents=True, exist_ok=True)
    return str(OUT / name)


def read_result(path: str) -> dict[str, np.ndarray]:
    """The arrays in an output file (.csv, .npy or .npz), by name; a single array is named ''."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as bundle:
            return {key: bundle[key] for key in bundle.files}
    if path.endswith(".npy"):
        return {"": np.load(path, allow_pickle=False)}
    if path.endswith(".json"):  # a summary (hessian --eig): its extreme eigenvalues
        record = json.loads(Path(path).read_text())
        return {key: np.asarray(record[key], dtype=float) for key in ("smallest", "largest")}
    import polars as pl

    return {"": pl.read_csv(path, has_header=False).cast(pl.Float64).to_numpy()}


def same_result(mine: str | None, theirs: str | None, rtol: float = 1e-9, atol: float = 1e-9) -> str:
    """'yes' when both output files hold the same arrays (np.allclose), else what differs; '' if no file."""
    if mine is None or theirs is None or not (Path(mine).exists() and Path(theirs).exists()):
        return ""
    try:
        a, b = read_result(mine), read_result(theirs)
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"
    if a.keys() != b.keys():
        return f"NO: names {sorted(a)} vs {sorted(b)}"
    for key in a:
        if a[key].shape != b[key].shape:
            return f"NO: {key or 'shape'} {a[key].shape} vs {b[key].shape}"
        if not np.allclose(a[key], b[key], rtol=rtol, atol=atol):
            return f"NO: {key or 'values'} differ by up to {np.max(np.abs(a[key] - b[key])):.3g}"
    return "yes"


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Command:
    """One process to time: a label for the table, its argv, and the file it writes (if any)."""

    label: str
    argv: tuple[str, ...]
    output: str | None = None


@dataclass
class Measurement:
    """Wall seconds and peak RSS (bytes) of each run, or the error that stopped the command."""

    output: str | None = None
    seconds: list[float] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)
    error: str | None = None


class CommandFailed(Exception):
    """A benchmarked process exited with a non-zero status."""


def run_once(argv: Sequence[str]) -> tuple[float, int]:
    """Run argv to completion through bench/launch.py; return its wall time in seconds and its own peak RSS in bytes."""
    with tempfile.TemporaryFile() as stderr:
        done = subprocess.run([*LAUNCH, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        fields = done.stdout.decode().split()  # "EXIT SECONDS PEAK_KIB", or nothing if the launcher failed
        code = fields[0] if len(fields) == 3 else str(done.returncode)
        if code != "0":
            stderr.seek(0)
            lines = stderr.read().decode(errors="replace").strip().splitlines() or [""]
            how = f"killed by signal {code[1:]}" if code.startswith("-") else f"exit {code}"
            raise CommandFailed(f"{how}: {lines[-1][:200]}")
    return float(fields[1]), int(fields[2]) * 1024  # Linux reports ru_maxrss in KiB


def check_own_peak(hold_mb: int = 256, limit_mb: float = 30) -> float:
    """The peak MB measured for `python -c pass` while this process holds hold_mb MB; an error above limit_mb."""
    held = np.ones(hold_mb * MB // 8)  # np.ones writes every page, so all of them are resident
    _, peak = run_once([PYTHON, "-c", "pass"])
    del held
    if peak / MB >= limit_mb:
        raise RuntimeError(f"`python -c pass` weighed {peak / MB:.0f} MB: the harness's memory leaks into the figures")
    return peak / MB


def measure(commands: Sequence[Command], runs: int) -> list[Measurement]:
    """One warm-up of each command, then `runs` rounds alternating between them; a failing command drops out."""
    results = [Measurement(output=command.output) for command in commands]
    for round_ in range(runs + 1):
        for command, result in zip(commands, results, strict=True):
            if result.error is not None:
                continue
            try:
                seconds, peak = run_once(command.argv)
            except (CommandFailed, OSError) as exc:
                result.error = str(exc)
                continue
            if round_ > 0:
                result.seconds.append(seconds)
                result.peak_rss.append(peak)
    return results


def value(measurement: Measurement | None, metric: str) -> float | None:
    """The median seconds ("time") or peak MB ("peak RSS"), or None when the command failed or did not run."""
    if measurement is None or measurement.error is not None or not measurement.seconds:
        return None
    if metric == "time":
        return statistics.median(measurement.seconds)
    return statistics.median(measurement.peak_rss) / MB


# ---------------------------------------------------------------- rows of the table


@dataclass(frozen=True)
class Row:
    """One line of the results table: wxb against one alternative on one metric, with its target and verdict."""

    case: str
    metric: str  # "time" or "peak RSS"
    wxb: Measurement
    alternative: str
    other: Measurement
    target: str
    verdict: str
    tolerance: tuple[float, float] = (1e-9, 1e-9)  # rtol and atol for "same result"


def ratio_row(case: str, metric: str, wxb: Measurement, name: str, other: Measurement, limit: float | None) -> Row:
    """A row judged by the ratio wxb / alternative ≤ limit (no verdict when limit is None)."""
    mine, theirs = value(wxb, metric), value(other, metric)
    target = "" if limit is None else f"≤ {limit:g}×"
    if limit is None:
        verdict = ""
    elif mine is None or theirs is None:
        verdict = "ERROR"
    else:
        verdict = "PASS" if mine <= limit * theirs else "MISS"
    return Row(case, metric, wxb, name, other, target, verdict)


def absolute_row(case: str, wxb: Measurement, name: str, other: Measurement, limit_mb: float) -> Row:
    """A peak-RSS row judged by wxb's peak < limit_mb (the alternative shown for reference)."""
    mine = value(wxb, "peak RSS")
    verdict = "ERROR" if mine is None else ("PASS" if mine < limit_mb else "MISS")
    return Row(case, "peak RSS", wxb, name, other, f"< {limit_mb:g} MB", verdict)


class Footnotes:
    """Error messages collected while rendering, referred to from the cells as [1], [2], ..."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def cite(self, text: str) -> str:
        if text not in self.notes:
            self.notes.append(text)
        return f"[{self.notes.index(text) + 1}]"

    def lines(self) -> list[str]:
        return [f"[{i}] {note}" for i, note in enumerate(self.notes, 1)]


def format_value(measurement: Measurement, metric: str, notes: Footnotes) -> str:
    """Seconds or MB for the table, or a reference to the error that stopped the command."""
    if measurement.error is not None:
        return "error " + notes.cite(measurement.error)
    number = value(measurement, metric)
    if number is None:
        return "—"
    if metric != "time":
        return f"{number:.0f} MB"
    spread = (max(measurement.seconds) - min(measurement.seconds)) / 2 / number
    return f"{number:.3f} s ±{spread:.0%}"


def format_ratio(row: Row) -> str:
    mine, theirs = value(row.wxb, row.metric), value(row.other, row.metric)
    return "—" if mine is None or theirs is None else f"{mine / theirs:.2f}"


TABLE_HEADER = ("case", "metric", "wxb", "alternative", "alternative's", "wxb/alt", "target", "result", "same result")


def table_cells(row: Row, notes: Footnotes) -> tuple[str, ...]:
    same = same_result(row.wxb.output, row.other.output, *row.tolerance)
    if same.startswith(("NO", "unreadable")):
        same = same.split(":")[0].split(" (")[0] + " " + notes.cite(f"{row.case}: {same}")
    mine, theirs = format_value(row.wxb, row.metric, notes), format_value(row.other, row.metric, notes)
    return (row.case, row.metric, mine, row.alternative, theirs, format_ratio(row), row.target, row.verdict, same)


# ---------------------------------------------------------------- the cases


def wxb(*args: str, output: str | None = None) -> Command:
    """wxb with args, writing to output with -o when one is given."""
    return Command("wxb", (WXB, *args, *(("-o", output) if output else ())), output)


def script(label: str, name: str, *args: str, output: str | None = None) -> Command:
    """An alternative script in bench/, its output path last on the command line."""
    return Command(label, (PYTHON, str(BENCH / name), *args, *((output,) if output else ())), output)


def startup_case(sizes: Sizes) -> list[Row]:
    """wxb's start-up: a literal forward pass and --help, against `python -c "import numpy"`."""
    forward = wxb("forward", "-X", "1 2; 3 4", "-b", "5; 6", "--format", "csv")
    baseline = Command("python -c 'import numpy'", (PYTHON, "-c", "import numpy"))
    helped = Command("wxb --help", (WXB, "--help"))
    mine, theirs, help_ = measure([forward, baseline, helped], sizes.startup_runs)
    return [
        ratio_row("start-up: forward literal", "time", mine, baseline.label, theirs, 1.5),
        # The start-up target is the forward literal; --help (Rich-formatted, no NumPy) is shown for reference.
        ratio_row("start-up: wxb --help", "time", help_, baseline.label, theirs, None),
    ]


def csv_case(sizes: Sizes) -> list[Row]:
    """forward on n×n CSV operands to a CSV file, against a polars script and a NumPy-only script."""
    n = sizes.csv_n
    src = csv_operands(n, "WXb")
    operands = (src["W"], src["X"], src["b"])
    commands = [
        wxb("forward", "-W", src["W"], "-X", src["X"], "-b", src["b"], output=out(f"csv-{n}-wxb.csv")),
        script("polars script", "alt_csv_polars.py", *operands, output=out(f"csv-{n}-polars.csv")),
        script("NumPy loadtxt/savetxt", "alt_csv_numpy.py", *operands, output=out(f"csv-{n}-numpy.csv")),
    ]
    mine, polars_, numpy_ = measure(commands, sizes.runs)
    case = f"CSV forward {n}×{n}"
    return [
        ratio_row(case, "time", mine, commands[1].label, polars_, 1.0),
        ratio_row(case, "time", mine, commands[2].label, numpy_, None),
    ]


def written_keys(command: Command, default: str) -> str:
    """Run command once and return the comma-separated keys of the .npz it writes (default if it fails)."""
    try:
        run_once(command.argv)
        assert command.output is not None
        with np.load(command.output, allow_pickle=False) as bundle:
            return ",".join(bundle.files)
    except (CommandFailed, OSError, ValueError):
        return default  # measure() records the error for the table


def npy_case(sizes: Sizes) -> list[Row]:
    """forward and backward --wrt all on n×n .npy operands, against plain NumPy scripts."""
    n = sizes.npy_n
    W, X, b, G = npy_operands(n, "WXbG").values()
    forward = [
        wxb("forward", "-W", W, "-X", X, "-b", b, output=out(f"npy-{n}-wxb-f.npy")),
        script("NumPy script", "alt_npy.py", "forward", W, X, b, output=out(f"npy-{n}-alt-f.npy")),
    ]
    mine, theirs = measure(forward, sizes.runs)
    rows = [ratio_row(f".npy forward {n}×{n}", "time", mine, forward[1].label, theirs, 1.1)]
    backward = wxb("backward", "-W", W, "-X", X, "-b", b, "-G", G, "--wrt", "all", output=out(f"npy-{n}-wxb.npz"))
    keys = written_keys(backward, default="db,dW,dX")  # the alternative writes the same arrays as wxb (f too?)
    alternative = script("NumPy script", "alt_npy.py", "backward", W, X, b, G, keys, output=out(f"npy-{n}-alt.npz"))
    mine, theirs = measure([backward, alternative], sizes.runs)
    rows.append(ratio_row(f".npy backward --wrt all {n}×{n} ({keys})", "time", mine, alternative.label, theirs, 1.1))
    return rows


def memory_case(sizes: Sizes) -> list[Row]:
    """Peak RSS of backward --wrt b (X and G n×n, no W) and of a structured jacobian, against NumPy scripts."""
    n, m = sizes.memory_n, sizes.jacobian_n
    X, b, G = npy_operands(n, "XbG").values()
    bias = [
        wxb("backward", "-X", X, "-b", b, "-G", G, "--wrt", "b", output=out(f"mem-{n}-wxb.npy")),
        script("NumPy script", "alt_npy.py", "bias-grad", X, b, G, output=out(f"mem-{n}-alt.npy")),
    ]
    mine, theirs = measure(bias, sizes.runs)
    rows = [ratio_row(f"backward --wrt b, no W, {n}×{n}", "peak RSS", mine, bias[1].label, theirs, 1.3)]
    X, b = npy_operands(m, "Xb").values()
    jacobian = [
        wxb("jacobian", "-X", X, "-b", b, "--format", "json"),  # the structure's description, to /dev/null
        script("NumPy script (one I block)", "alt_npy.py", "jacobian", X, b, output=out(f"jac-{m}-alt.npy")),
    ]
    mine, theirs = measure(jacobian, sizes.runs)
    rows.append(absolute_row(f"jacobian (structured) m = n = {m}", mine, jacobian[1].label, theirs, 1024))
    return rows


def tanh_case(sizes: Sizes) -> list[Row]:
    """backward -e "tanh(W @ X + b)" --wrt all on n×n .npy operands (b n×1, sum loss), against a NumPy script."""
    n = sizes.tanh_n
    W, X, b = npy_operands(n, "WXb").values()
    expression = "tanh(W @ X + b)"
    operands = (f"W={W}", f"X={X}", f"b={b}")
    backward = wxb("backward", "-e", expression, "--wrt", "all", *operands, output=out(f"tanh-{n}-wxb.npz"))
    keys = written_keys(backward, default="db,dW,dX")
    alternative = script("NumPy script", "alt_tanh.py", W, X, b, keys, output=out(f"tanh-{n}-alt.npz"))
    mine, theirs = measure([backward, alternative], sizes.runs)
    case = f'backward -e "{expression}" --wrt all {n}×{n} ({keys})'
    rows = [ratio_row(case, "time", mine, alternative.label, theirs, 1.2)]
    rows.append(ratio_row(case, "peak RSS", mine, alternative.label, theirs, 1.3))
    return [replace(row, tolerance=(1e-12, 1e-12)) for row in rows]  # the same maths: the same numbers, nearly


def linalg_case(sizes: Sizes) -> list[Row]:
    """backward -e "logdet(X)" --wrt X and backward -e "sum(solve(A, B))" --wrt all on n×n .npy operands (standard
    normal: invertible, condition numbers near n), against NumPy scripts computing X⁻ᵀ and the two solves."""
    n = sizes.linalg_n
    (X,) = npy_operands(n, "X").values()
    logdet = [
        wxb("backward", "-e", "logdet(X)", "--wrt", "X", f"X={X}", output=out(f"logdet-{n}-wxb.npy")),
        script("NumPy script", "alt_linalg.py", "logdet", X, output=out(f"logdet-{n}-alt.npy")),
    ]
    mine, theirs = measure(logdet, sizes.runs)
    rows = [ratio_row(f'backward -e "logdet(X)" --wrt X {n}×{n}', "time", mine, logdet[1].label, theirs, 1.2)]
    A, B = npy_operands(n, "AB").values()
    solve = wxb("backward", "-e", "sum(solve(A, B))", "--wrt", "all", f"A={A}", f"B={B}",
                output=out(f"solve-{n}-wxb.npz"))
    keys = written_keys(solve, default="dA,dB")
    alternative = script("NumPy script", "alt_linalg.py", "solve", A, B, keys, output=out(f"solve-{n}-alt.npz"))
    mine, theirs = measure([solve, alternative], sizes.runs)
    rows.append(ratio_row(f'backward -e "sum(solve(A, B))" --wrt all {n}×{n} ({keys})', "time", mine,
                          alternative.label, theirs, 1.2))
    return [replace(row, tolerance=(1e-8, 1e-8)) for row in rows]  # LU with the same pivots: nearly the same numbers


def least_squares(m: int, k: int, n: int) -> dict[str, str]:
    """W (m×k), X (k×n), b (m,), Y (m×n) and a direction V (m×k) as .npy under bench/data/ls-m-k-n/, written first
    if missing (standard normal, W scaled by 1/√k)."""
    folder = DATA / f"ls-{m}-{k}-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    shapes = {"W": (m, k), "X": (k, n), "b": (m,), "Y": (m, n), "V": (m, k)}
    paths = {}
    for index, (name, shape) in enumerate(shapes.items()):
        path = folder / f"{name}.npy"
        if not path.exists():
            values = np.random.default_rng([SEED, m, k, n, index]).normal(size=shape)
            write_atomically(path, partial(np.save, arr=values / math.sqrt(k) if name == "W" else values))
        paths[name] = str(path)
    return paths


def hessian_case(sizes: Sizes) -> list[Row]:
    """hessian --vector of L = Σ (W·X + b − Y)² in W (m×m, X m×n) against one backward --wrt W and autograd's
    make_hvp; the dense Hessian (W 30×30) against autograd's hessian."""
    m, n = sizes.hessian_m, sizes.hessian_n
    ops = least_squares(m, m, n)
    expression = "sum((W @ X + b - Y) ** 2)"
    operands = tuple(f"{name}={ops[name]}" for name in "WXbY")
    hvp = wxb("hessian", "-e", expression, *operands, "--wrt", "W", "--vector", f"W={ops['V']}",
              output=out(f"hvp-{m}-{n}-wxb.npy"))
    backward = wxb("backward", "-e", expression, *operands, "--wrt", "W", output=out(f"hvp-{m}-{n}-dW.npy"))
    autograd = script("autograd make_hvp", "alt_hessian.py", "hvp", *(ops[name] for name in "WXbYV"),
                      output=out(f"hvp-{m}-{n}-alt.npy"))
    mine, theirs, reference = measure([hvp, backward, autograd], sizes.runs)
    case = f"hessian --vector, W {m}×{m}, X {m}×{n}"
    gradient = replace(theirs, output=None)  # H·v is not dW: nothing to compare
    rows = [ratio_row(case, "time", mine, "one backward --wrt W", gradient, 4.0),
            ratio_row(case, "peak RSS", mine, "one backward --wrt W", gradient, 1.5),
            ratio_row(case, "time", mine, autograd.label, reference, None),
            ratio_row(case, "peak RSS", mine, autograd.label, reference, None)]
    small = least_squares(30, 30, 200)
    operands = tuple(f"{name}={small[name]}" for name in "WXbY")
    dense = wxb("hessian", "-e", expression, *operands, "--wrt", "W", output=out("hessian-30-wxb.npy"))
    alternative = script("autograd hessian", "alt_hessian.py", "dense", *(small[name] for name in "WXbY"),
                         output=out("hessian-30-alt.npy"))
    mine, theirs = measure([dense, alternative], sizes.runs)
    rows += [ratio_row("hessian (dense), W 30×30: H 900×900", "time", mine, alternative.label, theirs, None),
             ratio_row("hessian (dense), W 30×30: H 900×900", "peak RSS", mine, alternative.label, theirs, None)]
    return [replace(row, tolerance=(1e-8, 1e-8)) for row in rows]  # the same sums in another order


def curvature_case(sizes: Sizes) -> list[Row]:
    """hessian --eig of the same least squares in W (10⁶ parameters at full size: H would be 8 TB), by Lanczos on
    H·v, against one backward --wrt W (memory: bounded by a small multiple of backward's) and the exact extremes
    2·eig(X·Xᵀ) (the same result). One timed run after the warm-up: a run is minutes (about 190 H·v)."""
    m, n = sizes.hessian_m, sizes.hessian_n
    ops = least_squares(m, m, n)
    expression = "sum((W @ X + b - Y) ** 2)"
    operands = tuple(f"{name}={ops[name]}" for name in "WXbY")
    eig = wxb("hessian", "-e", expression, *operands, "--wrt", "W", "--eig", "--format", "json",
              output=out(f"eig-{m}-{n}-wxb.json"))
    backward = wxb("backward", "-e", expression, *operands, "--wrt", "W", output=out(f"eig-{m}-{n}-dW.npy"))
    exact = script("2·eigvalsh(X·Xᵀ)", "alt_hessian.py", "extremes", ops["X"], output=out(f"eig-{m}-{n}-alt.json"))
    mine, theirs, reference = measure([eig, backward, exact], 1)
    case = f"hessian --eig (Lanczos), W {m}×{m}, X {m}×{n}"
    gradient = replace(theirs, output=None)
    rows = [ratio_row(case, "time", mine, "one backward --wrt W", gradient, None),
            ratio_row(case, "peak RSS", mine, "one backward --wrt W", gradient, 2.0),
            ratio_row(case, "time", mine, exact.label, reference, None)]
    return [replace(row, tolerance=(1e-8, 0.0)) for row in rows]  # eigsh's tol=1e-10, relative


def big_layer(folder: Path, n: int, rows: int = 1000) -> dict[str, str]:
    """W (rows×rows), b (rows,), X and G (rows×n) as .npy in folder, written a block at a time (never whole in
    memory)."""
    rng = np.random.default_rng([SEED, n])
    np.save(folder / "W.npy", rng.normal(size=(rows, rows)) / math.sqrt(rows))
    np.save(folder / "b.npy", rng.normal(size=rows))
    for name in ("X", "G"):
        mapped = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=np.float64, shape=(rows, n))
        for start in range(0, n, 8192):
            stop = min(start + 8192, n)
            mapped[:, start:stop] = rng.normal(size=(rows, stop - start))
        mapped.flush()
        del mapped
    return {name: str(folder / f"{name}.npy") for name in "WXbG"}


def dask_case(sizes: Sizes) -> list[Row]:
    """backward -e "tanh(W @ X + b)" --wrt W,b -G G.npy with X and G of 1000×n (1 GB each in the full run), on
    --dask (this machine's cores, in threads), against the in-memory engine and a hand-written chunked NumPy loop;
    the operands are made under a temporary folder and deleted afterwards."""
    n = sizes.dask_n
    with tempfile.TemporaryDirectory(prefix="wxb-dask-") as folder:
        paths = big_layer(Path(folder), n)
        expression = "tanh(W @ X + b)"
        operands = (f"W={paths['W']}", f"X={paths['X']}", f"b={paths['b']}", "-G", paths["G"], "--wrt", "W,b")
        commands = [
            wxb("backward", "-e", expression, *operands, "--dask", output=out(f"dask-{n}-wxb.npz")),
            Command("wxb in memory", (WXB, "backward", "-e", expression, *operands, "-o",
                                      out(f"dask-{n}-memory.npz")), out(f"dask-{n}-memory.npz")),
            script("chunked NumPy loop", "alt_chunked_tanh_pread.py", paths["W"], paths["X"], paths["b"], paths["G"],
                   output=out(f"dask-{n}-alt.npz")),
        ]
        mine, memory, loop = measure(commands, sizes.runs)
    gb = 1000 * n * 8 / 1e9
    case = f'--dask backward -e "{expression}" --wrt W,b, X and G 1000×{n} ({gb:.1f} GB each)'
    rows = [ratio_row(case, "time", mine, commands[2].label, loop, None),
            ratio_row(case, "time", mine, commands[1].label, memory, None),
            ratio_row(case, "peak RSS", mine, commands[2].label, loop, None),
            ratio_row(case, "peak RSS", mine, commands[1].label, memory, None)]
    return [replace(row, tolerance=(1e-9, 1e-9)) for row in rows]


@dataclass(frozen=True)
class ScalePoint:
    """wxb's and the NumPy script's forward pass at one size n."""

    n: int
    wxb: Measurement
    numpy: Measurement


def scale_case(sizes: Sizes) -> list[ScalePoint]:
    """wxb forward from .npy for growing n, next to the NumPy script doing the same."""
    points = []
    for n in sizes.scale_ns:
        W, X, b = npy_operands(n, "WXb").values()
        commands = [
            wxb("forward", "-W", W, "-X", X, "-b", b, output=out(f"scale-{n}-wxb.npy")),
            script("NumPy", "alt_npy.py", "forward", W, X, b, output=out(f"scale-{n}-alt.npy")),
        ]
        points.append(ScalePoint(n, *measure(commands, sizes.runs)))
    return points


def slope(points: Sequence[ScalePoint], index: int, side: str) -> str:
    """The log-log slope between point index-1 and point index: Δ log t / Δ log n (3 for a pure n³ matmul)."""
    if index == 0:
        return ""
    before, after = (value(getattr(p, side), "time") for p in (points[index - 1], points[index]))
    if before is None or after is None:
        return "—"
    return f"{math.log(after / before) / math.log(points[index].n / points[index - 1].n):.2f}"


SCALE_HEADER = ("n", "wxb forward", "slope", "NumPy script", "slope", "same result")


def scale_cells(points: Sequence[ScalePoint], notes: Footnotes) -> list[tuple[str, ...]]:
    return [
        (
            str(p.n),
            format_value(p.wxb, "time", notes),
            slope(points, i, "wxb"),
            format_value(p.numpy, "time", notes),
            slope(points, i, "numpy"),
            same_result(p.wxb.output, p.numpy.output),
        )
        for i, p in enumerate(points)
    ]


# ---------------------------------------------------------------- reporting


def machine() -> list[str]:
    """CPU model, cores, Python, NumPy, polars and wxb versions, and the BLAS core type if it is pinned."""
    import polars as pl

    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = models[0] if models else platform.processor() or "unknown CPU"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facts = [
        f"CPU: {model}, {os.cpu_count()} cores ({usable} usable)",
        f"Python {platform.python_version()}, NumPy {np.__version__}, polars {pl.__version__}, {wxb_version()}",
    ]
    facts.append(load_average("at start") + " (other work on the machine adds noise)")
    if "OPENBLAS_CORETYPE" in os.environ:
        facts.append(f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} (left as it was, for both sides)")
    return facts


def own_peak_fact(hold_mb: int = 256) -> str:
    """How peak RSS is measured, and the self-check that shows the harness's own memory stays out of it."""
    peak = check_own_peak(hold_mb)
    return f"peak RSS: each process's own (`python -c pass` weighs {peak:.0f} MB while the harness holds {hold_mb} MB)"


def load_average(when: str) -> str:
    """The 1, 5 and 15 minute load averages, labelled."""
    one, five, fifteen = os.getloadavg()
    return f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}"


def wxb_version() -> str:
    """`wxb --version` and the git commit benchmarked."""
    try:
        done = subprocess.run([WXB, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "wxb not runnable"
    commit = subprocess.run(["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() + (f" at commit {commit.stdout.strip()}" if commit.returncode == 0 else "")


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, for the terminal."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)


def render(
    rows: list[Row], points: list[ScalePoint], table: Callable[[Sequence[str], Sequence[Sequence[str]]], str]
) -> list[str]:
    """The comparison table, the scale table and the footnotes, each drawn with `table`."""
    notes = Footnotes()
    parts = []
    if rows:
        parts += [table(TABLE_HEADER, [table_cells(row, notes) for row in rows]), ""]
    if points:
        parts += ["Scale: forward from .npy, W and X n×n, b n×1", "", table(SCALE_HEADER, scale_cells(points, notes))]
        parts.append("")
    return parts + notes.lines()


def markdown_report(facts: list[str], rows: list[Row], points: list[ScalePoint], sizes: Sizes, quick: bool) -> str:
    """The whole result as markdown: the machine, the comparison table, the scale table, the footnotes."""
    how = f"{sizes.runs} timed runs per command ({sizes.startup_runs} for start-up) after one warm-up, alternating"
    head = ["# wxb benchmark" + (" (--quick)" if quick else ""), "", *(f"- {fact}" for fact in facts)]
    body = render(rows, points, markdown_table)
    return "\n".join(
        [
            *head,
            f"- {how}; medians shown, ± half the range of the runs",
            "",
            *(line + "  " if line[:1] == "[" else line for line in body),
        ]
    )


MLP = "-sum(T * log_softmax(W2 @ tanh(W1 @ X + b1) + b2))"


def derive_case(sizes: Sizes) -> list[Row]:
    """derive on the two-layer network of samples/mlp (every gradient as a formula), as a whole process: under
    0.3 s, and against the start-up of a forward pass on a literal (the same imports, no derivation)."""
    mlp = BENCH.parent / "samples" / "mlp" / "mlp.npz"
    derived = wxb("derive", "-e", MLP, "--from", str(mlp), "--format", "text")
    forward = wxb("forward", "-X", "1 2; 3 4", "-b", "5; 6", "--format", "csv")
    mine, theirs = measure([derived, forward], sizes.startup_runs)
    seconds = value(mine, "time")
    verdict = "ERROR" if seconds is None else ("PASS" if seconds < 0.3 else "MISS")
    return [Row("derive: two-layer network", "time", mine, "wxb forward literal", theirs, "< 0.3 s", verdict),
            ratio_row("derive: two-layer network", "time", mine, "wxb forward literal", theirs, None)]


BIG_ROWS = 1000  # W is 1000×1000, X and G 1000×N


def big_operands(gb: float, names: str) -> dict[str, str]:
    """bench/data/big-<gb>/: W 1000×1000 (scaled for tanh), b 1000×1, and X, G of `gb` GiB each, written in
    blocks by bench/make_big.py (never whole in memory). Big: delete the folder after (remove_big)."""
    folder = DATA / f"big-{gb:g}"
    folder.mkdir(parents=True, exist_ok=True)
    columns = int(gb * 2**30) // (BIG_ROWS * 8)
    paths = {}
    for index, name in enumerate(names):
        path = folder / f"{name}.npy"
        if not path.exists():
            if name in "XG":
                subprocess.run([PYTHON, str(BENCH / "make_big.py"), str(path), str(BIG_ROWS), str(columns),
                                str(index)], check=True)
            else:
                rng = np.random.default_rng([SEED, index])
                shape = (BIG_ROWS, BIG_ROWS) if name == "W" else (BIG_ROWS, 1)
                write_atomically(path, partial(np.save, arr=rng.normal(size=shape) * (0.03 if name == "W" else 1)))
        paths[name] = str(path)
    return paths


def remove_big(gb: float) -> None:
    shutil.rmtree(DATA / f"big-{gb:g}", ignore_errors=True)
    for path in OUT.glob("big-*.npy"):
        path.unlink()


def same_big(mine: str | None, theirs: str | None, rtol: float = 1e-12) -> str:
    """same_result for .npy files larger than memory: compared through memory maps, a block of columns at a time."""
    if mine is None or theirs is None or not (Path(mine).exists() and Path(theirs).exists()):
        return ""
    a, b = np.load(mine, mmap_mode="r"), np.load(theirs, mmap_mode="r")
    if a.shape != b.shape:
        return f"NO: shape {a.shape} vs {b.shape}"
    step = max((64 << 20) // (8 * max(a.shape[0], 1)), 1)
    for start in range(0, a.shape[-1], step):
        if not np.allclose(a[..., start:start + step], b[..., start:start + step], rtol=rtol, atol=rtol):
            return f"NO: columns from {start} differ"
    return "yes"


def big_case(sizes: Sizes) -> list[Row]:
    """Beyond memory, streamed: backward -e "tanh(W @ X + b)" --wrt W,b with X and G of the largest size against
    a hand-written chunked NumPy script (time ≤ 1.1×, peak RSS ≤ 1.5 GB), then forward -o f.npy at every size
    (peak RSS ≤ 1 GB; the time should grow linearly and the memory stay flat). Operands are deleted after."""
    rows = []
    expression = "tanh(W @ X + b)"
    largest = max(sizes.big_gb)
    W, X, b, G = big_operands(largest, "WXbG").values()
    backward = wxb("backward", "-e", expression, f"W={W}", f"X={X}", f"b={b}", "-G", G, "--wrt", "W,b", "--chunk",
                   "256MB", output=out(f"big-{largest:g}-wxb.npz"))
    alternative = script("chunked NumPy script", "alt_chunked_tanh.py", "backward", W, X, b, G,
                         output=out(f"big-{largest:g}-alt.npz"))
    mine, theirs = measure([backward, alternative], max(sizes.runs // 3, 1))
    case = f'backward -e "{expression}" --wrt W,b, X and G {largest:g} GB'
    rows += [replace(ratio_row(case, "time", mine, alternative.label, theirs, 1.1), tolerance=(1e-12, 1e-12)),
             replace(absolute_row(case, mine, alternative.label, theirs, 1.5 * 1024), tolerance=(1e-12, 1e-12))]
    Path(G).unlink()
    for gb in sorted(sizes.big_gb):
        W, X, b = big_operands(gb, "WXb").values()
        forward = wxb("forward", "-e", expression, f"W={W}", f"X={X}", f"b={b}", "--chunk", "256MB",
                      output=out(f"big-{gb:g}-wxb-f.npy"))
        alternative = script("chunked NumPy script", "alt_chunked_tanh.py", "forward", W, X, b,
                             output=out(f"big-{gb:g}-alt-f.npy"))
        mine, theirs = measure([forward, alternative], max(sizes.runs // 3, 1))
        case = f'forward -e "{expression}" -o f.npy, X {gb:g} GB'
        rows += [ratio_row(case, "time", mine, alternative.label, theirs, None),
                 absolute_row(case, mine, alternative.label, theirs, 1024)]
        same = same_big(forward.output, alternative.output)
        print(f"  forward {gb:g} GB: same result: {same}", file=sys.stderr)
        remove_big(gb)
    remove_big(largest)
    return rows


CASES: dict[str, Callable[[Sizes], list[Row]]] = {
    "start-up": startup_case,
    "csv": csv_case,
    "npy": npy_case,
    "memory": memory_case,
    "tanh": tanh_case,
    "derive": derive_case,
    "linalg": linalg_case,
    "hessian": hessian_case,
    "curvature": curvature_case,
    "big": big_case,
    "dask": dask_case,
}
OPT_IN = ("big",)  # run only when named with --only: minutes per run, and gigabytes of disk


def run_case(name: str, case: Callable[[Sizes], list[Row]], sizes: Sizes) -> list[Row]:
    """The case's rows, or one ERROR row saying what stopped it: a broken case must not end the whole run."""
    try:
        return case(sizes)
    except Exception as exc:
        traceback.print_exc()
        failed = Measurement(error=f"the harness failed in case {name}: {type(exc).__name__}: {exc}")
        return [Row(name, "—", failed, "", Measurement(), "", "ERROR")]


BIG_SECTION = "\n## Big data"


def kept_big_section(report: str, ran_big: bool) -> str:
    """The report, followed by the big-data section of the previous results when this run did not measure it (an
    opt-in case of many minutes): a run of the other cases keeps its figures."""
    if ran_big or not RESULTS.exists():
        return report
    old = RESULTS.read_text()
    start = old.find(BIG_SECTION)
    return report.rstrip("\n") + "\n" + old[start:] if start >= 0 else report


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark wxb against plain Python scripts.")
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller operands")
    parser.add_argument("--runs", type=int, help="timed runs per command (start-up: three times as many)")
    names = [*CASES, "scale"]
    default = [name for name in names if name not in OPT_IN]
    parser.add_argument("--only", default=",".join(default), help=f"comma-separated, from: {', '.join(names)} "
                        f"({', '.join(OPT_IN)} only when named: big files, long runs)")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.runs:
        sizes = replace(sizes, runs=args.runs, startup_runs=3 * args.runs)
    chosen = args.only.split(",")
    shutil.rmtree(OUT, ignore_errors=True)  # no stale output may pass for this run's
    facts = [*machine(), own_peak_fact()]
    print("\n".join(facts), flush=True)
    rows: list[Row] = []
    for name, case in CASES.items():
        if name in chosen:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows += run_case(name, case, sizes)
    if "scale" in chosen:
        print("running scale ...", file=sys.stderr, flush=True)
    points = scale_case(sizes) if "scale" in chosen else []
    facts.append(load_average("at end"))
    print("\n" + "\n".join(render(rows, points, text_table)))
    RESULTS.write_text(kept_big_section(markdown_report(facts, rows, points, sizes, args.quick), "big" in chosen))
    print(f"written {RESULTS.relative_to(BENCH.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
