"""The descriptive commands (explain, the Jacobian's structure, check, demo) in pipes, in files and on a
terminal, as real processes; explain's markdown and LaTeX; scalar, 1-D and 0-size operands in every command
and format; and odd inputs a hostile user tries.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, WXB, shell, wxb

SEED = ("-X", "1 2; 3 4", "-b", "5; 6")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# An expression long enough that explain writes more than a pipe holds (so `| head` really closes early).
LONG = " + ".join(["tanh(W)"] * 150)

Completed = subprocess.CompletedProcess


def on_terminal(*args: str, columns: int = 100, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """wxb with stdout on a pseudo-terminal of the given width: exit status, what it drew, stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen([*WXB, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                               cwd=ROOT, env={**os.environ, "COLUMNS": str(columns), **(env or {})})
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    status = process.wait(timeout=60)
    os.close(master)
    return status, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n"), err


def quiet_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "Broken pipe" not in stderr and "BrokenPipe" not in stderr
    assert stderr == "", stderr


# ---- pipes that close early ----

@pytest.mark.parametrize("args", [
    f'explain {" ".join(repr(a) for a in SEED)}',
    f'explain -e "{LONG}" W="1 2; 3 4"',
    f'explain -e "{LONG}" W="1 2; 3 4" --format json --pretty',
    f'explain -e "{LONG}" W="1 2; 3 4" --format latex',
    f'jacobian -e "{LONG}" W="1 2; 3 4"',
    "demo",
], ids=["small", "long text", "long json", "long latex", "jacobian", "demo"])
def test_head_closes_the_pipe_quietly(args: str, tmp_path: Path) -> None:
    done = shell(f"wxb {args} 2>{tmp_path / 'err'} | head -3; echo ${{PIPESTATUS[0]}} >{tmp_path / 'rc'}")
    assert len(done.stdout.splitlines()) == 3
    assert (tmp_path / "rc").read_text().strip() in ("0", "141")  # 141: 128 + SIGPIPE
    quiet_stderr((tmp_path / "err").read_text())


def test_reader_that_stops_at_once_with_sigpipe_ignored() -> None:
    """A parent that ignores SIGPIPE (restore_signals=False): wxb sees EPIPE and still leaves quietly."""
    process = subprocess.Popen([*WXB, "explain", "-e", LONG, "W=1 2; 3 4"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, restore_signals=False, cwd=ROOT)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) in (0, -13, 141)
    quiet_stderr(err)


# ---- plain text in pipes and files ----

@pytest.mark.parametrize("command", [
    ("explain", *SEED),
    ("explain", "-e", "tanh(W @ X + b)", "-W", "1 -1; 2 0", *SEED),
    ("jacobian", *SEED),
    ("check", *SEED),
    ("demo",),
], ids=["explain", "explain -e", "jacobian", "check", "demo"])
def test_descriptive_command_through_cat_is_plain_text(command: tuple[str, ...]) -> None:
    quoted = " ".join(f"'{part}'" for part in command)
    done = shell(f"wxb {quoted} | cat", env={"FORCE_COLOR": "", "TERM": "xterm-256color"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "\x1b[" not in done.stdout
    assert "has no csv form" not in done.stderr
    quiet_stderr(done.stderr)


@pytest.mark.parametrize("command", [("explain", *SEED), ("jacobian", *SEED), ("check", *SEED), ("demo",)],
                         ids=["explain", "jacobian", "check", "demo"])
def test_pipe_shows_the_text_a_terminal_shows_without_colour(command: tuple[str, ...]) -> None:
    status, drawn, err = on_terminal(*command)
    assert status == 0, err
    piped = wxb(*command)
    assert piped.returncode == 0, piped.stderr

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.rstrip().splitlines()]

    assert lines(ANSI.sub("", drawn)) == lines(piped.stdout)


def test_jacobian_redirected_to_a_file_holds_the_structure(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    done = shell(f'wxb jacobian -X "1 2; 3 4" -b "5; 6" > {notes}')
    assert done.returncode == 0, done.stderr
    text = notes.read_text()
    assert "Jacobian of f with respect to b" in text
    assert "1₂ ⊗ I₂" in text
    assert "\x1b[" not in text


def test_jacobian_output_option_txt_is_the_same_text(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    done = wxb("jacobian", *SEED, "-o", str(notes))
    assert done.returncode == 0, done.stderr
    assert notes.read_text().rstrip() == wxb("jacobian", *SEED).stdout.rstrip()


def test_explain_into_a_pager_like_consumer() -> None:
    """`| less` reads everything; `less -FX` style consumers get plain text."""
    done = shell('wxb explain -X "1 2; 3 4" -b "5; 6" | tee /dev/null | wc -l')
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 10


def test_check_and_demo_exit_statuses_in_a_pipe() -> None:
    assert shell('wxb check -X "1 2; 3 4" -b "5; 6" | grep -q pass').returncode == 0
    assert shell("wxb demo | grep -q 'G·1'").returncode == 0


def test_check_json_and_csv_in_a_pipe() -> None:
    done = shell("wxb check -X '1 2; 3 4' -b '5; 6' --format json | cat")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passed"] is True
    done = shell("wxb check -X '1 2; 3 4' -b '5; 6' --format csv | cat")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("operand,")


# ---- explain's markdown and LaTeX ----

def test_explain_markdown_by_format_and_by_suffix(tmp_path: Path) -> None:
    by_format = wxb("explain", *SEED, "--format", "markdown")
    assert by_format.returncode == 0, by_format.stderr
    out = tmp_path / "out.md"
    by_suffix = wxb("explain", *SEED, "-o", str(out))
    assert by_suffix.returncode == 0, by_suffix.stderr
    for text in (by_format.stdout, out.read_text()):
        assert "$$" in text
        assert "\\begin{bmatrix}" in text
        assert "\x1b[" not in text
    assert out.read_text().rstrip() == by_format.stdout.rstrip()


def test_explain_latex_by_format_and_by_suffix(tmp_path: Path) -> None:
    by_format = wxb("explain", *SEED, "--format", "latex")
    assert by_format.returncode == 0, by_format.stderr
    out = tmp_path / "derivation.tex"
    assert wxb("explain", *SEED, "-o", str(out)).returncode == 0
    for text in (by_format.stdout, out.read_text()):
        assert "\\[" in text and "\\]" in text
        assert "\\begin{bmatrix}" in text
    assert out.read_text().rstrip() == by_format.stdout.rstrip()


def test_explain_json_by_suffix(tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    assert wxb("explain", *SEED, "-o", str(out)).returncode == 0
    assert json.loads(out.read_text())["steps"]


def test_explain_latex_has_no_double_subscripts() -> None:
    """An operand named bias_long_name must not become bias_{long}_name (LaTeX and MathJax: 'Double
    subscript')."""
    done = wxb("explain", "-e", "w_in @ x_0 + bias_long_name", "w_in=1 2; 3 4", "x_0=1; 2",
               "bias_long_name=0.5; 1", "--format", "latex")
    assert done.returncode == 0, done.stderr
    doubled = [line.strip() for line in done.stdout.splitlines() if re.search(r"_\{[^}]*\}_", line)]
    assert doubled == []


def test_explain_latex_needs_only_amsmath() -> None:
    """The header promises amsmath is enough; pdflatex refuses ∂, ⊕, ⊗, δ or ₂ outside a unicode setup."""
    done = wxb("explain", *SEED, "--format", "latex")
    assert done.returncode == 0, done.stderr
    outside = sorted({char for char in done.stdout if ord(char) > 127})
    assert outside == [], outside


# ---- scalars, 1-D and 0-size operands in every command and format ----

SHAPES = {
    "scalars": ("-X", "3", "-b", "1"),
    "1-D W": ("-W", "[1, 2]", "-X", "1 2; 3 4", "-b", "1"),
    "1-D X": ("-W", "1 2; 3 4", "-X", "[1, 2]", "-b", "[5, 6]"),
    "0-size": ("-X", "[[]]", "-b", "[1]"),
    "0-size W": ("-W", "[[], []]", "-X", "[[]]", "-b", "[1, 2]"),
}
FORMATS = {
    "forward": ("csv", "json", "npy"),
    "backward": ("csv", "json", "npy"),
    "jacobian": ("text", "json"),
    "check": ("text", "csv", "json"),
    "explain": ("text", "json", "markdown", "latex"),
}
GRID = [(shape, command, fmt) for shape in SHAPES for command, formats in FORMATS.items() for fmt in formats]


def clean_exit(done: Completed[Any]) -> None:
    """Exit 0, or a clean one-line refusal (exit 2) when the maths has nothing to say."""
    stderr = done.stderr if isinstance(done.stderr, str) else done.stderr.decode()
    assert "Traceback" not in stderr
    assert done.returncode in (0, 2), stderr
    if done.returncode == 2:
        assert len(stderr.splitlines()) == 1 and stderr.startswith("wxb: error: "), stderr


@pytest.mark.parametrize(("shape", "command", "fmt"), GRID, ids=[" ".join(case) for case in GRID])
def test_small_shapes_in_every_command_and_format(shape: str, command: str, fmt: str) -> None:
    done = subprocess.run([*WXB, command, *SHAPES[shape], "--format", fmt], capture_output=True, timeout=60,
                          cwd=ROOT)
    clean_exit(done)
    if done.returncode == 0 and fmt == "json":
        json.loads(done.stdout)


@pytest.mark.parametrize("shape", SHAPES)
def test_small_shapes_in_every_command_on_a_terminal(shape: str) -> None:
    for command in FORMATS:
        status, drawn, err = on_terminal(command, *SHAPES[shape])
        assert "Traceback" not in err and "Traceback" not in drawn
        assert status in (0, 2), err
        assert status == 0 or len(err.splitlines()) == 1, err


def test_scalar_explain_on_a_narrow_terminal() -> None:
    status, drawn, err = on_terminal("explain", "-X", "3", "-b", "1", columns=40)
    assert status == 0, err
    assert "Traceback" not in drawn and "wxb: error" not in err


def test_scalar_forward_and_backward_values() -> None:
    assert json.loads(wxb("forward", "-X", "3", "-b", "1", "--format", "json").stdout) == 4.0
    assert json.loads(wxb("backward", "-X", "3", "-b", "1", "--format", "json").stdout) == 1.0


def test_zero_size_values() -> None:
    assert json.loads(wxb("forward", "-X", "[[]]", "-b", "[1]", "--format", "json").stdout) == [[]]
    grads = json.loads(wxb("backward", "-X", "[[]]", "-b", "[1]", "--wrt", "all", "--format", "json").stdout)
    assert set(grads) == {"dX", "db"}
    assert np.asarray(grads["db"]).tolist() == [0.0]  # G·1 sums no columns


def test_explain_json_reports_a_scalar_bias_broadcast_as_a_number() -> None:
    record = json.loads(wxb("explain", "-X", "3", "-b", "1", "--format", "json").stdout)
    arrays = {name: value for step in record["steps"] for name, value in step["arrays"].items()}
    assert arrays["b"] == 1.0
    assert arrays["B"] == 1.0
    assert arrays["f"] == 4.0


# ---- hostile inputs ----

def test_narrow_terminal_and_no_color() -> None:
    status, drawn, err = on_terminal("explain", *SEED, columns=40, env={"NO_COLOR": "1"})
    assert status == 0, err
    assert not re.search(r"\x1b\[(3[0-7]|38|9[0-7])", drawn)  # no colour codes, only styles
    assert all(len(line) <= 40 for line in ANSI.sub("", drawn).splitlines())


def test_term_dumb_gets_no_escapes() -> None:
    status, drawn, err = on_terminal("check", *SEED, env={"TERM": "dumb"})
    assert status == 0, err
    assert "\x1b[" not in drawn


def test_huge_and_tiny_magnitudes_in_explain_formats() -> None:
    operands = ("-X", "1e-320 1e308; -1e308 5e-324", "-b", "1e308; -0.0")
    for fmt in ("text", "json", "markdown", "latex"):
        done = wxb("explain", *operands, "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    latex = wxb("explain", *operands, "--format", "latex").stdout
    assert "\\infty" in latex  # 1e308 + 1e308 overflows


def test_descriptive_output_to_a_binary_suffix_is_refused(tmp_path: Path) -> None:
    """`-f npy` is refused for the structure text; `-o J.npy` must not write text into a .npy file."""
    for command in (("jacobian", *SEED), ("explain", *SEED), ("check", *SEED), ("demo",)):
        out = tmp_path / "result.npy"
        done = wxb(*command, "-o", str(out))
        if done.returncode == 0:
            assert out.read_bytes()[:6] == b"\x93NUMPY", f"{command[0]} -o result.npy wrote text"
        else:
            clean_exit(done)
            assert not out.exists()


def test_demo_help_lists_only_formats_it_accepts() -> None:
    helptext = wxb("demo", "--help").stdout
    for fmt in ("csv", "tsv", "json", "npy", "npz"):
        if re.search(rf"\b{fmt}\b", helptext):
            assert wxb("demo", "--format", fmt).returncode == 0, fmt


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_explain_display_maths_holds_no_bare_english(fmt: str) -> None:
    """Words inside \\[ … \\] or $$ … $$ need \\text{…}; bare, 'for each batch index' sets as one italic product
    of letters."""
    done = wxb("explain", "-e", "W @ X", "W=[[[1,2],[3,4]],[[5,6],[7,8]]]", "X=1 0; 0 1", "--format", fmt)
    assert done.returncode == 0, done.stderr
    pattern = r"\\\[(.*?)\\\]" if fmt == "latex" else r"\$\$(.*?)\$\$"
    blocks = re.findall(pattern, done.stdout, flags=re.S)
    assert blocks
    bare = [block.strip() for block in blocks
            if re.search(r"\b(for|each|batch|index|shared|along)\b", re.sub(r"\\text\{[^}]*\}", "", block))]
    assert bare == []


@pytest.mark.parametrize("name", ["steps.latex", "x.html"])
def test_explain_refuses_an_unknown_suffix_listing_the_known_ones(tmp_path: Path, name: str) -> None:
    done = wxb("explain", *SEED, "-o", str(tmp_path / name))
    assert done.returncode == 2 and not (tmp_path / name).exists()
    [line] = done.stderr.splitlines()
    assert line.startswith("wxb: error: ") and ".tex" in line and ".md" in line and "-o" in line, line


def test_check_blames_the_suffix_not_format_when_no_format_was_given(tmp_path: Path) -> None:
    done = wxb("check", *SEED, "-o", str(tmp_path / "r.npy"))
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "--format" not in line.split("(hint")[0] and "-o" in line, line


def test_the_jacobians_entry_rule_keeps_its_indices_in_text() -> None:
    done = wxb("jacobian", "-X", "1 2; 3 4", "-W", "1 2; 3 4", "-b", "[1, 1]", "--wrt", "W", "--format", "text")
    assert "∂f[i,j]/∂W[p,q] = δ(i,p)·X[q,j]" in done.stdout.replace("\n", " ")
