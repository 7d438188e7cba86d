"""The README's and the manual's promises: their Python sessions run as written, their shell examples print what
they show, and the manual builds without a warning."""

from __future__ import annotations

import doctest
import importlib.util
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, shell, wxb

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
SESSIONS = [page for page in PAGES if "```python\n>>> " in page.read_text()]


def test_the_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", SESSIONS, ids=lambda page: str(page.relative_to(ROOT)))
def test_python_session_runs_as_written(page: Path) -> None:
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3
    assert result.failed == 0


def test_the_python_sessions_are_found() -> None:
    assert README in SESSIONS and ROOT / "docs" / "reference" / "python.md" in SESSIONS


def shell_examples() -> list[tuple[str, str, str]]:
    """(page, command, shown output) for every ```-fenced block that starts with `$ wxb`."""
    found = []
    for page in PAGES:
        blocks = re.findall(r"```\n(\$ wxb [^\n]*)\n(.*?)```", page.read_text(), flags=re.DOTALL)
        found += [(str(page.relative_to(ROOT)), command[2:], output) for command, output in blocks]
    return found


EXAMPLES = shell_examples()


def test_every_page_with_examples_is_collected() -> None:
    pages = {page for page, _, _ in EXAMPLES}
    assert {"README.md", "docs/tutorial/first-gradient.md", "docs/reference/commands.md"} <= pages


@pytest.mark.parametrize(("page", "command", "shown"), EXAMPLES, ids=lambda value: str(value)[:40])
def test_shell_example_prints_what_the_page_shows(page: str, command: str, shown: str) -> None:
    env = {"NO_COLOR": "1", "FORCE_COLOR": "", "TERM": "xterm"}
    if " | " in command.removesuffix(" | cat"):  # a pipeline: run by bash, as a reader would paste it
        done = shell(command, env=env)
    else:
        args = shlex.split(command.removesuffix(" | cat"))
        # The page shows what a terminal shows: a table, unless the output is data or an error.
        as_shown = (args[1] in ("demo", "help") or "--format" in args or command.endswith(" | cat")
                    or re.match(r"[-\d\[{]|wxb: error", shown.lstrip()) is not None)
        extra = [] if as_shown else ["--format", "table"]
        done = wxb(*args[1:], *extra, env=env)
    printed = (done.stdout + done.stderr).rstrip()
    assert same_up_to_rounding(printed, shown.rstrip())


NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def same_up_to_rounding(printed: str, shown: str) -> bool:
    """The same text line for line, numbers with a fraction equal to 1e-12 relative: the page shows one
    machine's digits, and OpenBLAS sums in a CPU-dependent order, so the last digit of a product may differ."""
    got = [line.rstrip() for line in printed.splitlines()]
    want = [line.rstrip() for line in shown.splitlines()]
    if [NUMBER.sub("#", line) for line in got] != [NUMBER.sub("#", line) for line in want]:
        return got == want  # an assertion that shows the difference
    pairs = zip(NUMBER.findall(printed), NUMBER.findall(shown), strict=True)
    return all(math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-300) for a, b in pairs)


def test_same_up_to_rounding_tells_text_apart() -> None:
    assert same_up_to_rounding("dL/db 0.30000000000000004", "dL/db 0.3")
    assert not same_up_to_rounding("dL/db 0.31", "dL/db 0.3")
    assert not same_up_to_rounding("dL/dW 0.3", "dL/db 0.3")


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed (the docs extra)")
def test_the_manual_builds_without_a_warning(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                           capture_output=True, text=True, cwd=ROOT, timeout=120, env={"NO_MKDOCS_2_WARNING": "1",
                                                                                        "PATH": "/usr/bin:/bin"})
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "tutorial" / "first-gradient" / "index.html").is_file()
