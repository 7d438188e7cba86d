"""`wxb jvp` as a process: what it writes in each format and to a pipe, its exit statuses and one-line errors, its
tangents from any operand source, and its note at a kink."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shell, wxb

SEED = ["-X", "1 2; 3 4", "-b", "5; 6"]
LAYER = ["-e", "tanh(W @ X + b)", "W=1 0; 0 1", "X=0 0; 0 0", "b=0; 0"]


def rows(text: str) -> list[list[float]]:
    return [[float(cell) for cell in line.split(",")] for line in text.splitlines() if line]


def one_error(done: object) -> str:
    """The run failed with exit 2 and one line on stderr, `wxb: error: …`, and wrote nothing on stdout."""
    assert done.returncode == 2, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    err: str = done.stderr  # type: ignore[attr-defined]
    assert err.startswith("wxb: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert done.stdout in ("", b""), done.stdout  # type: ignore[attr-defined]
    return err


def test_a_pipe_gets_df_as_csv_and_it_is_the_directional_derivative() -> None:
    done = shell("wxb jvp -e 'tanh(W @ X + b)' W='1 0; 0 1' X='0 0; 0 0' b='0; 0' --tangent b='1; 0.5' | cat")
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout) == [[1, 1], [0.5, 0.5]]  # tanh′(0) = 1
    assert done.stderr == ""


def test_json_holds_f_and_df_and_value_adds_f_to_the_table_and_npz(tmp_path: Path) -> None:
    record = json.loads(wxb("jvp", *SEED, "--tangent", "b=1; 0", "-f", "json").stdout)
    assert record == {"f": [[6.0, 7.0], [9.0, 10.0]], "df": [[1.0, 1.0], [0.0, 0.0]]}
    pretty = wxb("jvp", *SEED, "--tangent", "b=1; 0", "-f", "json", "--pretty").stdout
    assert json.loads(pretty) == record and pretty.count("\n") > 1
    table = wxb("jvp", *SEED, "--tangent", "b=1; 0", "--value", "-f", "table", env={"NO_COLOR": "1"}).stdout
    assert "\nf (2,2)" in table and "\ndf (2,2)" in table and "along the tangent of b (0 for X)" in table
    assert "\nf (2,2)" not in wxb("jvp", *SEED, "--tangent", "b=1; 0", "-f", "table").stdout
    done = wxb("jvp", *SEED, "--tangent", "b=1; 0", "-f", "npz", text=False)
    with np.load(io.BytesIO(done.stdout)) as bundle:
        assert sorted(bundle.files) == ["df", "f"] and bundle["df"].tolist() == [[1, 1], [0, 0]]


@pytest.mark.parametrize(("fmt", "separator"), [("csv", ","), ("tsv", "\t")])
def test_delimited_text_is_df_alone(fmt: str, separator: str) -> None:
    done = wxb("jvp", *SEED, "--tangent", "b=1; 0", "-f", fmt)
    assert done.stdout == separator.join(["1.0", "1.0"]) + "\n" + separator.join(["0.0", "0.0"]) + "\n"


def test_o_writes_npy_of_df_atomically_and_float32_stays_float32(tmp_path: Path) -> None:
    np.save(tmp_path / "X.npy", np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    done = wxb("jvp", "-e", "X * X", "X=X.npy", "--tangent", "X=1 0; 0 1", "-o", "df.npy", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    df = np.load(tmp_path / "df.npy")
    assert df.dtype == np.float32 and df.tolist() == [[2.0, 0.0], [0.0, 8.0]]  # 2X ⊙ V


def test_tangents_from_a_file_stdin_and_an_archive_member(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text("1,0\n0,1\n")
    np.savez(tmp_path / "t.npz", W=np.array([[0.0, 1.0], [0.0, 0.0]]))
    expr = ["-e", "W @ X", "W=1 0; 0 1", "X=1 2; 3 4"]
    assert rows(wxb("jvp", *expr, "--tangent", "X=v.csv", cwd=tmp_path).stdout) == [[1, 0], [0, 1]]
    assert rows(wxb("jvp", *expr, "--tangent", "X=-", stdin="1 1\n1 1\n", cwd=tmp_path).stdout) == [[1, 1], [1, 1]]
    assert rows(wxb("jvp", *expr, "--tangent", "W=t.npz:W", cwd=tmp_path).stdout) == [[3, 4], [0, 0]]
    both = wxb("jvp", *expr, "--tangent", "W=t.npz:W", "--tangent", "X=v.csv", cwd=tmp_path).stdout
    assert rows(both) == [[4, 4], [0, 1]]  # dW·X + W·dX


def test_a_tangent_of_another_shape_is_one_line_naming_it() -> None:
    err = one_error(wxb("jvp", *SEED, "--tangent", "b=1 2 3"))
    assert "tangent of b has shape (1,3) but b has shape (2,1)" in err and "--tangent b=" in err


def test_a_tangent_for_a_name_not_in_the_expression_is_one_line() -> None:
    err = one_error(wxb("jvp", *LAYER, "--tangent", "Q=1"))
    assert "Q is not an operand of tanh(W @ X + b)" in err and "W, X, b" in err


@pytest.mark.parametrize("bad", [["--tangent", "b"], ["--tangent", "b=1; 0", "--tangent", "b=0; 1"],
                                 ["--tangent", "b=missing.csv"], ["--tangent", "b=1; x"]])
def test_malformed_tangents_are_one_line(bad: list[str]) -> None:
    one_error(wxb("jvp", *SEED, *bad))


def test_stdin_is_read_once_by_an_operand_or_a_tangent() -> None:
    err = one_error(wxb("jvp", "-X", "-", "-b", "5; 6", "--tangent", "b=-", stdin="1 2\n3 4\n"))
    assert "standard input" in err


def test_errors_of_the_operands_are_forwards_own() -> None:
    one_error(wxb("jvp", "-X", "1 2; 3 4", "-b", "1 2 3", "--tangent", "X=1 0; 0 1"))
    one_error(wxb("jvp", *SEED, "-T", "1; 2"))  # no operand T, and jvp has no loss
    one_error(wxb("jvp", "-e", "inv(A)", "A=1 1; 1 1", "--tangent", "A=1 0; 0 1"))  # singular


def test_value_in_csv_is_refused_as_two_results() -> None:
    err = one_error(wxb("jvp", *SEED, "--tangent", "b=1; 0", "--value", "-f", "csv"))
    assert "json" in err


def test_at_a_kink_a_note_says_which_derivative_the_tangent_took_and_q_silences_it() -> None:
    args = ["-e", "relu(X) + max(X, axis=0)", "X=0 1; 0 -1", "--tangent", "X=1 1; 1 1"]
    done = wxb("jvp", *args)
    assert done.returncode == 0
    assert rows(done.stdout) == [[1, 2], [1, 1]]  # relu′(0) = 0; the tie in column 0 gives all to row 0
    notes = done.stderr.splitlines()
    assert notes == ["wxb: note: relu(X) is at a kink in 2 places: the tangent takes the derivative 0 at X = 0 "
                     "there, as backward does",
                     "wxb: note: max(X, axis=0) is at a kink in 1 place: the tangent takes on a tie in X, the whole "
                     "derivative from the first maximiser (C order) there, as backward does"]
    assert wxb("jvp", *args, "-q").stderr == ""
    assert wxb("jvp", "-e", "relu(X)", "X=0 1", "--tangent", "X=0 0").stderr != ""  # the point is at the kink


def test_dask_is_accepted_with_a_note_that_jvp_computes_in_memory() -> None:
    done = wxb("jvp", *SEED, "--tangent", "b=1; 0", "--dask")
    assert done.returncode == 0 and "jvp computes in memory" in done.stderr
    assert rows(done.stdout) == [[1, 1], [0, 0]]


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_text("1,2,3\n" * 20000)
    done = shell("wxb jvp -e 'X * 2' X=big.csv --tangent X=big.csv | head -1", cwd=tmp_path)
    assert done.returncode in (0, 141), done.stderr  # 141: killed by SIGPIPE, as Unix filters are
    assert done.stdout == "2.0,4.0,6.0\n" and done.stderr == ""


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """W 5×4, X 4×300 and their tangents V, U as .npy; a relu point with zeros in X's last column (kinks)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 300))
    X[:, -1] = 0
    for name, value in (("W", rng.normal(size=(5, 4))), ("X", X), ("V", rng.normal(size=(5, 4))),
                        ("U", rng.normal(size=(4, 300)))):
        np.save(tmp_path / f"{name}.npy", value)
    return tmp_path


STREAMED = ["-e", "tanh(W @ X) + relu(W @ X)", "W=W.npy", "X=X.npy", "--tangent", "W=V.npy", "--tangent", "X=U.npy"]


def test_in_blocks_df_and_f_equal_the_whole_with_the_kinks_summed(layer: Path) -> None:
    whole = wxb("jvp", *STREAMED, "--value", "-f", "npz", "-o", "whole.npz", cwd=layer)
    blocks = wxb("jvp", *STREAMED, "--value", "-f", "npz", "-o", "blocks.npz", "--chunk", "100B", cwd=layer)
    assert whole.returncode == blocks.returncode == 0, blocks.stderr
    kinks = [line for line in blocks.stderr.splitlines() if "kink" in line]
    assert kinks == whole.stderr.splitlines() and "relu(W @ X) is at a kink in 5 places" in kinks[0]
    assert "rounded up" not in blocks.stderr  # 100 B of X's 32 B columns: 100 blocks of 3 columns
    with np.load(layer / "whole.npz") as a, np.load(layer / "blocks.npz") as b:
        np.testing.assert_allclose(b["df"], a["df"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b["f"], a["f"], rtol=1e-12, atol=1e-12)


def test_under_a_memory_limit_it_streams_with_a_note_and_df_goes_straight_into_the_npy(layer: Path) -> None:
    whole = wxb("jvp", *STREAMED, "-o", "whole.npy", cwd=layer)
    done = wxb("jvp", *STREAMED, "-o", "df.npy", cwd=layer, env={"WXB_MEMORY": "30kB"})
    assert whole.returncode == done.returncode == 0, done.stderr
    assert "streaming it in blocks of" in done.stderr and "of 300 columns" in done.stderr
    np.testing.assert_allclose(np.load(layer / "df.npy"), np.load(layer / "whole.npy"), rtol=1e-12, atol=1e-12)


def test_what_does_not_stream_or_fit_is_one_line_and_exit_2(layer: Path) -> None:
    reduced = ["-e", "sum(tanh(W @ X))", "W=W.npy", "X=X.npy", "--tangent", "W=V.npy"]
    err = one_error(wxb("jvp", *reduced, "--chunk", "1kB", cwd=layer))
    assert "cannot stream sum(tanh(W @ X)) in blocks: it sums the batch away" in err and "--dask" not in err
    err = one_error(wxb("jvp", *reduced, cwd=layer, env={"WXB_MEMORY": "30kB"}))
    assert "does not stream in blocks" in err and "--dask" not in err
    err = one_error(wxb("jvp", *STREAMED, "--chunk", "off", cwd=layer, env={"WXB_MEMORY": "30kB"}))
    assert "--chunk off forbids streaming it" in err
    err = one_error(wxb("jvp", *STREAMED, "--value", "-o", "fdf.npy", cwd=layer, env={"WXB_MEMORY": "30kB"}))
    assert "one result per .npy file" in err and "without --value" in err
    assert not (layer / "fdf.npy").exists()


def test_a_column_that_does_not_fit_is_refused_without_suggesting_dask() -> None:
    """jvp computes in memory even with --dask, so its hint never suggests it."""
    args = ["-e", "tanh(W @ X)", "W=1 2; 3 4", "X=1 2; 3 4", "--tangent", "X=1 1; 1 1"]
    err = one_error(wxb("jvp", *args, env={"WXB_MEMORY": "10"}))
    assert "even one column at a time needs about" in err and "--dask" not in err and "(hint: " in err, err


def test_chunk_off_on_an_f_that_sums_the_batch_away_neither_says_it_streams_nor_suggests_dask(layer: Path) -> None:
    """--chunk off's hint said 'the expression streams: drop --chunk off' for jvp, which cannot stream a sum."""
    reduced = ["-e", "sum(tanh(W @ X))", "W=W.npy", "X=X.npy", "--tangent", "W=V.npy", "--chunk", "off"]
    err = one_error(wxb("jvp", *reduced, cwd=layer, env={"WXB_MEMORY": "30kB"}))
    assert "it sums the batch away" in err and "drop --chunk off" not in err and "--dask" not in err
