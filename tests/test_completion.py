"""Shell completion through the real console script (the `wxb` entry point the installed scripts call): the
completion protocol reaches Click before wxb's short usage. The rest of completion and help: tests/test_help.py."""

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
