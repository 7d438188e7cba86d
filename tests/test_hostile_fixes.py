"""Regressions from trying wxb as a hostile user: each test is one bug that was found and fixed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def wxb(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wxb.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("delimiter", [",", " ", "\t", ";"])
def test_np_savetxt_files_read_whatever_their_delimiter(tmp_path: Path, delimiter: str) -> None:
    a = np.array([[1.5, 2.0], [3.0, 4e-5]])
    for suffix in (".txt", ".dat", ".csv"):
        path = tmp_path / f"a{suffix}"
        np.savetxt(path, a, delimiter=delimiter)
        done = wxb("forward", "-X", str(path), "-b", "0", "--format", "json")
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert json.loads(done.stdout) == a.tolist()
