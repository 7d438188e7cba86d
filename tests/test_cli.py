"""The wxb commands driven in-process through Typer's CliRunner (stdout is not a terminal: csv by default)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from wxb import core
from wxb.cli.app import app

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SEED = ["-X", "1 2; 3 4", "-b", "5; 6"]


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def csv_of(result: Result) -> np.ndarray:
    assert result.exit_code == 0, result.stderr
    return np.loadtxt(io.StringIO(result.stdout), delimiter=",", ndmin=2)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wxb: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


# ---- forward ------------------------------------------------------------------------------------------------


def test_forward_seed_column_bias() -> None:
    assert csv_of(run("forward", *SEED)).tolist() == [[6, 7], [9, 10]]


def test_forward_one_dimensional_json_bias_is_a_column() -> None:
    assert csv_of(run("forward", "-X", "1 2; 3 4", "-b", "[5, 6]")).tolist() == [[6, 7], [9, 10]]


def test_forward_row_literal_is_a_row_bias() -> None:
    assert csv_of(run("forward", "-X", "1 2; 3 4", "-b", "5 6")).tolist() == [[6, 8], [8, 10]]


def test_forward_with_weights_from_sample_files() -> None:
    dense = SAMPLES / "dense"
    result = run("forward", "-W", str(dense / "W.csv"), "-X", str(dense / "X.csv"), "-b", str(dense / "b.csv"))
    W, X, b = (np.loadtxt(dense / f"{n}.csv", delimiter=",", ndmin=2) for n in ("W", "X", "b"))
    np.testing.assert_array_equal(csv_of(result), W @ X + b)


def test_forward_from_npz_bundle() -> None:
    bundle = SAMPLES / "dense" / "layer.npz"
    with np.load(bundle) as z:
        expected = z["W"] @ z["X"] + z["b"]
    np.testing.assert_array_equal(csv_of(run("forward", "--from", str(bundle))), expected)


def test_forward_json_is_a_nested_list() -> None:
    result = run("forward", *SEED, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [[6, 7], [9, 10]]


def test_forward_output_file_takes_format_from_suffix(tmp_path: Path) -> None:
    target = tmp_path / "f.npy"
    result = run("forward", *SEED, "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert np.load(target).tolist() == [[6, 7], [9, 10]]


def test_failed_run_leaves_existing_output_untouched(tmp_path: Path) -> None:
    target = tmp_path / "f.csv"
    target.write_text("precious\n")
    result = run("forward", "-X", "1 2; 3 4", "-b", "1 2 3", "-o", str(target))
    assert_one_line_error(result)
    assert target.read_text() == "precious\n"


def test_forward_reads_standard_input() -> None:
    assert csv_of(run("forward", "-X", "-", "-b", "5; 6", input="1,2\n3,4\n")).tolist() == [[6, 7], [9, 10]]


def test_forward_table_on_request_shows_values_and_broadcast() -> None:
    result = run("forward", *SEED, "--format", "table")
    assert result.exit_code == 0, result.stderr
    for text in ("f", "(2,2)", "6", "10", "repeated along axis 1"):
        assert text in result.stdout


# ---- backward -----------------------------------------------------------------------------------------------


def test_backward_default_is_the_row_sums_of_ones() -> None:
    assert csv_of(run("backward", *SEED)).tolist() == [[2], [2]]


def test_backward_with_upstream_gradient_sums_rows() -> None:
    result = run("backward", *SEED, "-G", "1 2; 3 4")
    assert csv_of(result).tolist() == [[3], [7]]


def test_backward_row_bias_sums_columns() -> None:
    result = run("backward", "-X", "1 2; 3 4", "-b", "5 6", "-G", "1 2; 3 4")
    assert csv_of(result).tolist() == [[4, 6]]


def test_backward_all_gradients_as_json() -> None:
    W, X, G = np.array([[1.0, 2], [3, 4], [5, 6]]), np.array([[1.0, -1], [2, 0.5]]), np.arange(6.0).reshape(3, 2)
    result = run("backward", "-W", json.dumps(W.tolist()), "-X", json.dumps(X.tolist()), "-b", "[1, 2, 3]",
                 "-G", json.dumps(G.tolist()), "--wrt", "all", "--format", "json")
    assert result.exit_code == 0, result.stderr
    grads = json.loads(result.stdout)
    assert set(grads) == {"db", "dW", "dX"}
    np.testing.assert_allclose(grads["db"], G.sum(axis=1))
    np.testing.assert_allclose(grads["dW"], G @ X.T)
    np.testing.assert_allclose(grads["dX"], W.T @ G)


def test_backward_several_results_refuse_csv_with_hint() -> None:
    result = run("backward", "-W", "1 0; 0 1", *SEED, "--wrt", "all", "--format", "csv")
    assert_one_line_error(result, "hint")


def test_mse_reads_a_1d_target_as_a_column_like_the_same_loss_written_out() -> None:
    by_loss = run("backward", "-X", "1 2; 3 4", "-b", "0", "--loss", "mse", "-T", "[1, 2]", "--wrt", "X",
                  "--format", "json")
    written = run("backward", "-e", "mean((X + b - T) ** 2)", "X=1 2; 3 4", "b=0", "T=[1, 2]", "--wrt", "X",
                  "--format", "json")
    assert by_loss.exit_code == 0 and written.exit_code == 0, by_loss.output + written.output
    assert json.loads(by_loss.stdout) == json.loads(written.stdout) == [[0.0, 0.5], [0.5, 1.0]]


def test_backward_mse_loss_against_target() -> None:
    result = run("backward", *SEED, "--loss", "mse", "-T", "6 7; 9 11")
    # f - T = [[0,0],[0,-1]], N = 4: G = 2(f - T)/N, row sums [0, -0.5]
    assert csv_of(result).tolist() == [[0], [-0.5]]


def test_backward_mean_loss() -> None:
    assert csv_of(run("backward", *SEED, "--loss", "mean")).tolist() == [[0.5], [0.5]]


def test_backward_gradient_and_loss_together_is_an_error() -> None:
    assert_one_line_error(run("backward", *SEED, "-G", "1 1; 1 1", "--loss", "mean"), "-G", "--loss")


def test_backward_gradient_of_wrong_shape_names_shapes() -> None:
    assert_one_line_error(run("backward", *SEED, "-G", "1 1 1; 1 1 1"), "(2,3)")


def test_backward_per_channel_bias(tmp_path: Path) -> None:
    conv = SAMPLES / "conv"
    out = tmp_path / "db.npy"
    result = run("backward", "-X", str(conv / "A.npy"), "-b", str(conv / "bias.npy"), "-G", str(conv / "G.npy"),
                 "-o", str(out))
    assert result.exit_code == 0, result.stderr
    G = np.load(conv / "G.npy")
    np.testing.assert_allclose(np.load(out), G.sum(axis=(0, 2, 3), keepdims=True))


def test_backward_table_explains_the_reduction() -> None:
    result = run("backward", *SEED, "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "dL/db" in result.stdout
    assert "axis 1" in result.stdout


# ---- jacobian -----------------------------------------------------------------------------------------------


def test_jacobian_block_is_the_identity() -> None:
    result = run("jacobian", "-X", "1 2; 3 4", "-b", "[5, 6]", "--block", "1")
    assert csv_of(result).tolist() == [[1, 0], [0, 1]]


def test_jacobian_dense_csv_is_the_stacked_identities() -> None:
    result = run("jacobian", "-X", "1 2; 3 4", "-b", "[5, 6]", "--dense")
    # ∂vec f/∂b = 1₂ ⊗ I₂ (vec stacks f's columns)
    assert csv_of(result).tolist() == [[1, 0], [0, 1], [1, 0], [0, 1]]


def test_jacobian_dense_npy_keeps_the_tensor_layout(tmp_path: Path) -> None:
    out = tmp_path / "J.npy"
    result = run("jacobian", "-X", "1 2; 3 4", "-b", "[5, 6]", "--dense", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    J = np.load(out)
    assert J.shape == (2, 2, 2)
    np.testing.assert_array_equal(J, core.dense_jacobian(np.array([[1.0, 2], [3, 4]]), np.array([5.0, 6])))


def test_jacobian_structure_as_json() -> None:
    result = run("jacobian", *SEED, "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["n_blocks"] == 2
    assert record["shape"] == [2, 2, 2, 1]


def test_jacobian_structure_has_no_csv_form() -> None:
    assert_one_line_error(run("jacobian", *SEED, "--format", "csv"), "--block")


def test_jacobian_dense_over_the_limit_is_refused() -> None:
    assert_one_line_error(run("jacobian", *SEED, "--dense", "--limit", "3"), "8")


def test_jacobian_wrt_weight_without_weight_is_an_error() -> None:
    assert_one_line_error(run("jacobian", *SEED, "--wrt", "W"), "-W")


def test_jacobian_table_shows_blocks_kron_and_spy() -> None:
    result = run("jacobian", *SEED, "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "⊗" in result.stdout
    assert "∂f[:,0]/∂b" in result.stdout
    assert "█" in result.stdout


def test_jacobian_table_of_a_large_jacobian_never_goes_dense(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.save(tmp_path / "X.npy", np.ones((300, 400)))
    np.save(tmp_path / "b.npy", np.arange(300.0))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the structured view must not build the dense Jacobian")

    monkeypatch.setattr(core, "dense_jacobian", refuse)
    result = run("jacobian", "-X", str(tmp_path / "X.npy"), "-b", str(tmp_path / "b.npy"), "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "400 blocks" in result.stdout
    assert "120000×300" in result.stdout


# ---- check --------------------------------------------------------------------------------------------------


def test_check_passes_on_the_dense_sample() -> None:
    dense = SAMPLES / "dense"
    result = run("check", "--from", str(dense / "layer.npz"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert [r["operand"] for r in report["results"]] == ["W", "X", "b"]


def test_check_exits_one_when_a_gradient_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    import wxb.core.gradcheck

    failing = core.CheckReport(results=(core.CheckResult("b", 1.0, 1.0, 1e-6, False, 2, "every entry", 1e-6, "fail",
                                                         "the analytic gradient disagrees"),))
    monkeypatch.setattr(wxb.core.gradcheck, "check_problem", lambda *args, **kwargs: failing)
    result = run("check", *SEED, "--format", "csv")
    assert result.exit_code == 1
    assert ",fail," in result.stdout


def test_check_table() -> None:
    result = run("check", *SEED, "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "pass" in result.stdout


# ---- explain and demo ---------------------------------------------------------------------------------------


def test_explain_json_steps_carry_the_numbers() -> None:
    result = run("explain", *SEED, "--format", "json")
    assert result.exit_code == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert len(steps) == 4
    assert steps[0]["arrays"]["B"] == [[5, 5], [6, 6]]
    assert steps[1]["arrays"]["f"] == [[6, 7], [9, 10]]
    assert steps[-1]["arrays"]["dL/db"] == [[2], [2]]
    assert "G·1" in steps[-1]["formula"]


def test_explain_row_bias_uses_column_sums() -> None:
    result = run("explain", "-X", "1 2; 3 4", "-b", "5 6", "--format", "json")
    steps = json.loads(result.stdout)["steps"]
    assert "1ᵀ·G" in steps[-1]["formula"]


def test_explain_table() -> None:
    result = run("explain", *SEED, "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "b·1ᵀ" in result.stdout and "G·1" in result.stdout


def test_demo_shows_forward_blocks_and_gradient() -> None:
    result = run("demo")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in ("f = W·X ⊕ b", "10", "∂f[:,1]/∂b", "dL/db", "⊗"):
        assert text in out


# ---- errors and help ----------------------------------------------------------------------------------------


def test_missing_operand() -> None:
    assert_one_line_error(run("forward", "-X", "1 2; 3 4"), "-b")


def test_matmul_mismatch_names_shapes() -> None:
    assert_one_line_error(run("forward", "-W", "1 2 3; 4 5 6", *SEED), "(2,3)", "(2,2)")


def test_outer_sum_is_refused() -> None:
    assert_one_line_error(run("forward", "-X", "1; 2; 3; 4", "-b", "1 2 3 4"), "(4,1)", "(1,4)")


def test_unknown_format_is_an_error() -> None:
    result = run("forward", *SEED, "--format", "xml")
    assert result.exit_code == 2


@pytest.mark.parametrize("command", ["forward", "backward", "jvp", "jacobian", "check", "explain", "derive", "demo"])
def test_every_command_help_shows_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout and "wxb " + command in result.stdout


def test_jacobian_table_with_blocks_too_large_to_print_still_draws(tmp_path: Path) -> None:
    np.save(tmp_path / "W.npy", np.ones((300, 300)))
    np.save(tmp_path / "X.npy", np.ones((300, 400)))
    result = run("jacobian", "-W", str(tmp_path / "W.npy"), "-X", str(tmp_path / "X.npy"), "-b", "0",
                 "--wrt", "W", "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "blocks not printed" in result.stdout
    assert "Xᵀ ⊗ I" in result.stdout
    assert "█" in result.stdout


def test_jacobian_block_of_a_two_dimensional_bias_is_a_matrix_in_csv_and_a_tensor_in_json() -> None:
    assert csv_of(run("jacobian", *SEED, "--block", "0")).tolist() == [[1, 0], [0, 1]]
    result = run("jacobian", *SEED, "--block", "0", "--format", "json")
    assert json.loads(result.stdout) == [[[1], [0]], [[0], [1]]]


# ---- the target: -T and --target ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["forward", "jacobian"])
def test_a_target_where_no_loss_takes_one_is_refused(command: str) -> None:
    assert_one_line_error(run(command, *SEED, "-T", "1 2; 3 4"), "-T", "no operand T")


def test_check_takes_the_target_of_its_mse_loss_and_says_which_l_it_checks() -> None:
    result = run("check", *SEED, "-T", "1 2; 3 4", "--loss", "mse", "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["passed"] and record["L"].startswith("L = Σ (f − T)² / N")
    assert_one_line_error(run("check", *SEED, "-T", "1 2; 3 4"), "-T", "only used with --loss mse")


@pytest.mark.parametrize("command", ["forward", "jacobian"])
def test_minus_T_help_is_true_where_there_is_no_loss(command: str) -> None:
    help_text = run(command, "--help").stdout
    import re

    offered = re.search(r"^[│ ]*--loss\b", help_text, flags=re.M)  # an option row; the -T text may name --loss
    assert offered is None and "operand T" in help_text


def test_backward_help_says_how_to_give_a_target_beside_an_operand_T() -> None:
    help_text = " ".join(run("backward", "--help").stdout.split())
    assert "--target" in help_text and "operand T" in help_text


def test_target_gives_the_mse_target_when_the_expression_names_T() -> None:
    result = run("backward", "-e", "X * T", "X=1 2", "T=3 4", "--loss", "mse", "--target", "1 1", "--wrt", "X",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [[6.0, 28.0]]  # G = 2(f − target)/N = [2, 7], dX = G ⊙ T


def test_mse_without_target_when_the_expression_names_T_points_to_target() -> None:
    result = run("backward", "-e", "X * T", "X=1 2", "T=3 4", "--loss", "mse")
    assert_one_line_error(result, "--target")


def test_minus_T_and_target_together_for_one_target_are_refused() -> None:
    assert_one_line_error(run("backward", *SEED, "--loss", "mse", "-T", "1 2; 3 4", "--target", "1 2; 3 4"),
                          "-T", "--target")


def test_explain_follows_its_own_hint_to_add_loss_mse() -> None:
    refused = run("explain", *SEED, "-T", "6 7; 9 11")
    assert_one_line_error(refused, "add --loss mse")
    done = run("explain", *SEED, "-T", "6 7; 9 11", "--loss", "mse", "--format", "json")
    assert done.exit_code == 0, done.stderr
    assert "mse" in done.stdout or "(f − T)" in done.stdout


# ---- options that exclude or give way to each other ------------------------------------------------------------

def test_block_and_dense_together_are_refused() -> None:
    assert_one_line_error(run("jacobian", "-X", "1 2; 3 4", "-b", "1; 2", "--block", "1", "--dense"), "not both")


def test_a_bundled_g_gives_way_to_an_explicit_loss(tmp_path: Path) -> None:
    bundle = tmp_path / "b.npz"
    np.savez(bundle, X=np.array([[1.0, 2.0], [3.0, 4.0]]), b=np.array([5.0, 6.0]), G=np.ones((2, 2)) * 7)
    done = run("backward", "--from", str(bundle), "--loss", "mean", "--format", "json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == [0.5, 0.5]
    assert json.loads(run("backward", "--from", str(bundle), "--format", "json").stdout) == [14.0, 14.0]


def test_explain_json_carries_a_small_jacobian() -> None:
    steps = json.loads(run("explain", "-X", "3", "-b", "1", "--format", "json").stdout)["steps"]
    assert any(step["arrays"].get("J") == [[1.0]] for step in steps)


@pytest.mark.parametrize("name", ["f", "L"])
def test_explain_refuses_an_operand_named_as_its_value_or_loss(name: str) -> None:
    assert_one_line_error(run("explain", "-e", f"tanh({name}) * 2", f"{name}=1"), f"operand {name}", "rename")
    assert run("forward", "-e", f"tanh({name}) * 2", f"{name}=1").exit_code == 0
