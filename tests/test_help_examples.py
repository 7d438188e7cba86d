"""Every command's --help teaches by 3 to 5 examples, from the simplest to the most useful: each runs as it is in
an empty folder (literals, or files an earlier line of the same example makes), fits an 80-column terminal, and
the numbers its description promises are the numbers it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from conftest import shell

from wxb.cli.app import app

COMMANDS = ["forward", "backward", "jvp", "jacobian", "hessian", "check", "explain", "derive", "convert", "demo"]
WIDTH = 76  # an 80-column terminal, less Rich's margins: no example line wraps


def examples(command: str) -> list[tuple[list[str], str]]:
    """The examples in a command's help, each as its `$ ` lines and the description under them."""
    help_text = typer.main.get_command(app).commands[command].help or ""  # type: ignore[attr-defined]
    found: list[tuple[list[str], str]] = []
    lines: list[str] = []
    for raw in help_text.splitlines():
        text = raw.strip()
        if text.startswith("$ "):
            if lines and found and found[-1][0] is lines:
                lines = []
            lines.append(text[2:])
        elif lines and text:
            found.append((lines, text))
            lines = []
    return found


def promised_rows(description: str) -> list[str]:
    """The rows a description promises, written `6,7 / 9,10` (csv rows, as a pipe gets them)."""
    match = re.search(r":\s((?:-?[\d.]+,)*-?[\d.]+(?: / (?:-?[\d.]+,)*-?[\d.]+)*)$", description)
    return match.group(1).split(" / ") if match else []


def number_rows(text: str) -> list[list[float]]:
    return [[float(cell) for cell in line.split(",")] for line in text.splitlines()
            if re.fullmatch(r"(-?[\d.e+-]+,)*-?[\d.e+-]+", line.strip())]


def test_every_command_is_listed() -> None:
    """A new command's examples run here too."""
    assert set(COMMANDS) == set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_three_to_five_examples_that_fit_the_terminal(command: str) -> None:
    found = examples(command)
    assert 3 <= len(found) <= 5, [lines for lines, _ in found]
    for lines, description in found:
        assert all(line.startswith(("wxb ", "echo ", "printf ")) for line in lines), lines
        assert any(f"wxb {command}" in line for line in lines)
        assert all(len(f"$ {line}") <= WIDTH for line in lines), lines
        assert len(f"    {description}") <= WIDTH, description


CASES = [(command, i) for command in COMMANDS for i in range(len(examples(command)))]


@pytest.mark.parametrize(("command", "index"), CASES, ids=[f"{c}-{i}" for c, i in CASES])
def test_each_example_runs_in_an_empty_folder_and_prints_what_it_promises(command: str, index: int,
                                                                         tmp_path: Path) -> None:
    lines, description = examples(command)[index]
    done = shell(" && ".join(line.replace("\\\\", "\\") for line in lines), cwd=tmp_path)
    assert done.returncode == (1 if "(exit 1)" in description else 0), (lines, done.stderr)
    assert "Traceback" not in done.stderr
    promised = promised_rows(description)
    if promised:
        expected = [[float(cell) for cell in row.split(",")] for row in promised]
        assert number_rows(done.stdout) == expected, (lines, done.stdout)
