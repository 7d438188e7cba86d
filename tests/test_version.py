import subprocess
import sys

from typer.testing import CliRunner

from wxb.cli.app import app


def test_version_option_prints_package_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"wxb {version('wxb')}"


def test_python_dash_m_runs_the_same_program() -> None:
    out = subprocess.run([sys.executable, "-m", "wxb.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("wxb ")


def test_the_changelog_names_the_version_pyproject_and_wxb_report() -> None:
    """One source of the version (pyproject.toml); CHANGELOG.md's newest entry and `wxb --version` agree with it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    (declared,) = re.findall(r'^version = "([^"]+)"$', (root / "pyproject.toml").read_text(), re.M)  # 3.10: no tomllib
    entries = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (root / "CHANGELOG.md").read_text(), re.M)
    assert entries and entries[0] == declared
    out = subprocess.run([sys.executable, "-m", "wxb.cli", "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"wxb {declared}"
