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
