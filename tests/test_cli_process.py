"""wxb as a real process: pipes between commands, exit statuses, closed pipes, interrupts, terminal colour."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import WXB, shell
from conftest import wxb as run_wxb

SEED = ["-X", "1 2; 3 4", "-b", "5; 6"]
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


Completed = subprocess.CompletedProcess


def wxb(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Completed[bytes]:
    """wxb as a process, its streams as bytes."""
    return run_wxb(*args, stdin=stdin, env=env, text=False)


def test_forward_csv_on_stdout() -> None:
    done = wxb("forward", *SEED)
    assert done.returncode == 0
    assert done.stderr == b""
    assert np.loadtxt(io.BytesIO(done.stdout), delimiter=",").tolist() == [[6, 7], [9, 10]]


def test_npy_pipe_from_forward_into_backward() -> None:
    done = shell('wxb forward -X "1 2; 3 4" -b "5; 6" --format npy | wxb backward -X "1 2; 3 4" -b "5; 6" -G -')
    assert done.returncode == 0, done.stderr
    # G = f = [[6,7],[9,10]], so dL/db = G·1 = [13; 19]
    assert np.loadtxt(io.StringIO(done.stdout), delimiter=",").tolist() == [13, 19]


def test_csv_pipe_between_commands() -> None:
    done = shell('wxb forward -X "1 2; 3 4" -b "5; 6" | wxb forward -X - -b "[1, 1]" --format json')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[7, 8], [10, 11]]


def test_backward_all_to_npz_file(tmp_path: Path) -> None:
    out = tmp_path / "grads.npz"
    dense = SAMPLES / "dense"
    done = wxb("backward", "--from", str(dense / "layer.npz"), "--wrt", "all", "-o", str(out))
    assert done.returncode == 0, done.stderr
    with np.load(out) as grads, np.load(dense / "layer.npz") as z:
        assert sorted(grads.files) == ["dW", "dX", "db"]
        np.testing.assert_allclose(grads["db"], z["G"].sum(axis=1, keepdims=True))
        np.testing.assert_allclose(grads["dW"], z["G"] @ z["X"].T)


def test_jacobian_dense_round_trips_through_a_pipe() -> None:
    done = shell('wxb jacobian -X "1 2; 3 4" -b "[5, 6]" --dense --format npy | wxb forward -X - -b 0 --format json')
    assert done.returncode == 0, done.stderr
    assert np.array(json.loads(done.stdout)).shape == (2, 2, 2)


def test_check_and_explain_and_demo_run_as_processes() -> None:
    assert wxb("check", *SEED, "--format", "csv").returncode == 0
    explained = wxb("explain", *SEED, "--format", "json")
    assert explained.returncode == 0 and b"steps" in explained.stdout
    demo = wxb("demo")
    assert demo.returncode == 0 and b"dL/db" in demo.stdout


def test_check_exits_one_when_finite_differences_cannot_confirm_a_gradient() -> None:
    done = wxb("check", "-W", "1 2", "-X", "nan; 1", "-b", "1", "--format", "csv")
    assert done.returncode == 1
    assert b",fail,NaN" in done.stdout


def test_input_error_is_one_line_and_status_two(tmp_path: Path) -> None:
    done = wxb("forward", "-X", str(tmp_path / "missing.csv"), "-b", "1")
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wxb: error: ")
    assert "Traceback" not in done.stderr.decode()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = wxb("forward", "-X", "1 2; 3 4", "-b", "1 2 3", "--debug")
    assert done.returncode != 0
    assert "Traceback" in done.stderr.decode()


@pytest.mark.parametrize(("args", "fragment"), [
    (["forward", "--no-such-option"], "--no-such-option"),
    (["backward", "-X", "1", "-b", "1", "--wrt", "foo"], "--wrt"),
    (["forward", "-X"], "-X"),
    (["no-such-command"], "no-such-command"),
])
def test_usage_error_is_one_line_and_status_two(args: list[str], fragment: str) -> None:
    done = wxb(*args)
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wxb: error: ")
    assert fragment in lines[0]


def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    np.save(tmp_path / "X.npy", np.arange(200_000.0).reshape(2000, 100))
    done = shell(f"wxb forward -X {tmp_path / 'X.npy'} -b 1 | head -1")
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1


def wait_until_reading_stdin(pid: int, timeout: float = 60.0) -> None:
    """Wait until the process is blocked in read(0, …) (a loaded machine may take seconds to start Python)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            call = Path(f"/proc/{pid}/syscall").read_text().split()
        except OSError:
            call = []
        if call[:2] == ["0", "0x0"]:  # read (syscall 0 on x86-64 and the generic table's 63 below) on fd 0
            return
        if call[:2] == ["63", "0x0"]:
            return
        time.sleep(0.05)
    pytest.fail("wxb never blocked reading standard input")


def test_interrupt_exits_130_without_traceback() -> None:
    process = subprocess.Popen([*WXB, "forward", "-X", "-", "-b", "1"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until_reading_stdin(process.pid)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert b"Traceback" not in err


def test_version() -> None:
    done = wxb("--version")
    assert done.returncode == 0 and done.stdout.startswith(b"wxb ")


COLOUR = b"\x1b[3"  # the start of a foreground-colour escape


def test_terminal_rendering_is_coloured_when_forced() -> None:
    done = wxb("forward", *SEED, "--format", "table", env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert done.returncode == 0
    assert COLOUR in done.stdout


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_colour_when_asked_even_on_a_forced_terminal(env: dict[str, str]) -> None:
    done = wxb("forward", *SEED, "--format", "table", env={"FORCE_COLOR": "1", "TERM": "xterm-256color", **env})
    assert done.returncode == 0
    assert b"10" in done.stdout
    assert COLOUR not in done.stdout


def test_bare_wxb_prints_a_short_usage_on_stderr_and_exits_2() -> None:
    done = wxb()
    assert done.returncode == 2 and done.stdout == b""
    usage = done.stderr.decode()
    assert usage.startswith("usage: wxb ") and len(usage.splitlines()) <= 15
    for command in ("forward", "backward", "jacobian", "check", "explain", "demo", "wxb --help"):
        assert command in usage


def test_notes_never_reach_stdout_when_stderr_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "pd.csv"
    path.write_text(",0,1\n0,1.5,2.0\n1,3.0,4.0\n")
    done = shell(f'wxb forward -X "{path}" -b 0 2>&-')
    assert done.stdout == "1.5,2.0\n3.0,4.0\n"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["forward", "-X", "1", "-X", "2", "-b", "0"], "-X/--input"),
        (["forward", "-X1", "--input=2", "-b", "0"], "-X/--input"),
        (["backward", "-X", "1", "-b", "0", "--header", "--no-header"], "--header/--no-header"),
        (["backward", "-X", "1", "-b", "0", "-l", "sum", "--loss=mean"], "--loss/-l"),
        (["check", "-e", "2 * A", "A=1", "-p", "3", "-p4"], "--precision/-p"),
    ],
)
def test_an_option_given_twice_is_refused_by_its_names(args: list[str], named: str) -> None:
    done = wxb(*args)
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode() == f"wxb: error: {named} is given more than once (hint: give each option once)\n"


def test_an_option_after_the_end_of_options_is_a_value_not_a_repeat() -> None:
    done = wxb("forward", "-X", "1", "-b", "0", "--", "-X")
    assert done.stderr.decode().startswith("wxb: error: expected NAME=SOURCE, got '-X'")
