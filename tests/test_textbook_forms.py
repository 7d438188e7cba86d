"""The simplified forms a textbook prints (issues 20 and 22): for each, derive with symbolic sizes must print
what The Matrix Cookbook or a course writes, and `wxb check --claim` must find that formula right. A change to
the simplifier that makes one of these read worse fails here."""

from __future__ import annotations

import pytest
from conftest import wxb

# (expression, sizes and options, the lines derive prints)
FORMS = [
    # The Matrix Cookbook, §2.4 (first order) and §2.1 (determinants and inverses)
    ("a.T @ X @ b", ["a=m", "X=mxn", "b=n", "--wrt", "X"], ["dL/dX = a @ b.T"]),                      # (70)
    ("a.T @ X.T @ b", ["a=n", "X=mxn", "b=m", "--wrt", "X"], ["dL/dX = b @ a.T"]),                    # (71)
    ("trace(A @ X @ B)", ["A=pxm", "X=mxn", "B=nxp", "--wrt", "X"], ["dL/dX = A.T @ B.T"]),           # (102)
    ("trace(X)", ["X=nxn"], ["dL/dX = eye(X)"]),                                                       # (100)
    ("trace(X.T @ A @ X)", ["X=nxk", "A=nxn", "--wrt", "X"], ["dL/dX = (A + A.T) @ X"]),              # (111)
    ("trace(X.T @ A @ X)", ["X=nxk", "A=nxn", "--wrt", "X", "--assume", "A=symmetric"],
     ["# assuming A symmetric", "dL/dX = 2 * A @ X"]),
    ("x.T @ A @ x", ["x=n", "A=nxn", "--wrt", "x"], ["dL/dx = (A + A.T) @ x"]),                       # (81)
    ("x.T @ A @ x", ["x=n", "A=nxn", "--wrt", "x", "--assume", "A=spd"], ["# assuming A spd", "dL/dx = 2 * A @ x"]),
    ("det(X)", ["X=nxn"], ["dL/dX = det(X) * inv(X).T"]),                                              # (49)
    ("log(det(X))", ["X=nxn"], ["dL/dX = inv(X).T"]),                                                  # (57)
    ("logdet(X)", ["X=nxn"], ["dL/dX = inv(X).T"]),
    ("det(inv(X))", ["X=nxn"], ["z = inv(X)", "dL/dX = -det(z) * z.T"]),
    ("trace(inv(X) @ A)", ["X=nxn", "A=nxn", "--wrt", "X"], ["z = inv(X).T", "dL/dX = -z @ A.T @ z"]),  # (63)
    ("logdet(Q)", ["Q=nxn", "--assume", "Q=orthogonal"], ["# assuming Q orthogonal", "dL/dQ = Q"]),
    # least squares, ridge, logistic regression, softmax cross-entropy, a two-layer network
    ("sum((X @ w - y) ** 2)", ["X=mxn", "w=n", "y=m", "--wrt", "w"], ["dL/dw = 2 * X.T @ (X @ w - y)"]),
    ("norm(X @ w - y) ** 2", ["X=mxn", "w=n", "y=m", "--wrt", "w"], ["dL/dw = 2 * X.T @ (X @ w - y)"]),
    ("sum((X @ w - y) ** 2) + lam * sum(w ** 2)", ["X=mxn", "w=n", "y=m", "lam=()", "--wrt", "w"],
     ["dL/dw = 2 * (lam * w + X.T @ (X @ w - y))"]),
    ("sum(log(1 + exp(-y * (X.T @ w))))", ["X=nxm", "w=n", "y=m", "--wrt", "w"],
     ["dL/dw = -X @ (sigmoid(-y * (X.T @ w)) * y)"]),
    ("-sum(T * log_softmax(W @ X + b, axis=0))", ["W=kxd", "X=dxn", "b=k", "T=kxn", "--wrt", "W,b"],
     ["z = softmax(W @ X + b, axis=0) * sum(T, axis=0) - T", "dL/dW = z @ X.T", "dL/db = sum(z, axis=1)"]),
    ("sum(relu(W @ X + b))", ["W=hxd", "X=dxn", "b=h", "--wrt", "W,b"],
     ["z = step(W @ X + b)", "dL/dW = z @ X.T", "dL/db = sum(z, axis=1)"]),
    ("sum((W2 @ tanh(W1 @ X + b1) + b2 - Y) ** 2)",
     ["W1=hxd", "X=dxn", "b1=h", "W2=kxh", "b2=k", "Y=kxn", "--wrt", "W1,b1,W2,b2"],
     ["z1 = tanh(W1 @ X + b1)", "z2 = W2 @ z1 + b2 - Y", "z3 = 2 * W2.T @ z2 * (1 - z1 ** 2)",
      "dL/dW2 = 2 * z2 @ z1.T", "dL/dW1 = z3 @ X.T", "dL/db1 = sum(z3, axis=1)", "dL/db2 = 2 * sum(z2, axis=1)"]),
    # the seed: f = W·X ⊕ b, whose bias gradient is G summed over the broadcast axis
    ("W @ X + b", ["W=mxk", "X=kxn", "b=m", "--wrt", "b"], ["dL/db = sum(G, axis=1)"]),
    # vec's adjoint is unvec: ⟨vec X, c⟩ has the gradient c refilled into X's shape (ones times c are c)
    ("sum(vec(X) * c)", ["X=2x3", "c=6"], ["dL/dX = unvec(c, X)", "dL/dc = vec(X)"]),
]


@pytest.mark.parametrize(("expression", "args", "lines"), FORMS, ids=[f"{e} {' '.join(a)}" for e, a, _ in FORMS])
def test_derive_prints_the_textbook_form(expression: str, args: list[str], lines: list[str]) -> None:
    done = wxb("derive", "-e", expression, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == lines


# (index into FORMS, the concrete sizes check draws at, its options)
JUDGED = [(5, ["X=4x2", "A=4x4"], ["--assume", "A=symmetric"]), (9, ["X=3x3"], []),
          (13, ["Q=3x3"], ["--assume", "Q=orthogonal"]), (16, ["X=4x3", "w=3", "y=4", "lam=()"], []),
          (18, ["W=3x2", "X=2x4", "b=3", "T=3x4"], [])]


@pytest.mark.parametrize(("index", "sizes", "options"), JUDGED, ids=[FORMS[i][0] for i, _, _ in JUDGED])
def test_the_textbook_form_is_judged_right(index: int, sizes: list[str], options: list[str]) -> None:
    """Round trip: derive's output, fed to check --claims, is right at seeded draws of the sizes."""
    expression, _, lines = FORMS[index]
    done = wxb("check", "-e", expression, "--claims", "-", *options, *sizes, stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, (done.stdout, done.stderr)
