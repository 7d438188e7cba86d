"""Every option's text is true on every command that shows it: for each (command, option) a claim names the words
of the help it holds to and runs the command as the text promises. A new option, or an option added to another
command, fails `test_every_option_of_every_command_has_a_claim` until its claim is written here."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from conftest import wxb

from wxb.cli.app import app

COMMAND = typer.main.get_command(app)
# the commands that read operands
ARRAYS = ["forward", "backward", "jvp", "jacobian", "hessian", "check", "explain", "derive"]
Run = Callable[[str, Path], None]


def base(command: str) -> list[str]:
    """A small run of each command on files the test writes (X.csv, b.csv), or literals."""
    return {"convert": ["X.csv", "-o", "out.npy"], "demo": [],
            "jvp": ["-X", "X.csv", "-b", "b.csv", "--tangent", "b=b.csv"]}.get(command, ["-X", "X.csv", "-b", "b.csv"])


def files(folder: Path) -> None:
    (folder / "X.csv").write_text("1,2\n3,4\n")
    (folder / "b.csv").write_text("5\n6\n")


def ok(command: str, folder: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """The run, which must succeed; backward writes json unless told (csv holds one result, and --wrt may ask for
    several)."""
    if command == "backward" and not {"-f", "-o"} & set(args):
        args = (*args, "-f", "json")
    done = wxb(command, *args, cwd=folder, env=env)
    assert done.returncode == 0, (command, args, done.stderr)
    return done


def refused(command: str, folder: Path, *args: str) -> None:
    done = wxb(command, *args, cwd=folder)
    assert done.returncode == 2, (command, args, done.stdout, done.stderr)
    assert done.stderr.startswith("wxb: error: ") and done.stderr.count("\n") == 1, done.stderr


def rows(text: str) -> list[list[float]]:
    return [[float(cell) for cell in line.split(",")] for line in text.splitlines() if line]


@dataclass(frozen=True)
class Claim:
    words: tuple[str, ...]  # what the option's help says, held to by `run`
    run: Run


CLAIMS: dict[str, list[Claim]] = {}


def claim(option: str, *words: str) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        CLAIMS.setdefault(option, []).append(Claim(words, run))
        return run
    return register


def source(command: str, path: str) -> list[str]:
    """The base run with its first text operand replaced by `path`."""
    args = base(command)
    return [path, *args[1:]] if command == "convert" else ["-X", path, *args[2:]]


# ---- operands ----

@claim("--delimiter", "one character", "tab", "space", "whitespace")
def _delimiters(command: str, folder: Path) -> None:
    for name, text, value in [("semi.txt", "1;2\n3;4\n", ";"), ("tab.tsv", "1\t2\n3\t4\n", "tab"),
                              ("space.txt", "1 2\n3 4\n", "space"), ("ws.txt", "1  2\n3\t 4\n", "whitespace")]:
        (folder / name).write_text(text)
        done = ok(command, folder, *source(command, name), "--delimiter", value)
        if command == "forward":
            assert rows(done.stdout) == [[6, 7], [9, 10]], value


@claim("--header", "always skipped (--header)", "never skipped (--no-header)", "Default: sniffed, with a note")
def _header(command: str, folder: Path) -> None:
    (folder / "named.csv").write_text("a,b\n1,2\n3,4\n")
    sniffed = ok(command, folder, *source(command, "named.csv"))
    assert "header" in sniffed.stderr
    done = ok(command, folder, *source(command, "named.csv"), "--header")
    assert "header" not in done.stderr
    (folder / "numbers.csv").write_text("0,0\n1,2\n")
    reader = "forward" if command != "convert" else command
    kept = ok(reader, folder, *source(reader, "numbers.csv"), "--no-header")
    if command != "convert":
        assert rows(kept.stdout) == [[5, 5], [7, 8]]
    else:
        assert np.load(folder / "out.npy").tolist() == [[0, 0], [1, 2]]


@claim("-W", "absent: the identity")
def _identity(command: str, folder: Path) -> None:
    done = ok(command, folder, *base(command), *(["-f", "csv"] if command in ("forward", "backward") else []))
    if command == "forward":
        assert rows(done.stdout) == [[6, 7], [9, 10]]
    with_w = ok(command, folder, *base(command), "-W", "1 0; 0 1",
                *(["-f", "csv"] if command in ("forward", "backward") else []))
    if command in ("forward", "backward"):
        assert with_w.stdout == done.stdout


@claim("-X", "Input matrix X")
def _x(command: str, folder: Path) -> None:
    ok(command, folder, "-X", "1 2; 3 4", "-b", "0; 0")


@claim("-b", "a 1-D bias is a column")
def _bias(command: str, folder: Path) -> None:
    done = ok(command, folder, "-X", "1 2; 3 4", "-b", "[5, 6]", *(["-f", "csv"] if command == "forward" else []))
    if command == "forward":
        assert rows(done.stdout) == [[6, 7], [9, 10]]


@claim("--expr", "default: W @ X + b, or X + b without W")
def _expr(command: str, folder: Path) -> None:
    ok(command, folder, "-e", "tanh(W1 @ X + b1)", "W1=1 0; 0 1", "X=1 2; 3 4", "b1=0; 0")
    ok(command, folder, "-X", "1 2; 3 4", "-b", "5; 6")
    ok(command, folder, "-W", "1 0; 0 1", "-X", "1 2; 3 4", "-b", "5; 6")


@claim("bindings", "W1=w.csv X=x.npy b1=")
def _bindings(command: str, folder: Path) -> None:
    (folder / "w.csv").write_text("1,0\n0,1\n")
    np.save(folder / "x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    ok(command, folder, "-e", "W1 @ X + b1", "W1=w.csv", "X=x.npy", "b1=0.5; -1")


@claim("derive-bindings", "W=3x4", "b=3", "s=() for a scalar", "or its data", "none: names only")
def _derive_bindings(command: str, folder: Path) -> None:
    assert "sum(G, axis=1)" in ok(command, folder, "-e", "W @ X + b", "W=3x4", "X=4x5", "b=3").stdout
    ok(command, folder, "-e", "s * x", "s=()", "x=3")
    ok(command, folder, "-e", "W @ X", "W=1 2; 3 4", "X=1 0; 0 1")
    ok(command, folder, "-e", "W @ X")


@claim("--from", "An .npz (or JSON object) bundle")
def _bundle(command: str, folder: Path) -> None:
    np.savez(folder / "ops.npz", X=np.array([[1.0, 2.0], [3.0, 4.0]]), b=np.array([5.0, 6.0]))
    (folder / "ops.json").write_text(json.dumps({"X": [[1, 2], [3, 4]], "b": [5, 6]}))
    for bundle in ("ops.npz", "ops.json"):
        done = ok(command, folder, "--from", bundle, *(["-f", "csv"] if command == "forward" else []))
        if command == "forward":
            assert rows(done.stdout) == [[6, 7], [9, 10]]


@claim("-G", "Upstream gradient", "of f's shape")
def _upstream(command: str, folder: Path) -> None:
    ok(command, folder, *base(command), "-G", "1 0; 0 1")
    refused(command, folder, *base(command), "-G", "1 0 0; 0 1 0")


@claim("-T", "Target of --loss mse", "when -e names an operand T, -T binds that operand", "--target")
def _target(command: str, folder: Path) -> None:
    ok(command, folder, *base(command), "--loss", "mse", "-T", "6 7; 9 10")
    ok(command, folder, "-e", "T @ X", "-T", "1 0; 0 1", "-X", "1 2; 3 4", "--loss", "mse", "--target", "1 2; 3 4")


@claim("--target", "Target of --loss mse, also when -e names an operand T")
def _target_long(command: str, folder: Path) -> None:
    ok(command, folder, *base(command), "--loss", "mse", "--target", "6 7; 9 10")


@claim("-T-operand", "The operand T of the expression", "not an mse target")
def _t_operand(command: str, folder: Path) -> None:
    ok(command, folder, "-e", "T @ X", "-T", "1 0; 0 1", "-X", "1 2; 3 4")
    refused(command, folder, *base(command), "-T", "6 7; 9 10")


# ---- what to compute ----

@claim("--loss", "sum (G = 1)", "mean (G = 1/N)", "mse against the target", "Default: sum")
def _loss(command: str, folder: Path) -> None:
    fmt = ["-f", "json"] if command == "backward" else []
    results = {loss: ok(command, folder, *base(command), "--loss", loss, *fmt).stdout for loss in ("sum", "mean")}
    ok(command, folder, *base(command), "--loss", "mse", "-T", "6 7; 9 10")
    if command == "backward":
        assert json.loads(results["sum"]) == [[2.0], [2.0]] and json.loads(results["mean"]) == [[0.5], [0.5]]
        assert ok(command, folder, *base(command), *fmt).stdout == results["sum"]


@claim("derive-loss", "L = sum(f) (G = 1) or mean(f) (G = 1/N)")
def _derive_loss(command: str, folder: Path) -> None:
    ok(command, folder, "-e", "W @ X", "W=2x2", "X=2x2", "--loss", "sum")
    ok(command, folder, "-e", "W @ X", "W=2x2", "X=2x2", "--loss", "mean")
    assert wxb(command, "-e", "W @ X", "--loss", "mse", cwd=folder).returncode == 2


@claim("--wrt", "all, or names separated by commas", "default: every operand")
def _wrt(command: str, folder: Path) -> None:
    args = ["-e", "W @ X + b", "W=1 0; 0 1", "X=1 2; 3 4", "b=5; 6"]
    fmt = ["-f", "json"] if command in ("backward", "check", "explain", "derive") else []
    every = ok(command, folder, *args, *fmt).stdout
    assert ok(command, folder, *args, "--wrt", "all", *fmt).stdout == every
    ok(command, folder, *args, "--wrt", "W,b", *fmt)
    refused(command, folder, *args, "--wrt", "Q")


@claim("jacobian-wrt", "The operand to differentiate f with respect to (default: b)")
def _jacobian_wrt(command: str, folder: Path) -> None:
    assert ok(command, folder, *base(command), "-f", "text").stdout == \
        ok(command, folder, *base(command), "--wrt", "b", "-f", "text").stdout
    ok(command, folder, *base(command), "-W", "1 0; 0 1", "--wrt", "W")


@claim("--block", "Output block K only")
def _block(command: str, folder: Path) -> None:
    assert rows(ok(command, folder, *base(command), "--block", "1", "-f", "csv").stdout) == [[1, 0], [0, 1]]
    refused(command, folder, *base(command), "--block", "2")


@claim("--dense", "the whole dense Jacobian (size-guarded)")
def _dense(command: str, folder: Path) -> None:
    assert len(rows(ok(command, folder, *base(command), "--dense", "-f", "csv").stdout)) == 4


@claim("--limit", "Most entries --dense may allocate")
def _limit(command: str, folder: Path) -> None:
    ok(command, folder, *base(command), "--dense", "--limit", "8", "-f", "csv")
    refused(command, folder, *base(command), "--dense", "--limit", "7", "-f", "csv")


@claim("--inline", "no z = … lines")
def _inline(command: str, folder: Path) -> None:
    args = ["-e", "sum(tanh(W @ X) * tanh(W @ X))", "W=2x2", "X=2x2"]
    assert "z" in ok(command, folder, *args).stdout.split("=")[0]
    assert not any(line.startswith("z") for line in ok(command, folder, *args, "--inline").stdout.splitlines())


@claim("--eval", "evaluate each formula with the operands' data")
def _eval(command: str, folder: Path) -> None:
    done = ok(command, folder, "-e", "sum(W @ X)", "W=1 2; 3 4", "X=1 0; 0 1", "--eval", "-f", "json")
    assert "dW" in done.stdout or "dL/dW" in done.stdout
    assert "[[1.0, 1.0], [1.0, 1.0]]" in done.stdout.replace(" ", "").replace(",", ", ")


@claim("--tangent", "The tangent v of operand NAME, of its shape", "any operand source", "repeat for several",
       "Operands without one have tangent 0")
def _tangent(command: str, folder: Path) -> None:
    assert rows(ok(command, folder, *base(command)).stdout) == [[5, 5], [6, 6]]  # b.csv as b's tangent
    assert rows(wxb(command, "-X", "X.csv", "-b", "b.csv", "--tangent", "b=-", stdin="1\n0\n",
                    cwd=folder).stdout) == [[1, 1], [0, 0]]
    both = ok(command, folder, "-W", "1 0; 0 1", "-X", "X.csv", "-b", "b.csv", "--tangent", "W=0 1; 0 0",
              "--tangent", "b=1; 1").stdout
    assert rows(both) == [[4, 5], [1, 1]]  # dW·X + db·1ᵀ
    assert rows(ok(command, folder, "-X", "X.csv", "-b", "b.csv").stdout) == [[0, 0], [0, 0]]
    refused(command, folder, "-X", "X.csv", "-b", "b.csv", "--tangent", "b=1 2 3")
    refused(command, folder, "-X", "X.csv", "-b", "b.csv", "--tangent", "Q=1")


@claim("--value", "Also output f, keyed f beside df", "json, npz and zarr always hold both")
def _value(command: str, folder: Path) -> None:
    assert set(json.loads(ok(command, folder, *base(command), "-f", "json").stdout)) == {"f", "df"}
    ok(command, folder, *base(command), "--value", "-o", "both.npz")
    with np.load(folder / "both.npz") as bundle:
        assert bundle["f"].tolist() == [[6, 7], [9, 10]] and bundle["df"].tolist() == [[5, 5], [6, 6]]
    assert rows(ok(command, folder, *base(command), "-f", "csv").stdout) == [[5, 5], [6, 6]]
    refused(command, folder, *base(command), "--value", "-f", "csv")  # csv holds one array


@claim("--transpose", "write the transpose")
def _transpose(command: str, folder: Path) -> None:
    ok(command, folder, *base(command), "--transpose")
    assert np.load(folder / "out.npy").tolist() == [[1, 3], [2, 4]]


@claim("source", "a path, or - for standard input")
def _convert_source(command: str, folder: Path) -> None:
    done = wxb(command, "-", "-o", "in.npy", stdin="1,2\n3,4\n", cwd=folder)
    assert done.returncode == 0 and np.load(folder / "in.npy").tolist() == [[1, 2], [3, 4]]


# ---- output ----

def _replaced(command: str, folder: Path, suffix: str) -> None:
    target = folder / f"real{suffix}"
    target.write_text("old")
    (folder / f"link{suffix}").symlink_to(target.name)
    ok(command, folder, *base(command), "-o", f"link{suffix}")
    assert (folder / f"link{suffix}").is_symlink() and target.read_text() != "old"
    ok(command, folder, *base(command), "-o", f"plain{suffix}")
    assert (folder / f"plain{suffix}").stat().st_size > 0


def _fifo(command: str, folder: Path, suffix: str) -> None:
    fifo = folder / f"pipe{suffix}"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    ok(command, folder, *base(command), "-o", str(fifo), *(["-f", "csv"] if suffix == ".csv" else []))
    reader.join(timeout=60)
    assert got and got[0]


SUFFIX = {"forward": ".csv", "backward": ".csv", "jvp": ".csv", "jacobian": ".txt", "check": ".txt", "explain": ".txt",
          "derive": ".txt", "demo": ".txt", "convert": ".npy", "hessian": ".csv"}


@claim("--output", "a symlink's target) is replaced atomically", "a FIFO, device or /dev/fd/N is written directly")
def _output(command: str, folder: Path) -> None:
    _replaced(command, folder, SUFFIX[command])
    _fifo(command, folder, SUFFIX[command])


@claim("--output-zarr", "NAME.zarr is a zarr store")
def _zarr(command: str, folder: Path) -> None:
    pytest.importorskip("zarr")
    extra = ["--dense"] if command == "jacobian" else []
    ok(command, folder, *base(command), *extra, "-o", "out.zarr")
    assert (folder / "out.zarr").is_dir()
    if command == "jacobian":
        refused(command, folder, *base(command), "-o", "structure.zarr")


@claim("convert-output", "The .npy file to write")
def _convert_output(command: str, folder: Path) -> None:
    ok(command, folder, *base(command))
    assert np.load(folder / "out.npy").tolist() == [[1, 2], [3, 4]]
    refused(command, folder, "X.csv", "-o", "out.csv")


@claim("--precision", "Significant digits shown in tables (1 to 17)")
def _precision(command: str, folder: Path) -> None:
    for digits in ("1", "17"):
        ok(command, folder, *base(command), "--precision", digits)
    for digits in ("0", "18"):
        assert wxb(command, *base(command), "--precision", digits, cwd=folder).returncode == 2


@claim("--pretty", "Indent JSON (one line without it)")
def _pretty(command: str, folder: Path) -> None:
    plain = ok(command, folder, *base(command), "-f", "json").stdout
    pretty = ok(command, folder, *base(command), "-f", "json", "--pretty").stdout
    assert plain.count("\n") == 1 and pretty.count("\n") > 1
    assert json.loads(plain) == json.loads(pretty)


@claim("--quiet", "No notes on stderr (warnings and errors stay)")
def _quiet(command: str, folder: Path) -> None:
    (folder / "named.csv").write_text("a,b\n1,2\n3,4\n")
    assert "note" in ok(command, folder, *source(command, "named.csv")).stderr
    assert ok(command, folder, *source(command, "named.csv"), "-q").stderr == ""
    assert wxb(command, *source(command, "missing.csv"), "-q", cwd=folder).stderr.startswith("wxb: error: ")


def on_terminal(command: str, folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """What the command writes to a real terminal (a pseudo-terminal 100 columns wide), as bytes decoded."""
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    environment = {**os.environ, "COLUMNS": "100", **(env or {})}
    environment.pop("NO_COLOR", None) if env is None or "NO_COLOR" not in env else None
    child = subprocess.Popen([sys.executable, "-m", "wxb.cli", command, *args], stdout=follower, stderr=follower,
                             stdin=subprocess.DEVNULL, cwd=folder, env=environment)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert child.wait(timeout=60) == 0, b"".join(chunks)
    return b"".join(chunks).decode()


# the others style text (bold, dim) but never colour
COLOURED = {"forward", "backward", "jvp", "jacobian", "hessian", "check", "demo"}
COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-8]|9[0-7]|4[0-8])[;m]")  # a foreground or background colour


@claim("--no-color", "No colour, as NO_COLOR=1 does")
def _no_color(command: str, folder: Path) -> None:
    args = [*base(command), *(["-G", "1 -1; 0 1"] if command in ("backward", "explain") else [])]
    if command == "demo":
        args = []
    coloured = on_terminal(command, folder, *args)
    assert bool(COLOUR.search(coloured)) == (command in COLOURED), coloured[:400]
    assert not COLOUR.search(on_terminal(command, folder, *args, "--no-color"))
    assert not COLOUR.search(on_terminal(command, folder, *args, env={"NO_COLOR": "1"}))


@claim("--chunk", "blocks of SIZE", "256MB, 1GB", "or off")
def _chunk(command: str, folder: Path) -> None:
    whole = ok(command, folder, *base(command), "-f", "csv").stdout
    for size in ("256MB", "1GB", "off", "16"):
        assert ok(command, folder, *base(command), "--chunk", size, "-f", "csv").stdout == whole, size


@claim("--dask", "Compute on Dask, on this machine's cores")
def _dask(command: str, folder: Path) -> None:
    pytest.importorskip("dask")
    whole = ok(command, folder, *base(command), "-f", "csv").stdout
    assert ok(command, folder, *base(command), "--dask", "-f", "csv").stdout == whole


@claim("--dask-in-memory", "this command computes in memory")
def _dask_in_memory(command: str, folder: Path) -> None:
    for switch in (["--dask"], ["--scheduler", "tcp://127.0.0.1:1"]):
        assert "computes in memory" in ok(command, folder, *base(command), *switch).stderr


@claim("--scheduler", "Compute on the Dask cluster at ADDRESS")
def _scheduler(command: str, folder: Path) -> None:
    # the cluster itself runs in tests/test_dask.py (private_cluster); here: the address is what it connects to
    pytest.importorskip("distributed")
    done = wxb(command, *base(command), "--scheduler", "tcp://127.0.0.1:1", cwd=folder, timeout=120)
    assert done.returncode == 2 and "127.0.0.1:1" in done.stderr


@claim("--format", "default: ")  # every value: tests/test_help.py
def _format(command: str, folder: Path) -> None:
    ok(command, folder, *base(command), "-f", "text" if command in ("demo", "check", "explain", "jacobian",
                                                                     "derive") else "csv")


@claim("--debug", "Show the Python traceback of an error")
def _debug(command: str, folder: Path) -> None:
    bad = ["missing.csv", "-o", "x.npy"] if command == "convert" else (
        ["-f", "nope"] if command == "demo" else ["-X", "missing.csv", "-b", "0"])
    plain = wxb(command, *bad, cwd=folder)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert "Traceback" in wxb(command, *bad, "--debug", cwd=folder).stderr


@claim("--claim", "'dL/dNAME = FORMULA'", "dNAME=SOURCE for numbers", "shapes (x=3 A=3x3)",
       "symbolic sizes (W=mxk)", "exit 1 if any claim is wrong")
def _claim(command: str, folder: Path) -> None:
    quad = ["-e", "x.T @ A @ x"]
    ok(command, folder, *quad, "--claim", "dL/dx = (A + A.T) @ x", "x=3", "A=3x3")
    ok(command, folder, *quad, "-c", "dL/dx = (A + A.T) @ x", "-c", "dL/dA = x @ x.T", "x=n", "A=nxn")
    ok(command, folder, "--claim", "db=2; 2", "-X", "1 2; 3 4", "-b", "5; 6")
    assert wxb(command, *quad, "--claim", "dL/dx = A @ x", "x=3", "A=3x3", cwd=folder).returncode == 1


@claim("--claims", "from FILE or - (stdin)", "wxb derive's own output is valid, its z = … lines included")
def _claims(command: str, folder: Path) -> None:
    expr = ["-e", "sum(tanh(W @ X) * tanh(W @ X))", "W=2x3", "X=3x4"]
    derived = ok("derive", folder, *expr).stdout
    assert "z" in derived.split("=")[0]
    (folder / "mine.txt").write_text(derived)
    ok(command, folder, *expr, "--claims", "mine.txt")
    assert wxb(command, *expr, "--claims", "-", stdin=derived, cwd=folder).returncode == 0


@claim("--assume", "symmetric, spd, diagonal or orthogonal")
def _assume(command: str, folder: Path) -> None:
    for kind in ("symmetric", "spd", "diagonal"):
        ok(command, folder, "-e", "x.T @ A @ x", "-c", "dL/dx = 2 * A @ x", "--assume", f"A={kind}", "x=3",
           "A=3x3")
    ok(command, folder, "-e", "sum(A @ x)", "-c", "dL/dx = A.T @ (x ** 0)", "--assume", "A=orthogonal", "x=3",
       "A=3x3")
    refused(command, folder, *base(command), "--assume", "W=symmetric")


@claim("derive-assume", "symmetric, spd, diagonal or orthogonal", "x.T @ A @ x with A symmetric: 2 * A @ x",
       "say so")
def _derive_assume(command: str, folder: Path) -> None:
    for kind in ("symmetric", "spd", "diagonal"):
        done = ok(command, folder, "-e", "x.T @ A @ x", "--assume", f"A={kind}", "x=n", "A=nxn", "--wrt", "x")
        assert done.stdout == f"# assuming A {kind}\ndL/dx = 2 * A @ x\n", done.stdout
    done = ok(command, folder, "-e", "logdet(Q)", "--assume", "Q=orthogonal", "Q=3x3")
    assert done.stdout == "# assuming Q orthogonal\ndL/dQ = Q\n", done.stdout
    plain = ok(command, folder, "-e", "x.T @ A @ x", "x=n", "A=nxn", "--wrt", "x")
    assert plain.stdout == "dL/dx = (A + A.T) @ x\n"
    refused(command, folder, "-e", "x.T @ A @ x", "x=n", "A=nxn", "--assume", "W=symmetric")


QUADRATIC = ["-e", "x.T @ A @ x", "x=1; 2", "A=2 1; 1 3", "--wrt", "x"]


@claim("--vector", "The direction v of H·v for operand NAME, of its shape", "repeat for several operands",
       "the others' v is 0")
def _vector(command: str, folder: Path) -> None:
    done = ok(command, folder, *QUADRATIC, "--vector", "x=1; 0", "-f", "csv")
    assert rows(done.stdout) == [[4], [2]]  # (A + Aᵀ)·e₀
    both = ["-e", "sum((W @ X + b) ** 2)", "W=1 0; 0 1", "X=1 0; 0 1", "b=0; 0", "--wrt", "W,b"]
    record = json.loads(ok(command, folder, *both, "--vector", "W=1 0; 0 0", "--vector", "b=0; 1",
                           "-f", "json").stdout)
    assert record == {"HvW": [[2.0, 0.0], [2.0, 2.0]], "Hvb": [[2.0], [4.0]]}
    alone = json.loads(ok(command, folder, *both, "--vector", "b=0; 1", "-f", "json").stdout)
    assert alone == {"HvW": [[0.0, 0.0], [2.0, 2.0]], "Hvb": [[0.0], [4.0]]}  # v for W is 0
    refused(command, folder, *QUADRATIC, "--vector", "x=1; 0; 0")


@claim("--eig", "the extreme eigenvalues of H", "its definiteness here", "its condition number",
       "eigvalsh where H fits", "else Lanczos on H·v")
def _eig(command: str, folder: Path) -> None:
    summary = json.loads(ok(command, folder, "-e", "x.T @ A @ x", "x=1; 2", "A=1 0; 0 3", "--wrt", "x", "--eig",
                            "-f", "json").stdout)
    assert (summary["smallest"], summary["largest"], summary["condition"]) == (2.0, 6.0, 3.0)
    assert summary["definiteness"] == "positive definite" and summary["method"].startswith("eigvalsh")
    text = ok(command, folder, "-e", "x.T @ A @ x", "x=1; 2", "A=1 0; 0 -1", "--wrt", "x", "--eig").stdout
    assert "indefinite" in text
    np.save(folder / "W.npy", np.ones((60, 60)))
    large = json.loads(ok(command, folder, "-e", "sum(W ** 2)", "W=W.npy", "--eig", "-f", "json").stdout)
    assert large["method"].startswith("Lanczos") and abs(large["largest"] - 2.0) < 1e-9


@claim("--order", "1: the gradient", "2: the Hessian, as its action on V (d²L/dθ² · V) for derive",
       "H·v against differences of the gradient for check")
def _order(command: str, folder: Path) -> None:
    quad = ["-e", "x.T @ A @ x", "x=3", "A=3x3", "--wrt", "x"] if command == "derive" else QUADRATIC
    first = ok(command, folder, *quad, "--order", "1").stdout
    second = ok(command, folder, *quad, "--order", "2").stdout
    assert first == ok(command, folder, *quad).stdout
    if command == "derive":
        assert first.startswith("dL/dx = ") and second.startswith("d²L/dx² · V = (A + A.T) @ V")
    else:
        assert "H·v" in second and "H·v" not in first and "pass" in second
    assert wxb(command, *quad, "--order", "3", cwd=folder).returncode == 2


# Which claim each (command, option) is held to, where the name differs by command.
SPECIAL = {("derive", "bindings"): "derive-bindings", ("derive", "--loss"): "derive-loss",
           ("derive", "--assume"): "derive-assume",
           ("jacobian", "--wrt"): "jacobian-wrt", ("convert", "--output"): "convert-output"}
for _command in ("forward", "jvp", "jacobian", "derive"):
    SPECIAL[(_command, "-T")] = "-T-operand"
for _command in ("jvp", "jacobian", "hessian", "check", "explain"):
    SPECIAL[(_command, "--dask")] = SPECIAL[(_command, "--scheduler")] = "--dask-in-memory"
ALSO = {("forward", "--output"): ["--output-zarr"], ("backward", "--output"): ["--output-zarr"],
        ("jvp", "--output"): ["--output-zarr"],
        ("jacobian", "--output"): ["--output-zarr"]}


def options_of(command: str) -> list[tuple[str, str]]:
    """Each parameter of the command: its first name (or 'bindings'/'source' for the arguments) and its help."""
    sub = COMMAND.commands[command]  # type: ignore[attr-defined]
    found = []
    for param in sub.params:
        name = param.opts[0] if param.param_type_name == "option" else (
            "source" if command == "convert" else "bindings")
        if name in ("--help",):
            continue
        found.append((name, " ".join((getattr(param, "help", None) or "").split())))
    return found


CASES = [(command, name, key, help_text)
         for command in COMMAND.commands  # type: ignore[attr-defined]
         for name, help_text in options_of(command)
         for key in [SPECIAL.get((command, name), name), *ALSO.get((command, name), [])]]


def test_every_option_of_every_command_has_a_claim() -> None:
    missing = [(command, key) for command, _, key, _ in CASES if key not in CLAIMS]
    assert not missing, f"options with no claim in tests/test_option_texts.py: {missing}"


@pytest.mark.parametrize(("command", "name", "key", "help_text"), [c for c in CASES if c[2] in CLAIMS],
                         ids=[f"{c[0]}{c[1]}:{c[2]}" for c in CASES if c[2] in CLAIMS])
def test_the_option_text_is_true_on_the_command(command: str, name: str, key: str, help_text: str,
                                                tmp_path: Path) -> None:
    files(tmp_path)
    for held in CLAIMS[key]:
        for words in held.words:
            assert words in help_text, (command, name, words)
        held.run(command, tmp_path)


def test_the_loss_choices_are_the_table_of_losses() -> None:
    from wxb.cli.options import FormulaLoss, Loss
    from wxb.core import LOSSES

    assert [loss.value for loss in Loss] == list(LOSSES)
    assert [loss.value for loss in FormulaLoss] == [name for name, row in LOSSES.items() if not row.needs_target]
