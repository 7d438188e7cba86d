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


def test_jacobian_nonzero_counts_are_exact() -> None:
    from wxb.core import Problem, jacobian

    rng = np.random.default_rng(7)
    compared = 0
    for _ in range(150):
        m, k, n, batch = (int(v) for v in rng.integers(1, 4, 4))
        w_shape = (batch, m, k) if rng.random() < 0.5 else (m, k)
        x_shape = (batch, k, n) if rng.random() < 0.5 else (k, n)
        W = rng.integers(-1, 2, w_shape).astype(float)
        X = rng.integers(-1, 2, x_shape).astype(float)
        b = rng.integers(-1, 2, (m, 1)).astype(float)
        for expression in ("W @ X + b", "relu(W @ X + b)", "(W @ X) * 2", "tanh(W @ X + b) * 0"):
            problem = Problem.build(expression, {"W": W, "X": X, "b": b} if "b" in expression else {"W": W, "X": X})
            for name in problem.expression.operands:
                structure = jacobian.structure(problem, name)
                if structure.nonzeros is not None:
                    assert structure.nonzeros == np.count_nonzero(jacobian.dense(problem, name)), (expression, name)
                    compared += 1
    assert compared > 500


def test_the_transpose_of_a_1d_column_is_a_row() -> None:
    done = wxb("forward", "-e", "x.T + y", "x=[1, 2, 3]", "y=0 0 0; 0 0 0", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    grads = json.loads(wxb("backward", "-e", "sum(xᵀ * y)", "x=[1, 2]", "y=1 1; 2 2", "--format", "json").stdout)
    assert grads == {"dx": [3.0, 3.0], "dy": [[1.0, 2.0], [1.0, 2.0]]}


def test_explain_states_sums_and_axes_truthfully() -> None:
    nd = wxb("explain", "-X", "samples/conv/A.npy", "-b", "samples/conv/bias.npy", "-G", "samples/conv/G.npy",
             "--format", "json")
    last = json.loads(nd.stdout)["steps"][-1]
    assert last["formula"] == "dL/db = G summed over axes 0, 2, 3"
    done = wxb("explain", "-e", "softmax(X, axis=1) + logsumexp(X, axis=0) + mean(X, axis=1)", "X=1 2; 3 4",
               "--format", "json")
    formulas = [step["formula"] for step in json.loads(done.stdout)["steps"]]
    assert "f = softmax(X, axis=1)" in " ".join(formulas) or any("axis=1" in f for f in formulas)
    assert any(f.startswith("G_z4 = G summed over axis 1") for f in formulas), formulas


def test_the_entry_rule_keeps_its_indices_on_a_terminal() -> None:
    done = wxb("jacobian", "-X", "1 2; 3 4", "-W", "1 2; 3 4", "-b", "[1, 1]", "--wrt", "W", "--format", "text")
    assert "∂f[i,j]/∂W[p,q] = δ(i,p)·X[q,j]" in done.stdout.replace("\n", " ")


def test_stdin_conflicts_name_the_operands_as_typed() -> None:
    both = subprocess.run([sys.executable, "-m", "wxb.cli", "forward", "-e", "X + b", "X=-", "b=-"], input=b"1 2\n",
                          capture_output=True, cwd=ROOT)
    assert both.returncode == 2 and b"X= and b= both read standard input" in both.stderr


def test_npz_from_stdin_by_key(tmp_path: Path) -> None:
    record = tmp_path / "g.npz"
    assert wxb("backward", "-X", "1 2; 3 4", "-b", "5; 6", "--wrt", "all", "-o", str(record)).returncode == 0
    with record.open("rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "wxb.cli", "forward", "-X", "-:dX", "-b", "0", "--format",
                               "json"], stdin=stdin, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[1.0, 1.0], [1.0, 1.0]]


def test_block_and_dense_together_are_refused() -> None:
    done = wxb("jacobian", "-X", "1 2; 3 4", "-b", "[1, 2]", "--block", "1", "--dense")
    assert done.returncode == 2 and "not both" in done.stderr


def test_a_bundled_g_gives_way_to_an_explicit_loss(tmp_path: Path) -> None:
    bundle = tmp_path / "b.npz"
    np.savez(bundle, X=np.array([[1.0, 2.0], [3.0, 4.0]]), b=np.array([5.0, 6.0]), G=np.ones((2, 2)) * 7)
    done = wxb("backward", "--from", str(bundle), "--loss", "mean", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [0.5, 0.5]
    with_g = wxb("backward", "--from", str(bundle), "--format", "json")
    assert json.loads(with_g.stdout) == [14.0, 14.0]


def test_an_expression_that_ends_too_early_is_marked_at_its_end() -> None:
    done = wxb("forward", "-e", "W @ X +", "W=1 2", "X=1; 1")
    assert done.returncode == 2 and "ends too early, at column 8: W @ X +⟨here⟩" in done.stderr


def test_explain_json_carries_the_small_jacobian() -> None:
    steps = json.loads(wxb("explain", "-X", "3", "-b", "1", "--format", "json").stdout)["steps"]
    assert any(step["arrays"].get("J") == [[1.0]] for step in steps)


def test_o_into_a_stream_without_a_suffix_writes_csv(tmp_path: Path) -> None:
    target = tmp_path / "x.gz"
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" -m wxb.cli forward -X "1 2" -b 1 '
                           f'-o >(gzip > "{target}"); wait'], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    import gzip
    import time

    for _ in range(50):  # the process substitution finishes on its own time
        if target.exists() and target.stat().st_size:
            break
        time.sleep(0.1)
    assert gzip.decompress(target.read_bytes()) == b"2.0,3.0\n"


@pytest.mark.parametrize("name", ["o.json", "out"])
def test_o_dev_stdout_writes_csv_as_stdout_in_a_pipe_does(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" -m wxb.cli forward -X "1 2" -b 1 -o /dev/stdout '
                           f'> "{out}"'], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "2.0,3.0\n"


def test_notes_never_reach_stdout_when_stderr_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "pd.csv"
    path.write_text(",0,1\n0,1.5,2.0\n1,3.0,4.0\n")
    done = subprocess.run(["bash", "-c", f'"{sys.executable}" -m wxb.cli forward -X "{path}" -b 0 2>&-'],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.stdout == "1.5,2.0\n3.0,4.0\n"


@pytest.mark.parametrize(("expression", "operands"), [
    ("tanh(W @ X + b)", ["W=1e-320 1", "X=1; 1", "b=0"]),
    ("W @ X + b", ["W=1e-315 1", "X=1; 1", "b=0"]),
    ("relu(W @ X + b)", ["W=5e-324 1", "X=1; 1", "b=0.5"]),
])
def test_check_passes_correct_gradients_beside_subnormal_entries(expression: str, operands: list[str]) -> None:
    done = wxb("check", "-e", expression, *operands, "--format", "csv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ",fail," not in done.stdout


def test_a_matrix_of_integers_starting_0_1_is_data_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "perm.csv"
    path.write_text("0,1\n1,0\n")
    done = wxb("forward", "-X", str(path), "-b", "0", "--format", "json")
    assert json.loads(done.stdout) == [[0.0, 1.0], [1.0, 0.0]]
    assert "as data" in done.stderr and "--header" in done.stderr
    floats = tmp_path / "pd.csv"
    floats.write_text("0,1,2\n1.5,2.0,3.0\n")
    done = wxb("forward", "-X", str(floats), "-b", "0", "--format", "json")
    assert json.loads(done.stdout) == [[1.5, 2.0, 3.0]] and "as a header" in done.stderr


def test_a_narrow_terminal_hides_columns_and_never_cuts_a_number() -> None:
    from rich.console import Console

    from wxb.cli.render import matrix_table

    values = np.array([[2.06755e-05, 4.25232e-05, 1.5], [-3.25e-07, 1.0, 2.0]])
    console = Console(width=40, record=True, color_system=None)
    console.print(matrix_table(values, precision=6, width=40))
    text = console.export_text()
    assert "2.06755e-05" in text and "…" in text
    assert all(len(line.rstrip()) <= 40 for line in text.splitlines())


def test_a_tab_separated_file_with_row_labels_drops_them(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("\t0\t1\n0\t1.5\t2\n1\t3\t4\n")
    done = wxb("forward", "-X", str(path), "-b", "0", "--format", "json")
    assert json.loads(done.stdout) == [[1.5, 2.0], [3.0, 4.0]] and "row labels" in done.stderr
