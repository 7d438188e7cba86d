"""`-e EXPR` through the real wxb process: numbers against NumPy maths written out by hand, keyed records,
binding and expression errors, duplicate options, NaN warnings and the seed's notation.

Every case runs `python -m wxb.cli` in a subprocess, as a shell user or a script would.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, wxb

MLP = ROOT / "samples" / "mlp"

Completed = subprocess.CompletedProcess


def ok_json(*args: str) -> Any:
    """Run wxb with --format json; it must succeed quietly; the parsed JSON."""
    done = wxb(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return json.loads(done.stdout)


def assert_one_line_error(done: Completed[str], *fragments: str) -> str:
    """Exit 2, nothing on stdout, one `wxb: error: ...` line on stderr holding every fragment."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("wxb: error: "), done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def csv(name: str) -> np.ndarray:
    """A samples/mlp CSV as a 2-D float64 array (a one-column file is a column)."""
    return np.loadtxt(MLP / f"{name}.csv", delimiter=",", ndmin=2)


def close(actual: Any, expected: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), expected, rtol=1e-12, atol=1e-14)


# ---- hand-written maths (columns are samples: softmax over axis 0) ----

def softmax0(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def log_softmax0(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


W_LIT, X_LIT, B_LIT = "1 -1; 2 0.5", "1 2; 3 4", "0.5; -2"
W_NP = np.array([[1.0, -1.0], [2.0, 0.5]])
X_NP = np.array([[1.0, 2.0], [3.0, 4.0]])
B_NP = np.array([[0.5], [-2.0]])


# ---- forward on literals ----

FORWARD_CASES = [
    ("relu(W @ X + b)", "WXb", lambda: np.maximum(W_NP @ X_NP + B_NP, 0)),
    ("tanh(W @ X + b)", "WXb", lambda: np.tanh(W_NP @ X_NP + B_NP)),
    ("sigmoid(W @ X + b)", "WXb", lambda: 1 / (1 + np.exp(-(W_NP @ X_NP + B_NP)))),
    ("exp(W) * X - b", "WXb", lambda: np.exp(W_NP) * X_NP - B_NP),
    ("log(X) / sqrt(abs(W))", "WX", lambda: np.log(X_NP) / np.sqrt(np.abs(W_NP))),
    ("softmax(W @ X + b)", "WXb", lambda: softmax0(W_NP @ X_NP + B_NP)),
    ("softmax(W @ X, axis=1)", "WX", lambda: softmax0((W_NP @ X_NP).T).T),
    ("log_softmax(W @ X + b)", "WXb", lambda: log_softmax0(W_NP @ X_NP + B_NP)),
    ("logsumexp(W)", "W", lambda: np.log(np.exp(W_NP).sum())),
    ("logsumexp(W, axis=0)", "W", lambda: np.log(np.exp(W_NP).sum(axis=0, keepdims=True))),
    ("sum(W * X, axis=1)", "WX", lambda: (W_NP * X_NP).sum(axis=1, keepdims=True)),
    ("sum(W * X, axis=1, keepdims=False)", "WX", lambda: (W_NP * X_NP).sum(axis=1)),
    ("exp(W) / sum(exp(W), axis=0)", "W", lambda: softmax0(W_NP)),
    ("W - mean(W, axis=1)", "W", lambda: W_NP - W_NP.mean(axis=1, keepdims=True)),
    ("mean(W @ X)", "WX", lambda: (W_NP @ X_NP).mean()),
    ("-(W.T @ X) ** 2", "WX", lambda: -((W_NP.T @ X_NP) ** 2)),
    ("X ** -1 + 2 * b", "Xb", lambda: 1 / X_NP + 2 * B_NP),
]
BINDINGS = {"W": f"W={W_LIT}", "X": f"X={X_LIT}", "b": f"b={B_LIT}"}


@pytest.mark.parametrize(("expr", "names", "expected"), FORWARD_CASES, ids=[case[0] for case in FORWARD_CASES])
def test_forward_expression_on_literals(expr: str, names: str, expected: Any) -> None:
    f = ok_json("forward", "-e", expr, *[BINDINGS[name] for name in names])
    close(f, expected())


def test_backward_relu_layer_on_literals() -> None:
    grads = ok_json("backward", "-e", "relu(W @ X + b)", f"W={W_LIT}", f"X={X_LIT}", f"b={B_LIT}")
    z = W_NP @ X_NP + B_NP
    dz = (z > 0).astype(float)  # G = 1
    assert set(grads) == {"dW", "dX", "db"}
    close(grads["dW"], dz @ X_NP.T)
    close(grads["dX"], W_NP.T @ dz)
    close(grads["db"], dz.sum(axis=1, keepdims=True))


# ---- samples/mlp: a one-layer tanh net ----

def test_forward_and_backward_one_layer_tanh_on_mlp_sample() -> None:
    W1, X, b1 = csv("W1"), csv("X"), csv("b1")
    args = ("-e", "tanh(W1 @ X + b1)", f"W1={MLP / 'W1.csv'}", f"X={MLP / 'X.csv'}", f"b1={MLP / 'b1.csv'}")
    h = np.tanh(W1 @ X + b1)
    close(ok_json("forward", *args), h)
    grads = ok_json("backward", *args)
    dz = 1 - h**2  # G = 1 (--loss sum)
    assert set(grads) == {"dW1", "dX", "db1"}
    close(grads["dW1"], dz @ X.T)
    close(grads["dX"], W1.T @ dz)
    close(grads["db1"], dz.sum(axis=1, keepdims=True))


def test_backward_one_layer_with_a_given_upstream_gradient(tmp_path: Path) -> None:
    W1, X, b1 = csv("W1"), csv("X"), csv("b1")
    G = np.arange(16.0).reshape(4, 4) / 8 - 1
    np.save(tmp_path / "G.npy", G)
    grads = ok_json("backward", "-e", "tanh(W1 @ X + b1)", f"W1={MLP / 'W1.csv'}", "-X", str(MLP / "X.csv"),
                    f"b1={MLP / 'b1.csv'}", "-G", str(tmp_path / "G.npy"), "--wrt", "W1,b1")
    dz = G * (1 - np.tanh(W1 @ X + b1) ** 2)
    assert set(grads) == {"dW1", "db1"}
    close(grads["dW1"], dz @ X.T)
    close(grads["db1"], dz.sum(axis=1, keepdims=True))


# ---- softmax cross-entropy written as an expression ----

CE = "-sum(T * log_softmax(W @ X + b))"
CE_W = "1 0 -1; 0.5 0.5 2"


def ce_args() -> tuple[str, ...]:
    return ("-e", CE, f"W={CE_W}", "-X", str(MLP / "X.csv"), "-b", "0.1; -0.2", "-T", str(MLP / "T.csv"))


def test_cross_entropy_forward_and_gradients() -> None:
    W = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]])
    X, T, b = csv("X"), csv("T"), np.array([[0.1], [-0.2]])
    z = W @ X + b
    loss = -np.sum(T * log_softmax0(z))
    close(ok_json("forward", *ce_args()), np.array(loss))
    grads = ok_json("backward", *ce_args())  # a scalar f needs no -G
    dz = softmax0(z) * T.sum(axis=0, keepdims=True) - T
    assert set(grads) == {"dW", "dX", "db", "dT"}
    close(grads["dW"], dz @ X.T)
    close(grads["dX"], W.T @ dz)
    close(grads["db"], dz.sum(axis=1, keepdims=True))
    close(grads["dT"], -log_softmax0(z))


def test_cross_entropy_single_wrt_is_a_bare_array() -> None:
    db = ok_json("backward", *ce_args(), "--wrt", "b")
    assert isinstance(db, list)
    assert np.asarray(db).shape == (2, 1)


# ---- the two-layer net ----

NET = "W2 @ tanh(W1 @ X + b1) + b2"


def net_bindings() -> list[str]:
    return [f"{name}={MLP / (name + '.csv')}" for name in ("W1", "b1", "W2", "b2", "X")]


def net_by_hand() -> dict[str, np.ndarray]:
    W1, b1, W2, b2, X = (csv(name) for name in ("W1", "b1", "W2", "b2", "X"))
    h = np.tanh(W1 @ X + b1)
    f = W2 @ h + b2
    G = np.ones_like(f)
    dz = (W2.T @ G) * (1 - h**2)
    return {"f": f, "dW2": G @ h.T, "db2": G.sum(axis=1, keepdims=True), "dW1": dz @ X.T,
            "db1": dz.sum(axis=1, keepdims=True), "dX": W1.T @ dz}


def test_two_layer_forward_from_files_and_from_bundle() -> None:
    expected = net_by_hand()["f"]
    close(ok_json("forward", "-e", NET, *net_bindings()), expected)
    close(ok_json("forward", "-e", NET, "--from", str(MLP / "mlp.npz")), expected)


def test_two_layer_backward_all_json_keys_and_values() -> None:
    grads = ok_json("backward", "-e", NET, *net_bindings(), "--wrt", "all")
    expected = net_by_hand()
    assert set(grads) == {"dW1", "db1", "dW2", "db2", "dX"}
    for key, value in grads.items():
        close(value, expected[key])


def test_two_layer_backward_npz_keys(tmp_path: Path) -> None:
    out = tmp_path / "grads.npz"
    done = wxb("backward", "-e", NET, *net_bindings(), "--wrt", "all", "-o", str(out))
    assert done.returncode == 0, done.stderr
    expected = net_by_hand()
    with np.load(out, allow_pickle=False) as saved:
        assert set(saved.files) == {"dW1", "db1", "dW2", "db2", "dX"}
        for key in saved.files:
            close(saved[key], expected[key])


def test_two_layer_wrt_two_names_is_a_keyed_record_of_those_two() -> None:
    grads = ok_json("backward", "-e", NET, *net_bindings(), "--wrt", "W1,b2")
    assert set(grads) == {"dW1", "db2"}


def test_two_layer_backward_from_the_sample_bundle() -> None:
    """mlp.npz also holds T (for the cross-entropy); an expression without T must still work from it, as
    forward, check and jacobian do."""
    done = wxb("backward", "-e", NET, "--from", str(MLP / "mlp.npz"), "--wrt", "all", "--format", "json")
    assert done.returncode == 0, done.stderr
    expected = net_by_hand()
    for key, value in json.loads(done.stdout).items():
        close(value, expected[key])


def test_explain_two_layer_from_the_sample_bundle() -> None:
    done = wxb("explain", "-e", NET, "--from", str(MLP / "mlp.npz"))
    assert done.returncode == 0, done.stderr


def test_cross_entropy_through_the_two_layer_net_from_the_bundle() -> None:
    grads = ok_json("backward", "-e", f"-sum(T * log_softmax({NET}))", "--from", str(MLP / "mlp.npz"))
    assert set(grads) == {"dW1", "db1", "dW2", "db2", "dX", "dT"}
    W1, b1, W2, b2, X, T = (csv(name) for name in ("W1", "b1", "W2", "b2", "X", "T"))
    h = np.tanh(W1 @ X + b1)
    z = W2 @ h + b2
    dz = softmax0(z) * T.sum(axis=0, keepdims=True) - T
    close(grads["dW2"], dz @ h.T)
    close(grads["db2"], dz.sum(axis=1, keepdims=True))
    dz1 = (W2.T @ dz) * (1 - h**2)
    close(grads["dW1"], dz1 @ X.T)
    close(grads["dX"], W1.T @ dz1)


# ---- check, explain and jacobian with -e ----

@pytest.mark.parametrize("expr", ["tanh(W1 @ X + b1)", NET, f"-sum(T * log_softmax({NET}))"])
def test_check_passes_on_the_mlp_sample(expr: str) -> None:
    report = ok_json("check", "-e", expr, "--from", str(MLP / "mlp.npz"))
    assert report["passed"] is True
    verdicts = {result["operand"]: result["verdict"] for result in report["results"]}
    used = {"W1", "b1", "X"} | ({"W2", "b2"} if "W2" in expr else set()) | ({"T"} if "T" in expr else set())
    assert set(verdicts) == used
    assert set(verdicts.values()) == {"pass"}


def test_explain_expression_text_and_json() -> None:
    args = ("explain", "-e", "tanh(W1 @ X + b1)", *net_bindings()[:2], f"X={MLP / 'X.csv'}")
    done = wxb(*args)
    assert done.returncode == 0, done.stderr
    assert "tanh" in done.stdout and "W1" in done.stdout and "b1" in done.stdout
    record = ok_json(*args)
    assert record["steps"]
    assert all({"title", "formula", "arrays"} <= set(step) for step in record["steps"])


def test_explain_never_names_an_intermediate_as_an_operand() -> None:
    done = wxb("explain", "-e", "z1 * tanh(z2 @ X)", "z1=2", "z2=1 0; 0 1", "X=1 2; 3 4", "--wrt", "z2")
    assert done.returncode == 0, done.stderr
    assert "z1 = z2·X" not in done.stdout and "z2 = tanh(z1)" not in done.stdout
    assert "z3 = z2·X" in done.stdout and "z4 = tanh(z3)" in done.stdout


def test_jacobian_dense_of_tanh_layer_against_hand_jacobian() -> None:
    W1, X, b1 = csv("W1"), csv("X"), csv("b1")
    J = ok_json("jacobian", "-e", "tanh(W1 @ X + b1)", *net_bindings()[:2], f"X={MLP / 'X.csv'}",
                "--wrt", "b1", "--dense")
    d = 1 - np.tanh(W1 @ X + b1) ** 2
    expected = np.zeros((4, 4, 4, 1))  # ∂f[i,k]/∂b1[p,0] = δ_ip (1 − f[i,k]²)
    for i in range(4):
        expected[i, :, i, 0] = d[i]
    close(J, expected)


def test_jacobian_block_and_structure_of_tanh_layer() -> None:
    W1, X, b1 = csv("W1"), csv("X"), csv("b1")
    args = ("jacobian", "-e", "tanh(W1 @ X + b1)", *net_bindings()[:2], f"X={MLP / 'X.csv'}", "--wrt", "b1")
    block = ok_json(*args, "--block", "2")
    d = 1 - np.tanh(W1 @ X + b1) ** 2
    close(np.asarray(block).reshape(4, 4), np.diag(d[:, 2]))
    structure = wxb(*args)
    assert structure.returncode == 0, structure.stderr
    assert "b1" in structure.stdout and "\x1b[" not in structure.stdout


# ---- --wrt all without -W ----

def test_backward_wrt_all_without_w_is_a_keyed_record() -> None:
    grads = ok_json("backward", "-X", "1 2; 3 4", "-b", "5; 6", "--wrt", "all")
    assert set(grads) == {"dX", "db"}
    assert grads["db"] == [[2.0], [2.0]]  # jq .db
    assert grads["dX"] == [[1.0, 1.0], [1.0, 1.0]]


def test_backward_wrt_all_without_w_npz_keys(tmp_path: Path) -> None:
    out = tmp_path / "g.npz"
    done = wxb("backward", "-X", "1 2; 3 4", "-b", "5; 6", "--wrt", "all", "-o", str(out))
    assert done.returncode == 0, done.stderr
    with np.load(out, allow_pickle=False) as saved:
        assert sorted(saved.files) == ["dX", "db"]


def test_backward_single_wrt_without_w_is_a_bare_array() -> None:
    assert ok_json("backward", "-X", "1 2; 3 4", "-b", "5; 6", "--wrt", "X") == [[1.0, 1.0], [1.0, 1.0]]


def test_check_covers_x_without_w() -> None:
    report = ok_json("check", "-X", "1 2; 3 4", "-b", "5; 6")
    assert {result["operand"] for result in report["results"]} == {"X", "b"}


# ---- a scalar -G broadcasts ----

def test_scalar_upstream_gradient_broadcasts_default_expression() -> None:
    assert ok_json("backward", "-X", "1 2; 3 4", "-b", "5; 6", "-G", "2") == [[4.0], [4.0]]
    grads = ok_json("backward", "-X", "1 2; 3 4", "-b", "5; 6", "-G", "2", "--wrt", "all")
    assert grads == {"dX": [[2.0, 2.0], [2.0, 2.0]], "db": [[4.0], [4.0]]}


def test_scalar_upstream_gradient_broadcasts_expression() -> None:
    grads = ok_json("backward", "-e", "tanh(W @ X + b)", f"W={W_LIT}", f"X={X_LIT}", f"b={B_LIT}", "-G", "2")
    dz = 2 * (1 - np.tanh(W_NP @ X_NP + B_NP) ** 2)
    close(grads["dW"], dz @ X_NP.T)
    close(grads["db"], dz.sum(axis=1, keepdims=True))


# ---- float32 stays float32 ----

@pytest.fixture()
def f32(tmp_path: Path) -> Path:
    np.save(tmp_path / "x32.npy", np.array([[0.1, 2.25], [3.0, -4.5]], dtype=np.float32))
    np.save(tmp_path / "w32.npy", np.array([[1.0, 2.0], [0.5, -1.0]], dtype=np.float32))
    return tmp_path


def npz_dtypes(path: Path) -> dict[str, np.dtype[Any]]:
    with np.load(path, allow_pickle=False) as saved:
        return {key: saved[key].dtype for key in saved.files}


def test_float32_operand_with_scalar_literal_stays_float32(f32: Path) -> None:
    done = wxb("forward", "-X", str(f32 / "x32.npy"), "-b", "0", "-o", str(f32 / "f.npz"))
    assert done.returncode == 0, done.stderr
    assert npz_dtypes(f32 / "f.npz") == {"f": np.dtype(np.float32)}
    done = wxb("backward", "-X", str(f32 / "x32.npy"), "-b", "1", "--wrt", "all", "-o", str(f32 / "g.npz"))
    assert done.returncode == 0, done.stderr
    assert npz_dtypes(f32 / "g.npz") == {"dX": np.dtype(np.float32), "db": np.dtype(np.float32)}


def test_float32_expression_with_literals_stays_float32(f32: Path) -> None:
    out = f32 / "g.npz"
    done = wxb("backward", "-e", "tanh(W @ X * 2 + b)", f"W={f32 / 'w32.npy'}", f"X={f32 / 'x32.npy'}",
               "b=0.5", "--wrt", "all", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert set(npz_dtypes(out).values()) == {np.dtype(np.float32)}


def test_float32_written_as_text_in_its_own_shortest_form(f32: Path) -> None:
    done = wxb("forward", "-X", str(f32 / "x32.npy"), "-b", "0", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "0.1,2.25"


# ---- binding errors ----

TWO = ("-e", "W @ X + b", "W=1 2; 3 4", "X=1 2; 3 4")


def test_unbound_name_is_one_error() -> None:
    assert_one_line_error(wxb("forward", *TWO), "b")


def test_unused_name_is_one_error() -> None:
    assert_one_line_error(wxb("forward", *TWO, "b=1", "c=2"), "c")


def test_unbound_and_unused_names_are_one_error_listing_both() -> None:
    line = assert_one_line_error(wxb("forward", *TWO, "c=2"))
    assert "b is used" in line and "c is given" in line


@pytest.mark.parametrize("args", [
    ("W=1", "W=2", "X=1"),
    ("-W", "1", "W=2", "X=1"),
], ids=["name twice", "shorthand and name"])
def test_name_bound_twice_is_refused(args: tuple[str, ...]) -> None:
    assert_one_line_error(wxb("forward", "-e", "W * X", *args), "W", "twice")


def test_g_cannot_be_bound_as_an_operand() -> None:
    assert_one_line_error(wxb("backward", "-e", "W * X", "W=1", "X=1", "G=1"), "G", "-G")


@pytest.mark.parametrize("binding", ["=1", "X 1 2", "1X=3", "W", "for=1", "W-1=2"])
def test_malformed_binding_is_refused(binding: str) -> None:
    assert_one_line_error(wxb("forward", "-e", "W * X", "W=1", binding), "NAME=SOURCE")


def test_bundle_binds_by_key_and_unknown_operand_option_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "b.npz", A=np.array([[1.0, 2.0]]), c=np.array([[3.0, 4.0]]))
    assert ok_json("forward", "-e", "A * c", "--from", str(tmp_path / "b.npz")) == [[3.0, 8.0]]


# ---- expression errors ----

@pytest.mark.parametrize(("expr", "fragment"), [
    ("foo(W)", "unknown function"),
    ("W[0]", "subscript"),
    ("W.shape", "shape"),
    ("lambda: W", "lambda"),
    ("__import__('os').system('true')", "unknown function"),
    ("sum(W, keepdims=True)", "keepdims"),
    ("tanh(W, W)", "argument"),
    ("W ** X", "exponent"),
    ("W +", "expression"),
    ("", "empty"),
    ("W if W else W", "not allowed"),
    ("tanh", "function"),
])
def test_expression_errors_are_one_line_exit_2(expr: str, fragment: str) -> None:
    assert_one_line_error(wxb("forward", "-e", expr, "W=1 2; 3 4", "X=1 2; 3 4"), fragment)


def test_expression_error_marks_the_position() -> None:
    line = assert_one_line_error(wxb("forward", "-e", "W @ X + W[0]", "W=1", "X=1"))
    assert "column 9" in line


def test_deep_nesting_is_refused_cleanly() -> None:
    deep = "(" * 3000 + "W" + ")" * 3000
    assert_one_line_error(wxb("forward", "-e", deep, "W=1"), "nest")
    unary = "-" * 5000 + "W"
    assert_one_line_error(wxb("backward", "-e", unary, "W=1"), "nest")


# ---- duplicate options ----

@pytest.mark.parametrize("args", [
    ("forward", "-X", "1", "-X", "2", "-b", "1"),
    ("forward", "-X", "1", "-b", "1", "--bias", "2"),
    ("forward", "-e", "X", "-e", "X", "X=1"),
    ("backward", "-X", "1", "-b", "1", "-G", "1", "-G", "2"),
    ("backward", "-X", "1", "-b", "1", "--wrt", "b", "--wrt", "X"),
    ("forward", "-X", "1", "-b", "1", "-f", "csv", "--format", "json"),
    ("explain", "-X", "1", "-b", "1", "-f", "json", "-f", "text"),
], ids=["-X", "-b/--bias", "-e", "-G", "--wrt", "-f/--format", "explain -f"])
def test_an_option_given_twice_is_refused(args: tuple[str, ...]) -> None:
    assert_one_line_error(wxb(*args))


# ---- NaN and infinity warnings ----

def warning_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert all(line.startswith("wxb: warning: ") for line in lines), stderr
    assert "RuntimeWarning" not in stderr and "Traceback" not in stderr
    return lines


def test_nan_in_forward_result_is_a_warning_line() -> None:
    done = wxb("forward", "-e", "log(X)", "X=-1 1; 2 3", "--format", "json")
    assert done.returncode == 0
    assert json.loads(done.stdout)[0][0] is None  # NaN, written as JSON's null
    lines = warning_lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("wxb: warning: f has 1 NaN")


def test_each_nonfinite_gradient_gets_its_own_warning() -> None:
    done = wxb("backward", "-X", "1 2; 3 4", "-b", "5; 6", "-G", "nan 1; 1 1", "--wrt", "all", "--format", "json")
    assert done.returncode == 0
    lines = warning_lines(done.stderr)
    assert [line.split()[2] for line in lines] == ["dX", "db"]
    assert all(" has 1 NaN" in line for line in lines)


def test_a_result_with_nan_and_infinity_is_one_warning_line() -> None:
    """The contract: one `wxb: warning: <result> has N ...` line per result."""
    done = wxb("forward", "-e", "log(X)", "X=0 -1; 1 2", "--format", "json")
    assert done.returncode == 0
    lines = warning_lines(done.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("wxb: warning: f has ")


def test_no_warning_for_finite_results() -> None:
    done = wxb("forward", "-e", "exp(X)", "X=700", "--format", "json")
    assert done.returncode == 0 and done.stderr == ""
    overflow = wxb("forward", "-e", "exp(X)", "X=710", "--format", "json")
    assert overflow.returncode == 0
    assert warning_lines(overflow.stderr)[0].startswith("wxb: warning: f has 1 infinite")


def test_a_finite_result_whose_sum_overflows_has_no_warning() -> None:
    done = wxb("forward", "-X", "1e308 1e308", "-b", "0", "--format", "json")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(done.stdout) == [[1e308, 1e308]]


def test_nan_from_infinite_operands_names_them_not_nan_in_the_operands() -> None:
    done = wxb("forward", "-e", "X * Y", "X=inf -inf 1", "Y=0 1 1", "--format", "json")
    [line] = warning_lines(done.stderr)
    assert "f has 1 NaN entry" in line and "NaN in the operands" not in line
    assert "infinite entries of X" in line
    assert "1 infinite entry (from the infinite entries of X" in line


@pytest.mark.parametrize(("given", "cause"), [("nan 1", "from NaN in G"), ("inf 1", "from the infinite entries of G")])
def test_a_nonfinite_G_is_named_as_the_cause(given: str, cause: str) -> None:
    done = wxb("backward", "-e", "X * Y", "X=1 1", "Y=2 1", "-G", given, "--wrt", "X", "--format", "json")
    [line] = warning_lines(done.stderr)
    assert line.startswith("wxb: warning: dX has 1 ") and cause in line, line


def test_a_nonfinite_mse_target_is_named_as_the_cause() -> None:
    done = wxb("backward", "-X", "1 2", "-b", "0", "--loss", "mse", "-T", "nan 1", "--wrt", "X", "--format", "json")
    [line] = warning_lines(done.stderr)
    assert "from NaN in T" in line, line


# ---- the seed's own notation ----

def test_seed_notation_gives_the_same_as_the_default() -> None:
    operands = ("-W", "1 2; 3 4", "-X", "1 2; 3 4", "-b", "5; 6")
    default = ok_json("forward", *operands)
    assert ok_json("forward", "-e", "W·X ⊕ b", *operands) == default
    assert ok_json("forward", "-e", "W·X⊕b", *operands) == default
    assert ok_json("backward", "-e", "W·X ⊕ b", *operands, "--wrt", "all") == \
        ok_json("backward", *operands, "--wrt", "all")


def test_seed_notation_hadamard_and_transpose() -> None:
    f = ok_json("forward", "-e", "(W⊙X)ᵀ ⊕ b", "-W", "1 2; 3 4", "-X", "5 6; 7 8", "-b", "1; 0")
    assert f == [[6.0, 22.0], [12.0, 32.0]]


# ---- hostile inputs: bugs found by trying ----

def test_softmax_of_large_equal_entries_is_a_distribution() -> None:
    """exp(x − logsumexp(x)) loses x's digits when |x| is large: softmax([1e20; 1e20]) must be [½; ½]."""
    assert ok_json("forward", "-e", "softmax(W)", "W=1e20; 1e20") == [[0.5], [0.5]]
    close(ok_json("forward", "-e", "log_softmax(W)", "W=1e20; 1e20"), np.full((2, 1), -np.log(2)))


def test_logsumexp_gradient_of_large_equal_entries_is_the_softmax() -> None:
    close(ok_json("backward", "-e", "logsumexp(W)", "W=1e20; 1e20")["dW"], np.full((2, 1), 0.5))


def test_softmax_of_moderate_entries_is_exact() -> None:
    assert ok_json("forward", "-e", "softmax(W)", "W=1000; 1000") == [[0.5], [0.5]]


def test_check_does_not_fail_correct_softmax_gradients() -> None:
    """Σ softmax is constant, so the exact gradient is 0; rounding-level noise is not a mismatch (exit 1 means
    a real one)."""
    done = wxb("check", "-e", "softmax(W @ X + b)", "W=0.1 0.2; 0.3 0.4", "X=1 2; 3 4", "b=0.5; 1")
    assert done.returncode == 0, done.stdout


def test_check_does_not_fail_a_correct_tanh_layer_beside_a_large_weight() -> None:
    """Row 0 of W @ X is about 1e8 and saturates tanh; row 1 is ordinary. db is right (sech² by hand), so
    check must not report a mismatch: a bias step sized by the large row overshoots the small one."""
    W, b = np.array([[1e8, 0.0], [0.0, 1.0]]), np.array([[5.0], [6.0]])
    z = W @ X_NP + b
    analytic = ok_json("backward", "-e", "tanh(W @ X + b)", "W=1e8 0; 0 1", f"X={X_LIT}", "b=5; 6")["db"]
    with np.errstate(over="ignore"):
        sech2 = 1 / np.cosh(z) ** 2
    np.testing.assert_allclose(analytic, sech2.sum(axis=1, keepdims=True), rtol=1e-6)
    done = wxb("check", "-e", "tanh(W @ X + b)", "W=1e8 0; 0 1", f"X={X_LIT}", "b=5; 6")
    assert done.returncode == 0, done.stdout


def test_check_of_an_overflowing_gradient_is_not_a_mismatch() -> None:
    """d(1/W)/dW = −1/W² overflows to −inf at W = 1e-200: 'cannot check', not a NaN failure."""
    done = wxb("check", "-e", "1 / W", "W=1e-200 1")
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("command", ["backward", "jacobian", "check", "explain"])
def test_an_expression_without_operands_is_refused_in_plain_words(command: str) -> None:
    done = wxb(command, "-e", "2")
    if done.returncode == 0:
        assert done.stdout.strip(), "exit 0 with nothing to show"
        return
    line = assert_one_line_error(done)
    assert "write_results" not in line and "tuple index" not in line


def test_unicode_operand_names_bind_as_written() -> None:
    """Python's parser folds ℌ to H (NFKC); a binding ℌ=1 must reach the operand the user wrote."""
    done = wxb("forward", "-e", "ℌ + X", "ℌ=1", "X=2", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 3.0


def test_unicode_minus_and_greek_names() -> None:
    assert ok_json("forward", "-e", "α − X", "α=5", "X=2") == 3.0


def test_fullwidth_operand_names_bind_as_written() -> None:
    """A CJK input method types Ｗ (U+FF37); the parser folds it to W, the binding must follow."""
    done = wxb("forward", "-e", "Ｗ + X", "Ｗ=1", "X=2", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 3.0


def test_source_errors_name_the_binding_as_typed() -> None:
    """W bound as W=... is not -W: the message names what the user typed (as it does for W1=)."""
    line = assert_one_line_error(wxb("forward", "-e", "W + X", "W=/nonexistent.csv", "X=2"))
    assert "W=" in line and "-W" not in line
    line = assert_one_line_error(wxb("forward", "-e", "W1 + X", "W1=/nonexistent.csv", "X=2"))
    assert "W1=" in line


# ---- 1-D operands, explain's sums, and where an expression ends ----

def test_the_transpose_of_a_1d_column_is_a_row() -> None:
    done = wxb("forward", "-e", "x.T + y", "x=[1, 2, 3]", "y=0 0 0; 0 0 0", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    grads = json.loads(wxb("backward", "-e", "sum(xᵀ * y)", "x=[1, 2]", "y=1 1; 2 2", "--format", "json").stdout)
    assert grads == {"dx": [3.0, 3.0], "dy": [[1.0, 2.0], [1.0, 2.0]]}


def test_explain_states_which_axes_are_summed() -> None:
    nd = wxb("explain", "-X", "samples/conv/A.npy", "-b", "samples/conv/bias.npy", "-G", "samples/conv/G.npy",
             "--format", "json")
    last = json.loads(nd.stdout)["steps"][-1]
    assert last["formula"] == "dL/db = G summed over axes 0, 2, 3"
    done = wxb("explain", "-e", "softmax(X, axis=1) + logsumexp(X, axis=0) + mean(X, axis=1)", "X=1 2; 3 4",
               "--format", "json")
    formulas = [step["formula"] for step in json.loads(done.stdout)["steps"]]
    assert "f = softmax(X, axis=1)" in " ".join(formulas) or any("axis=1" in f for f in formulas)
    assert any(f.startswith("G_z4 = G summed over axis 1") for f in formulas), formulas


def test_an_expression_that_ends_too_early_is_marked_at_its_end() -> None:
    done = wxb("forward", "-e", "W @ X +", "W=1 2", "X=1; 1")
    assert done.returncode == 2 and "ends too early, at column 8: W @ X +⟨here⟩" in done.stderr


@pytest.mark.parametrize(("x", "given"), [((3,), (3, 1)), ((3, 1), (3,))])
def test_a_column_and_a_1d_upstream_or_target_are_the_same(tmp_path: Path, x: tuple[int, ...],
                                                            given: tuple[int, ...]) -> None:
    """A 1-D value is a column: a (3,1) G or T for a (3,) f, and a (3,) one for a (3,1) f, are f's own shape."""
    W = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    xs, g = np.array([1.0, 0.0, -1.0]).reshape(x), np.array([1.0, 0.0, 0.0]).reshape(given)
    for name, value in {"W": W, "x": xs, "g": g}.items():
        np.save(tmp_path / f"{name}.npy", value)
    problem = ["backward", "-e", "softmax(W @ x)", f"W={tmp_path}/W.npy", f"x={tmp_path}/x.npy", "--wrt", "x"]
    from wxb.core.engine import Problem

    exact = Problem.build("softmax(W @ x)", {"W": W, "x": xs})
    for upstream in (["-G", f"{tmp_path}/g.npy"], ["--loss", "mse", "-T", f"{tmp_path}/g.npy"],
                     ["--loss", "mse", "--target", f"{tmp_path}/g.npy"]):
        done = wxb(*problem, *upstream, "-f", "json")
        assert done.returncode == 0, (upstream, done.stderr)
        if upstream[0] == "-G":
            want = exact.backward(g.reshape(exact.f_shape), ["x"]).keyed()["dx"]
        else:
            want = exact.backward(None, ["x"], loss="mse", target=g.reshape(exact.f_shape)).keyed()["dx"]
        np.testing.assert_allclose(np.array(json.loads(done.stdout)).reshape(x), want, rtol=1e-12)
