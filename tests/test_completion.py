"""Shell completion through the real console script: the completion protocol reaches Click before wxb's short
usage, in bash and zsh, and help topics read from the table of primitives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WXB = Path(sys.executable).with_name("wxb")


def complete(shell: str, words: str, cword: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "_WXB_COMPLETE": f"complete_{shell}", "COMP_WORDS": words, "COMP_CWORD": str(cword),
           "_TYPER_COMPLETE_ARGS": words}
    return subprocess.run([str(WXB)], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_a_command_name_completes_without_the_usage(shell: str) -> None:
    done = complete(shell, "wxb ba", 1)
    assert done.returncode == 0
    assert "backward" in done.stdout and "usage" not in (done.stdout + done.stderr).lower()


def test_bash_completes_an_option_of_a_command() -> None:
    done = complete("bash", "wxb forward --for", 2)
    assert done.returncode == 0 and "--format" in done.stdout


def test_show_completion_names_the_shell_asked_for() -> None:
    done = subprocess.run([str(WXB), "--show-completion", "fish"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "complete --command wxb" in done.stdout and "complete_fish" in done.stdout


def test_help_of_a_function_comes_from_its_row() -> None:
    done = subprocess.run([str(WXB), "help", "logdet"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "inv(x).T" in done.stdout and "d log|det x|" in done.stdout


def test_help_of_an_unknown_name_is_one_line_and_exit_2() -> None:
    done = subprocess.run([str(WXB), "help", "logdett"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("wxb: error: ") and len(done.stderr.splitlines()) == 1


COMMANDS = ["forward", "backward", "jacobian", "check", "explain", "derive", "convert", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_minus_h_is_help_on_every_command(command: str) -> None:
    done = subprocess.run([str(WXB), command, "-h"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"wxb {command}" in done.stdout
