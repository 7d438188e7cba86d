"""Test settings shared by the suite (hypothesis runs derandomized so CI cannot flake), and the one way tests run
wxb as a real process: `wxb(...)` for one command, `shell(...)` for a bash pipeline."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from wxb.cli.env import Environment, using

settings.register_profile(
    "wxb",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("wxb")

ROOT = Path(__file__).resolve().parent.parent
WXB = [sys.executable, "-m", "wxb.cli"]
SCRIPT = Path(sys.executable).with_name("wxb")  # the console script of this environment


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """The test's environment: terminals 100 columns wide, this environment's wxb first on PATH."""
    path = f"{SCRIPT.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "COLUMNS": "100", "PATH": path, "WXB": str(SCRIPT), **(env or {})}


def wxb(*args: str, stdin: str | bytes | None = None, env: Mapping[str, str] | None = None, cwd: Path = ROOT,
        text: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[Any]:
    """wxb as a real process (`python -m wxb.cli ARGS`, in the repository): its exit status and both streams, as
    text, or as bytes with text=False."""
    return subprocess.run([*WXB, *args], input=stdin, capture_output=True, text=text, timeout=timeout, cwd=cwd,
                          env=_environment(env))


def shell(script: str, *, stdin: str | bytes | None = None, env: Mapping[str, str] | None = None, cwd: Path = ROOT,
          text: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[Any]:
    """A bash script (pipefail) in which `wxb` (and $WXB) is this environment's wxb: its status and streams."""
    return subprocess.run(["bash", "-o", "pipefail", "-c", script], input=stdin, capture_output=True, text=text,
                          timeout=timeout, cwd=cwd, env=_environment(env))


def stream(data: bytes = b"") -> io.TextIOWrapper:
    """A standard stream in memory (text over bytes, so it has .buffer as sys's streams do)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", write_through=True)


def written(held: Any) -> str:
    """What was written to a stream(): its bytes, as text."""
    return str(held.buffer.getvalue().decode())


@contextmanager
def environment(stdin: bytes = b"", **fields: Any) -> Iterator[Environment]:
    """Run the body under an Environment of in-memory streams (stdin holding `stdin`), not a terminal unless
    fields say so (stdin_isatty=True, width=40, quiet=True...): what a test builds instead of patching sys."""
    env = Environment(stream(stdin), stream(), stream(), **fields)
    with using(env):
        yield env

