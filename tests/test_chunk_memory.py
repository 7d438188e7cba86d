"""Memory, measured: with the budget capped by WXB_MEMORY, a 300 MB X streams through the real `wxb` with a peak
RSS under 200 MB, and `--chunk off` is refused in one line before anything is computed.

Peak RSS is the child's own, from os.wait4 in bench/launch.py (a small process: the harness's memory stays out)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

LAUNCH = Path(__file__).resolve().parent.parent / "bench" / "launch.py"
WXB = str(Path(sys.executable).parent / "wxb")
MB = 1 << 20

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """W 100×100, b 100×1 and X 100×375,000 (300 MB), X written in blocks (never whole in this process)."""
    folder = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(7)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float64, shape=(100, 375_000))
    for start in range(0, 375_000, 25_000):
        X[:, start:start + 25_000] = rng.normal(size=(100, 25_000))
    X.flush()
    del X
    np.save(folder / "W.npy", rng.normal(size=(100, 100)) / 10)
    np.save(folder / "b.npy", rng.normal(size=(100, 1)))
    return {name: str(folder / f"{name}.npy") for name in "WXb"} | {"dir": str(folder)}


def launch(*args: str, memory: str = "64MB") -> tuple[int, float, str]:
    """Run wxb with args under the memory cap: exit code, peak RSS in MB, stderr."""
    env = {**os.environ, "WXB_MEMORY": memory}
    done = subprocess.run([sys.executable, "-I", "-S", str(LAUNCH), WXB, *args], capture_output=True, env=env,
                          timeout=600)
    code, _, peak = done.stdout.decode().split()
    return int(code), int(peak) * 1024 / MB, done.stderr.decode()


def test_a_300_mb_X_streams_in_under_200_mb(layer: dict[str, str]) -> None:
    out = os.path.join(layer["dir"], "f.npy")
    code, peak, stderr = launch("forward", "-e", "tanh(W @ X + b)", f"W={layer['W']}", f"X={layer['X']}",
                                f"b={layer['b']}", "-o", out)
    assert code == 0, stderr
    assert "64 MB available (WXB_MEMORY): streaming it in blocks" in stderr
    assert peak < 200, f"peak RSS {peak:.0f} MB"
    f = np.load(out, mmap_mode="r")
    X = np.load(layer["X"], mmap_mode="r")
    W, b = np.load(layer["W"]), np.load(layer["b"])
    for start in (0, 187_000, 374_000):
        np.testing.assert_allclose(f[:, start:start + 1000], np.tanh(W @ X[:, start:start + 1000] + b), rtol=1e-12)


def test_backward_W_b_streams_in_under_200_mb(layer: dict[str, str]) -> None:
    out = os.path.join(layer["dir"], "g.npz")
    code, peak, stderr = launch("backward", "-e", "tanh(W @ X + b)", f"W={layer['W']}", f"X={layer['X']}",
                                f"b={layer['b']}", "--wrt", "W,b", "--loss", "mean", "-o", out, memory="128MB")
    assert code == 0, stderr
    assert peak < 250, f"peak RSS {peak:.0f} MB"
    X = np.load(layer["X"], mmap_mode="r")
    W, b = np.load(layer["W"]), np.load(layer["b"])
    Gz = (1 - np.tanh(W @ X + b) ** 2) / (100 * 375_000)
    with np.load(out) as grads:
        np.testing.assert_allclose(grads["db"], Gz.sum(axis=1, keepdims=True), rtol=1e-10)
        np.testing.assert_allclose(grads["dW"], Gz @ X.T, rtol=1e-10)


def test_chunk_off_is_refused_in_one_line(layer: dict[str, str]) -> None:
    out = os.path.join(layer["dir"], "off.npy")
    code, peak, stderr = launch("forward", "-e", "tanh(W @ X + b)", f"W={layer['W']}", f"X={layer['X']}",
                                f"b={layer['b']}", "-o", out, "--chunk", "off")
    assert code == 2
    assert stderr.startswith("wxb: error: tanh(W @ X + b) needs about ")
    assert "64 MB available (WXB_MEMORY), and --chunk off forbids streaming it in blocks" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert peak < 100
    assert not os.path.exists(out)
