"""The benchmark weighs each process's own peak RSS, not the memory of the harness that started it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

RUN = Path(__file__).resolve().parent.parent / "bench" / "run.py"
MB = 1024 * 1024


def load_harness() -> ModuleType:
    """bench/run.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


harness = load_harness()


def test_a_small_command_weighs_little_while_the_harness_holds_much() -> None:
    held = np.ones(512 * MB // 8)  # written, so resident: the old fork-and-wait4 figure was about 525 MB
    _, peak = harness.run_once([sys.executable, "-c", "pass"])
    assert held[-1] == 1
    assert peak < 30 * MB


def test_a_command_that_allocates_is_weighed_with_its_allocation() -> None:
    _, peak = harness.run_once([sys.executable, "-c", "data = b'x' * (200 << 20)"])
    assert 200 * MB <= peak < 260 * MB


def test_the_self_check_passes_and_reports_the_small_figure() -> None:
    assert 5 < harness.check_own_peak(hold_mb=256) < 30


def test_a_failing_command_is_reported_with_its_last_line_of_stderr() -> None:
    with pytest.raises(harness.CommandFailed, match=r"^exit 3: wxb: error: no$"):
        harness.run_once([sys.executable, "-c", "import sys; print('wxb: error: no', file=sys.stderr); sys.exit(3)"])


def test_a_command_that_cannot_start_is_reported() -> None:
    with pytest.raises(harness.CommandFailed, match="exit 127: launch: cannot run /nonexistent/wxb"):
        harness.run_once(["/nonexistent/wxb"])


def test_a_case_that_crashes_becomes_an_error_row() -> None:
    def broken(sizes: object) -> list[object]:
        raise ValueError("no operands")

    (row,) = harness.run_case("broken", broken, harness.QUICK)
    assert row.verdict == "ERROR"
    assert row.wxb.error == "the harness failed in case broken: ValueError: no operands"
