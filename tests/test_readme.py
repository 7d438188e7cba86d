"""The README's promises: its Python session runs as written, and its shell examples print what it shows."""

from __future__ import annotations

import doctest
import math
import re
import shlex

import pytest
from conftest import ROOT, wxb

README = ROOT / "README.md"


def test_use_from_python_session_runs_as_written() -> None:
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


def shell_examples() -> list[tuple[str, str]]:
    """(command, shown output) for every ```-fenced block that starts with `$ wxb`."""
    blocks = re.findall(r"```\n(\$ wxb [^\n]*)\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return [(command[2:], output) for command, output in blocks]


@pytest.mark.parametrize(("command", "shown"), shell_examples(), ids=lambda value: str(value)[:40])
def test_shell_example_prints_what_the_readme_shows(command: str, shown: str) -> None:
    args = shlex.split(command.removesuffix(" | cat"))
    env = {"NO_COLOR": "1", "FORCE_COLOR": "", "TERM": "xterm"}
    # The README shows what a terminal shows: a table, unless the output is data or an error.
    as_shown = args[1] == "demo" or "--format" in args or re.match(r"[-\d\[{]|wxb: error", shown.lstrip()) is not None
    extra = [] if as_shown else ["--format", "table"]
    done = wxb(*args[1:], *extra, env=env)
    printed = (done.stdout + done.stderr).rstrip()
    assert same_up_to_rounding(printed, shown.rstrip())


NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def same_up_to_rounding(printed: str, shown: str) -> bool:
    """The same text line for line, numbers with a fraction equal to 1e-12 relative: the README shows one
    machine's digits, and OpenBLAS sums in a CPU-dependent order, so the last digit of a product may differ."""
    got = [line.rstrip() for line in printed.splitlines()]
    want = [line.rstrip() for line in shown.splitlines()]
    if [NUMBER.sub("#", line) for line in got] != [NUMBER.sub("#", line) for line in want]:
        return got == want  # an assertion that shows the difference
    pairs = zip(NUMBER.findall(printed), NUMBER.findall(shown), strict=True)
    return all(math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-300) for a, b in pairs)
