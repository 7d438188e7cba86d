"""The wheel installs the folders core/ and cli/ as wxb.core and wxb.cli, and nothing at the top level."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # a copy of the tree, so that two test processes building at once do not share setuptools' build/ folder
    tree = tmp_path_factory.mktemp("tree") / "wxb"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                              ".hypothesis", "site", ".mypy_cache", ".ruff_cache"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out),
         str(tree)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("wxb-*.whl")
    return found


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_holds_the_namespaced_packages(wheel_names: list[str]) -> None:
    assert "wxb/core/__init__.py" in wheel_names
    assert "wxb/cli/app.py" in wheel_names
    assert "wxb/cli/__main__.py" in wheel_names


def test_wheel_installs_no_top_level_core_or_cli(wheel_names: list[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"wxb"}


def test_wheel_declares_the_console_script(wheel: Path, wheel_names: list[str]) -> None:
    (entry_points,) = [name for name in wheel_names if name.endswith(".dist-info/entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        assert "wxb = wxb.cli.app:main" in archive.read(entry_points).decode()
