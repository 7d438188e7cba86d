"""Symbolic sizes stand for any sizes (a hostile pass found them written into formulas as the numbers drawn), a
smaller claim that broadcasts to its operand stands for its broadcast (derive's own output was judged wrong), and
what a claim may read is said in one line. Each through the real command."""

from __future__ import annotations

import pytest
from conftest import shell, wxb


def one_error(done: object) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    err: str = done.stderr  # type: ignore[attr-defined]
    assert err.startswith("wxb: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert done.stdout == ""  # type: ignore[attr-defined]
    return err


@pytest.mark.parametrize(("args", "shown"), [
    (["-e", "mean((X @ w - y) ** 2)", "X=mxn", "w=n", "y=m", "--wrt", "w"], "2 / 3 * X.T @ (X @ w - y)"),
    (["-e", "sum(W @ X + b)", "W=mxk", "X=kxn", "b=m", "--wrt", "b"], "it is 5"),
    (["-e", "mean(X)", "X=nxn"], "1 / 9"),
    (["-e", "mean((X @ w - y) ** 2)", "X=mxn", "w=n", "y=m", "--wrt", "w", "--order", "2"], "@ V"),
    (["-e", "mean((X @ w - y) ** 2)", "X=mxn", "w=n", "y=m", "--wrt", "w", "--format", "numpy"], "2 / 3"),
])
def test_derive_refuses_a_formula_whose_constant_is_a_size(args: list[str], shown: str) -> None:
    err = one_error(wxb("derive", *args))
    assert "depends on the sizes" in err and shown in err and "hint: give the sizes as numbers" in err


def test_derive_with_symbolic_sizes_still_writes_what_holds_at_every_size() -> None:
    assert wxb("derive").stdout.splitlines()[-1] == "dL/db = sum(G, axis=1)"
    done = wxb("derive", "-e", "x.T @ A @ x", "x=n", "A=nxn", "--assume", "A=symmetric", "--wrt", "x")
    assert done.stdout.splitlines()[-1] == "dL/dx = 2 * A @ x"
    assert wxb("derive", "-e", "sum(W @ X)", "W=mxk", "X=kxn").stdout == ("dL/dW = sum(X, axis=1).T\n"
                                                                          "dL/dX = sum(W, axis=0).T\n")
    assert wxb("derive", "-e", "mean((X @ w - y) ** 2)", "X=4x3", "w=3", "y=4", "--wrt", "w").returncode == 0


@pytest.mark.parametrize(("f", "claim", "sizes"), [
    ("mean(X)", "dL/dX = 0 * X + 1 / 9", ["X=nxn"]),
    ("sum(W @ X + b)", "dL/db = 5 + 0 * b", ["W=mxk", "X=kxn", "b=m"]),
])
def test_a_claim_right_only_at_the_sizes_drawn_is_wrong(f: str, claim: str, sizes: list[str]) -> None:
    done = wxb("check", "-e", f, "--claim", claim, *sizes)
    assert done.returncode == 1, done.stdout
    assert "a constant in it stands for a size" in done.stdout and "depends on the sizes" in done.stdout


def test_derives_output_is_judged_right_where_it_broadcasts_to_its_operand() -> None:
    done = shell("wxb derive -e 'sum(W @ X)' W=3x4 X=4x5 | wxb check -e 'sum(W @ X)' --claims - W=3x4 X=4x5")
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("✓") == 2 and "broadcast to W's shape (3,4)" in done.stdout
    done = wxb("check", "-e", "sum(W @ X + b)", "--claim", "dL/db = 5", "W=3x4", "X=4x5", "b=3")
    assert done.returncode == 0, done.stdout
    wrong = wxb("check", "-e", "sum(W @ X)", "--claim", "dL/dW = sum(X, axis=0)", "W=3x4", "X=4x5")
    assert wrong.returncode == 1 and "a gradient has its operand's shape" in wrong.stdout


def test_a_1d_bias_claimed_as_G_misses_the_sum_by_wxbs_column_rule() -> None:
    done = wxb("check", "-e", "W @ X + b", "--claim", "dL/db = G", "W=mxk", "X=kxn", "b=m", "-f", "json")
    assert done.returncode == 1 and '"kind": "missing-sum"' in done.stdout.replace('":"', '": "')


def test_what_a_claim_cannot_read_or_use_is_one_line() -> None:
    err = one_error(wxb("check", "-e", "x.T @ A @ x", "--claim", "dx=5; 11", "x=n", "A=nxn"))
    assert "the operands here are shapes" in err
    err = one_error(wxb("check", "-e", "sum(tanh(W @ X))", "--claim", "dL/dW = Q @ X.T", "W=mxk", "X=kxn"))
    assert "Q, in the claim for dL/dW, is not an operand of f = sum(tanh(W @ X))" in err
    err = one_error(shell("echo '1 0; 0 1' | wxb check -e 'tanh(W @ X)' W='1 2; 1 2' X=- --claim dX=-"))
    assert "two sources read standard input" in err


def test_an_mse_claim_may_read_the_target() -> None:
    done = wxb("check", "-e", "W @ X", "--claim", "dL/dW = 2 * (W @ X - T) @ X.T / 4", "W=1 2; 3 4", "X=1 0; 0 1",
               "--loss", "mse", "-T", "0 0; 0 0")
    assert done.returncode == 0 and "✓" in done.stdout, done.stdout
    wrong = wxb("check", "-e", "W @ X", "--claim", "dL/dW = (W @ X - T) @ X.T", "W=1 2; 3 4", "X=1 0; 0 1",
                "--loss", "mse", "-T", "0 0; 0 0")
    assert wrong.returncode == 1 and "factor" in wrong.stdout


def test_an_assumption_your_numbers_break_is_warned() -> None:
    args = ["-e", "x.T @ A @ x", "--claim", "dL/dx = 2 * A @ x", "x=1; 2", "--assume", "A=symmetric"]
    broken = wxb("check", *args, "A=1 2; 3 4")
    assert broken.returncode == 1 and "your A is not symmetric" in broken.stderr
    kept = wxb("check", *args, "A=1 2; 2 4")
    assert kept.returncode == 0 and kept.stderr == ""


@pytest.mark.parametrize(("f", "claim", "sizes"), [
    ("sum(W @ X + b)", "dL/db = 5", ["W=mxk", "X=kxn", "b=m"]),  # right at the first sizes only
    ("sum(W @ X + b)", "dL/db = 3", ["W=mxk", "X=kxn", "b=m"]),  # right at the other sizes only
    ("mean(x)", "dL/dx = 1/3", ["x=n"]),
])
def test_a_number_claimed_for_a_vector_is_its_broadcast_and_a_size_is_kind_sizes(f: str, claim: str,
                                                                                 sizes: list[str]) -> None:
    """A hostile pass found these judged 'shape': a number stands for its broadcast, and is right at one set of
    sizes only."""
    done = wxb("check", "-e", f, "--claim", claim, *sizes, "-f", "json")
    assert done.returncode == 1 and '"kind":"sizes"' in done.stdout.replace(" ", ""), done.stdout


def test_a_factor_that_differs_between_the_sizes_is_kind_sizes() -> None:
    done = wxb("check", "-e", "W @ X", "W=mxk", "X=kxn", "--loss", "mse", "--target", "mxn", "--claim",
               "dL/dW = 2 * (W @ X - T) @ X.T")
    assert done.returncode == 1 and "a factor that depends on the sizes: 15 times the gradient" in done.stdout


def test_derive_order_2_judges_the_hessians_formula_not_the_gradients() -> None:
    done = wxb("derive", "-e", "sum(W @ X + b)", "W=mxk", "X=kxn", "b=m", "--order", "2", "--wrt", "b")
    assert done.returncode == 0 and done.stdout.startswith("d²L/db² · V = 0"), done.stderr
    err = one_error(wxb("derive", "-e", "mean(x ** 3)", "x=n", "--order", "2"))
    assert err.startswith("wxb: error: d²L/dx² · V depends on the sizes")
