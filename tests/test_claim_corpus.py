"""`wxb check --claim` on a corpus of hand-derived gradients, right and wrong, each with the verdict a teacher
would give: right; the transpose; f's shape where the operand is broadcast (the missing sum); a constant factor;
right only for a symmetric argument; the wrong shape; right by chance at the user's numbers. Then the command
itself: exit status, claims from derive's own output, numbers as claims, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shell, wxb

from wxb.core.claims import Claim, assess
from wxb.core.expr import parse

SEED = {"W": (2, 3), "X": (3, 4), "b": (2, 1)}
QUAD = {"x": (3, 1), "A": (3, 3)}
LSQ = {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}
SQ = {"X": (3, 3)}
VEC = {"a": (3, 1), "x": (3, 1)}
LR = {"w": (3, 1), "X": (3, 5), "y": (1, 5)}
CE = {"W": (3, 2), "X": (2, 5), "y": (1, 5)}  # y: class labels, which the draws draw as labels of W @ X's rows

CORPUS = [  # (f, shapes, operand, claimed formula, verdict, assumption)
    ("W @ X + b", SEED, "b", "sum(G, axis=1)", "right", None),
    ("W @ X + b", SEED, "b", "G", "missing-sum", None),  # the seed's own answer: B = [b b … b]
    ("W @ X + b", SEED, "W", "G @ X.T", "right", None),
    ("W @ X + b", SEED, "W", "X @ G.T", "transposed", None),
    ("W @ X + b", SEED, "X", "W.T @ G", "right", None),
    ("W @ X + b", SEED, "X", "G.T @ W", "transposed", None),
    ("W @ X + b", SEED, "W", "2 * G @ X.T", "factor", None),
    ("W @ X + b", SEED, "X", "W @ G", "shape", None),
    ("x.T @ A @ x", QUAD, "x", "(A + A.T) @ x", "right", None),
    ("x.T @ A @ x", QUAD, "x", "2 * A @ x", "symmetric-only", None),
    ("x.T @ A @ x", QUAD, "x", "2 * A @ x", "right", "symmetric"),
    ("x.T @ A @ x", QUAD, "x", "A @ x", "wrong", None),
    ("x.T @ A @ x", QUAD, "A", "x @ x.T", "right", None),
    ("x.T @ A @ x", QUAD, "A", "x.T @ x", "shape", None),
    ("a.T @ x", VEC, "x", "a", "right", None),
    ("a.T @ x", VEC, "x", "a.T", "transposed", None),
    ("sum((W @ X - Y) ** 2)", LSQ, "W", "2 * (W @ X - Y) @ X.T", "right", None),
    ("sum((W @ X - Y) ** 2)", LSQ, "W", "(W @ X - Y) @ X.T", "factor", None),
    ("sum((W @ X - Y) ** 2)", LSQ, "W", "2 * X @ (W @ X - Y).T", "transposed", None),
    ("sum((W @ X - Y) ** 2)", LSQ, "Y", "-2 * (W @ X - Y)", "right", None),
    ("sum((W @ X - Y) ** 2)", LSQ, "Y", "2 * (W @ X - Y)", "factor", None),
    ("sum((W @ X - Y) ** 2) + 0.5 * sum(W ** 2)", LSQ, "W", "2 * (W @ X - Y) @ X.T + W", "right", None),
    ("sum((W @ X - Y) ** 2) + 0.5 * sum(W ** 2)", LSQ, "W", "2 * (W @ X - Y) @ X.T", "wrong", None),
    ("trace(X)", SQ, "X", "diag(diag(X) ** 0)", "right", None),
    ("trace(X)", SQ, "X", "X ** 0", "wrong", None),  # ones everywhere, not the identity
    ("trace(X @ X)", SQ, "X", "2 * X.T", "right", None),
    ("trace(X @ X)", SQ, "X", "2 * X", "transposed", None),
    ("trace(X.T @ X)", SQ, "X", "2 * X", "right", None),
    ("logdet(X)", SQ, "X", "inv(X).T", "right", None),
    ("logdet(X)", SQ, "X", "inv(X)", "transposed", None),
    ("logdet(X)", SQ, "X", "inv(X)", "right", "symmetric"),
    ("det(X)", SQ, "X", "det(X) * inv(X).T", "right", None),
    ("det(X)", SQ, "X", "det(X) * inv(X)", "transposed", None),
    ("sum(log(1 + exp(-y * (w.T @ X))))", LR, "w",
     "X @ (-y * exp(-y * (w.T @ X)) / (1 + exp(-y * (w.T @ X)))).T", "right", None),
    ("sum(log(1 + exp(-y * (w.T @ X))))", LR, "w",
     "X @ (y * exp(-y * (w.T @ X)) / (1 + exp(-y * (w.T @ X)))).T", "factor", None),
    ("sum(tanh(W @ X + b))", SEED, "b", "sum(1 - tanh(W @ X + b) ** 2, axis=1)", "right", None),
    ("sum(tanh(W @ X + b))", SEED, "b", "1 - tanh(W @ X + b) ** 2", "missing-sum", None),
    ("sum(tanh(W @ X + b))", SEED, "W", "(1 - tanh(W @ X + b) ** 2) @ X.T", "right", None),
    ("sum(tanh(W @ X + b))", SEED, "W", "(1 - tanh(W @ X + b)) @ X.T", "wrong", None),
    ("mean(cross_entropy(W @ X, y))", CE, "W", "0.2 * (softmax(W @ X) - onehot(y, W @ X)) @ X.T", "right", None),
    ("mean(cross_entropy(W @ X, y))", CE, "W", "(softmax(W @ X) - onehot(y, W @ X)) @ X.T", "factor", None),
    ("sum(cross_entropy(W @ X, y))", CE, "X", "W.T @ (softmax(W @ X) - onehot(y, W @ X))", "right", None),
    ("sum(cross_entropy(W @ X, y))", CE, "X", "W.T @ softmax(W @ X)", "wrong", None),
]


@pytest.mark.parametrize(("f", "shapes", "name", "formula", "verdict", "assumed"), CORPUS,
                         ids=[f"{c[0]}|d{c[2]}={c[3]}|{c[5] or ''}" for c in CORPUS])
def test_the_corpus_gets_the_teachers_verdict(f: str, shapes: dict[str, tuple[int, ...]], name: str, formula: str,
                                               verdict: str, assumed: str | None) -> None:
    assume = {next(n for n, s in shapes.items() if len(s) == 2 and s[0] == s[1] > 1): assumed} if assumed else None
    found = assess(parse(f), [Claim(name, parse(formula, upstream=True))], shapes, assume=assume)[name]
    assert found.kind == verdict, found.message
    assert found.right == (verdict == "right")


def test_the_corpus_is_at_least_thirty_claims_with_every_kind_of_mistake() -> None:
    assert len(CORPUS) >= 30
    assert {c[4] for c in CORPUS} >= {"right", "transposed", "missing-sum", "factor", "symmetric-only", "shape",
                                       "wrong"}


def test_right_at_the_users_numbers_by_chance_is_caught_by_the_draws() -> None:
    # d/dX Σ X² = 2X, which is X + 1 where X is all ones
    done = wxb("check", "-e", "sum(X ** 2)", "--claim", "dL/dX = X + 1", "X=1 1; 1 1", "-f", "json")
    assert done.returncode == 1, done.stderr
    (claim,) = json.loads(done.stdout)["claims"]
    assert claim["kind"] == "by-chance" and claim["wxb"] == "2 * X" and claim["at"] > 0


def test_class_labels_are_drawn_as_labels_and_the_users_are_kept() -> None:
    done = wxb("check", "-e", "sum(cross_entropy(Z, y))", "--claim", "dL/dZ = softmax(Z) - onehot(y, Z)",
               "Z=1 2; 3 4; 0 1", "y=0 2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "right at your numbers and 4 generic draws" in done.stdout
    wrong = wxb("check", "-e", "mean(cross_entropy(Z, y))", "--claim", "dL/dZ = softmax(Z) - onehot(y, Z)",
                "Z=3x4", "y=4")
    assert wrong.returncode == 1 and "4 times the gradient" in wrong.stdout, wrong.stdout + wrong.stderr


# ---- the command ----

def test_exit_zero_when_every_claim_is_right_one_when_any_is_wrong() -> None:
    right = wxb("check", "-e", "x.T @ A @ x", "--claim", "dL/dx = (A + A.T) @ x", "x=3", "A=3x3")
    assert right.returncode == 0 and "✓ dL/dx = (A + A.T) @ x" in right.stdout
    wrong = wxb("check", "-e", "x.T @ A @ x", "--claim", "dL/dx = (A + A.T) @ x", "--claim", "dL/dA = x.T @ x",
                "x=3", "A=3x3")
    assert wrong.returncode == 1
    assert "✗ dL/dA = x.T @ x" in wrong.stdout and "wxb: dL/dA = x @ x.T" in wrong.stdout


def test_the_seeds_answer_is_wrong_and_says_the_sum() -> None:
    done = wxb("check", "--claim", "dL/db = G", "-W", "1 2; 3 4", "-X", "1 0 2; 0 1 1", "-b", "1; 1")
    assert done.returncode == 1
    assert "has f's shape (2,3)" in done.stdout and "sum over axis 1" in done.stdout
    assert "wxb: dL/db = sum(G, axis=1)" in done.stdout


def test_symbolic_sizes_and_an_assumption() -> None:
    done = wxb("check", "-e", "x.T @ A @ x", "--claim", "dL/dx = 2 * A @ x", "--assume", "A=symmetric",
               "x=n", "A=nxn")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "at each of (n = 3) and (n = 7)" in done.stdout and "assuming A symmetric" in done.stdout


def test_derives_own_output_round_trips_through_claims() -> None:
    done = shell("wxb derive -e 'sum(tanh(W @ X + b) ** 2)' W=mxk X=kxn b=m | "
                 "wxb check -e 'sum(tanh(W @ X + b) ** 2)' --claims - W=mxk X=kxn b=m")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("✓") == 3


def test_numbers_as_a_claim(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "db.csv", np.array([[3.0], [3.0]]), delimiter=",")
    right = wxb("check", "--claim", "db=db.csv", "-X", "1 2 3; 4 5 6", "-b", "0; 0", cwd=tmp_path)
    assert right.returncode == 0, right.stdout + right.stderr
    assert "judged at your numbers" in right.stdout and "generic" not in right.stdout
    wrong = wxb("check", "--claim", "db=1; 1", "-X", "1 2 3; 4 5 6", "-b", "0; 0", cwd=tmp_path)
    assert wrong.returncode == 1 and "1/3 times" in wrong.stdout


@pytest.mark.parametrize(("args", "says"), [
    (["--claim", "dx = 2 * A @ x", "x=3", "A=3x3"], "write a formula as 'dL/dx = 2 * A @ x'"),
    (["--claim", "dL/dq = x", "x=3", "A=3x3"], "q is not an operand"),
    (["--claim", "dL/dx = 2 * A @@ x", "x=3", "A=3x3"], "not an expression"),
    (["--claim", "x = 1", "x=3", "A=3x3"], "expected dL/dNAME = FORMULA"),
    (["--claim", "dL/dx = A @ x", "--claim", "dL/dx = x", "x=3", "A=3x3"], "claimed twice"),
    (["--claim", "dL/dx = A @ x", "--assume", "A=round", "x=3", "A=3x3"], "--assume NAME=KIND"),
    (["--claim", "dL/dx = A @ x", "--wrt", "x", "x=3", "A=3x3"], "--wrt"),
    (["--claims", "missing.txt", "x=3", "A=3x3"], "cannot read missing.txt"),
])
def test_unusable_claims_are_one_line_and_exit_two(args: list[str], says: str, tmp_path: Path) -> None:
    done = wxb("check", "-e", "x.T @ A @ x", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("wxb: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr
