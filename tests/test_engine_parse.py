"""The expression parser: the graph each whitelisted construct gives, the seed's notation, every refusal with its
place marked, deep nesting refused cleanly, random text never raising anything but ExpressionError, and the
binding of operands to an expression's names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxb.core.engine import Problem
from wxb.core.errors import WxbError
from wxb.core.expr import FUNCTIONS, MAX_DEPTH, Expression, ExpressionError, Node, parse

MARK = "⟨here⟩"


def refusal(text: str) -> str:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert isinstance(caught.value, WxbError)
    return str(caught.value)


def marked(text: str, column: int) -> str:
    """The text with the marker before `column` (0-based), as the message shows it (short texts only)."""
    return text[:column] + MARK + text[column:]


# ---- The graph ----

def test_default_expression_graph() -> None:
    expr = parse("W @ X + b")
    assert isinstance(expr, Expression) and expr.text == "W @ X + b"
    assert expr.operands == ("W", "X", "b")
    root = expr.root
    assert root.op == "add" and root.args[0].op == "matmul" and root.args[1].op == "var"
    assert [a.name for a in root.args[0].args] == ["W", "X"] and root.args[1].name == "b"
    assert all(a.is_operand for a in root.args[0].args) and not root.is_operand


@pytest.mark.parametrize(("text", "operands"), [
    ("b + W @ X", ("b", "W", "X")),
    ("tanh(X) * W + X", ("X", "W")),
    ("W2 @ tanh(W1 @ X + b1) + b2", ("W2", "W1", "X", "b1", "b2")),
    ("-sum(T * log_softmax(W @ X + b))", ("T", "W", "X", "b")),
    ("2 * 3", ()),
])
def test_operands_in_order_of_appearance(text: str, operands: tuple[str, ...]) -> None:
    assert parse(text).operands == operands


def test_one_shared_node_per_name() -> None:
    root = parse("X * X").root
    assert root.args[0] is root.args[1]
    root = parse("W @ X + X").root
    assert root.args[1] is root.args[0].args[1]
    expr = parse("relu(W @ X) + W.T @ X")
    vars_ = [n for n in expr.nodes() if n.op == "var"]
    assert [n.name for n in vars_] == ["W", "X"]  # each operand node once


def test_nodes_are_a_topological_order() -> None:
    expr = parse("W2 @ tanh(W1 @ X + b1) + b2 * W1")
    order = expr.nodes()
    assert order[-1] is expr.root
    assert len({id(n) for n in order}) == len(order)
    position = {id(n): i for i, n in enumerate(order)}
    assert all(position[id(arg)] < position[id(n)] for n in order for arg in n.args)
    assert sum(n.op == "var" for n in order) == 5


@pytest.mark.parametrize(("symbol", "op"), [("+", "add"), ("-", "sub"), ("*", "mul"), ("/", "div"), ("@", "matmul")])
def test_binary_operators(symbol: str, op: str) -> None:
    root = parse(f"A {symbol} B").root
    assert root.op == op and [a.name for a in root.args] == ["A", "B"]


def test_power_constant_exponent() -> None:
    root = parse("X ** 2").root
    assert root.op == "pow" and root.power == 2.0 and len(root.args) == 1 and root.args[0].name == "X"
    assert parse("X ** -0.5").root.power == -0.5
    assert parse("X ** 1.5e0").root.power == 1.5


@pytest.mark.parametrize(("text", "power"), [("X ** 2 ** 2", 4.0), ("X ** (1/2)", 0.5), ("X ** (2*3 - 1)", 5.0),
                                           ("X ** -(1/4)", -0.25), ("X ** (2 ** -1)", 0.5)])
def test_a_constant_exponent_is_folded(text: str, power: float) -> None:
    root = parse(text).root
    assert root.op == "pow" and root.power == power and root.args[0].name == "X"


@pytest.mark.parametrize("text", ["X ** (1/0)", "X ** (1e308 * 10)", "X ** ((-8) ** (1/3))"])
def test_an_exponent_that_folds_to_no_real_number_is_refused(text: str) -> None:
    assert "exponent" in refusal(text)


def test_unary_minus_plus_and_constants() -> None:
    root = parse("-X").root
    assert root.op == "neg" and root.args[0].name == "X"
    folded = parse("-2").root
    assert folded.op == "const" and folded.value == -2.0
    assert parse("+X").root.op == "var"
    assert parse("--X").root.op == "neg" and parse("--X").root.args[0].op == "neg"
    for text, value in (("2", 2.0), ("1.5", 1.5), ("1e-3", 1e-3), ("0", 0.0)):
        node = parse(f"X * {text}").root.args[1]
        assert node.op == "const" and node.value == value and isinstance(node.value, float)


def test_transpose() -> None:
    root = parse("X.T").root
    assert root.op == "T" and root.args[0].name == "X"
    assert parse("X.T.T").root.args[0].op == "T"
    assert parse("(W @ X).T").root.args[0].op == "matmul"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function(function: str) -> None:
    from wxb.core.primitives import PRIMITIVES

    arity = PRIMITIVES[function].arity
    root = parse(f"{function}({', '.join(['W @ X'] * arity)})").root
    assert root.op == function and len(root.args) == arity and root.args[0].op == "matmul"


def test_keywords_from_the_table() -> None:
    """keepdims= is taken by the reductions, not by softmax; a keyword given twice is refused in one error."""
    root = parse("sum(X, axis=0, keepdims=False)").root
    assert root.axis == 0 and root.keyword("keepdims") is False and root.given == {"axis", "keepdims"}
    with pytest.raises(ExpressionError, match=r"sum\(\) is given axis= twice"):
        parse("sum(X, axis=0, axis=1)")
    with pytest.raises(ExpressionError, match="softmax\\(\\) takes no keyword keepdims="):
        parse("softmax(X, keepdims=True)")
    with pytest.raises(ExpressionError, match="must be True or False"):
        parse("max(X, axis=0, keepdims=1)")


def test_axis_defaults_and_keywords() -> None:
    assert parse("softmax(X)").root.axis == -2
    assert parse("log_softmax(X)").root.axis == -2
    for name in ("logsumexp", "sum", "mean", "max", "min", "norm"):
        assert parse(f"{name}(X)").root.axis is None
        assert parse(f"{name}(X, axis=1)").root.axis == 1
        assert parse(f"{name}(X, axis=-1)").root.axis == -1
        assert parse(f"{name}(X, axis=None)").root.axis is None
    assert parse("softmax(X, axis=None)").root.axis is None
    assert parse("softmax(X, axis=0)").root.axis == 0


def test_node_identity_not_equality() -> None:
    a, b = parse("X + Y").root.args
    assert a != b and Node("var", name="X") != Node("var", name="X")


# ---- The seed's notation ----

RNG = np.random.default_rng(3)
OPERANDS = {"W": RNG.normal(size=(3, 2)), "X": RNG.normal(size=(2, 4)), "b": RNG.normal(size=3),
            "Y": RNG.normal(size=(3, 4))}


@pytest.mark.parametrize(("seed", "python"), [
    ("W·X ⊕ b", "W @ X + b"),
    ("W·X⊕b", "W @ X + b"),
    ("(W·X)ᵀ", "(W @ X).T"),
    ("Xᵀ·Wᵀ", "X.T @ W.T"),
    ("W·X ⊙ Y", "W @ X * Y"),
    ("−W·X ⊕ b", "-W @ X + b"),
    ("W·X − Y", "W @ X - Y"),
    ("tanh(W·X ⊕ b)ᵀᵀ", "tanh(W @ X + b).T.T"),
])
def test_notation_is_equivalent(seed: str, python: str) -> None:
    a, b = parse(seed), parse(python)
    assert a.text == seed and a.operands == b.operands
    ops = {name: OPERANDS[name] for name in a.operands}
    np.testing.assert_array_equal(Problem.build(a, ops).forward(), Problem.build(b, ops).forward())


def test_transpose_notation_values() -> None:
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Problem.build("Xᵀ", {"X": X}).forward(), X.T)
    np.testing.assert_array_equal(Problem.build("Xᵀ", {"X": X}).backward(np.ones((3, 2)))["X"], np.ones((2, 3)))


def test_marker_columns_refer_to_the_original_text() -> None:
    """ᵀ becomes two characters (.T): the marker must still land in the text as the user wrote it."""
    assert marked("Xᵀ + b.foo", 5) in refusal("Xᵀ + b.foo")
    assert marked("W·X ⊕ b.foo", 6) in refusal("W·X ⊕ b.foo")
    assert marked("   W @ X.foo", 7) in refusal("   W @ X.foo")
    assert marked("Xᵀ @ @ b", 5) in refusal("Xᵀ @ @ b")


# ---- Refusals, each with its place marked ----

@pytest.mark.parametrize(("text", "column", "words"), [
    ("W @ X.shape", 4, "'.shape' is not allowed"),
    ("X.T.foo", 0, "'.foo'"),
    ("W @ foo(X)", 4, "unknown function 'foo'"),
    ("W @ X + np.exp(X)", 8, "unknown function"),
    ("W[0] + b", 0, "subscript"),
    ("X + (lambda: 1)", 5, "lambda"),
    ("sum([x for x in X])", 4, "comprehension"),
    ("X + (W < b)", 5, "comparison"),
    ("W == X", 0, "comparison"),
    ("softmax(X, keepdims=True)", 11, "keepdims="),
    ("relu(X, axis=0)", 8, "relu() takes no keyword axis="),
    ("sum(X, **k)", 7, "**"),
    ("sum(X, axis=1.5)", 12, "must be an integer"),
    ("sum(X, axis=Y)", 12, "must be an integer"),
    ("X * True", 4, "True is not a real number"),
    ("X + 'a'", 4, "'a' is not a real number"),
    ("X + 2j", 4, "2j is not a real number"),
    ("X + None", 4, "None is not a real number"),
    ("W @ G", 4, "'G' is the upstream gradient"),
    ("G", 0, "'G'"),
    ("X ** W", 5, "exponent of ** must be a number"),
    ("X % 2", 0, "%"),
    ("X // 2", 0, "//"),
    ("relu(X, Y)", 0, "one argument"),
    ("relu()", 0, "one argument"),
    ("relu + X", 0, "'relu' is a function"),
    ("X if W else b", 0, "conditional"),
    ("(X, W)", 0, "tuple"),
    ("X and W", 0, "boolean"),
    ("W @ @ X", 4, "cannot read the expression"),
    ("W X", 2, "cannot read the expression"),
    ("relu(X", 6, "ends too early"),
    ("W @ X +", 7, "ends too early"),
])
def test_refusal_marks_the_place(text: str, column: int, words: str) -> None:
    message = refusal(text)
    assert words in message, message
    assert marked(text, column) in message, message


def test_refusals_name_no_python_internals() -> None:
    """`~X`, `not X`: the message names the operator, not the AST class."""
    for text in ("~X", "not X"):
        assert "UnaryOp" not in refusal(text)


def test_generator_expression_refused() -> None:
    assert "comprehension" in refusal("sum(x for x in X)")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_refused(text: str) -> None:
    assert "empty" in refusal(text)


def test_length_limit() -> None:
    assert parse("X" + " " * 9_999).operands == ("X",)  # 10,000 characters: accepted
    assert "10,001 characters" in refusal("X" + " " * 10_000)


@pytest.mark.parametrize("text", [
    "(" * 4_000 + "X" + ")" * 4_000,
    "(" * 5_000 + "X" + ")" * 5_000,
    "-" * 5_000 + "X",
    "- " * 4_999 + "X",
    "relu(" * 1_500 + "X" + ")" * 1_500,
    "X" + "ᵀ" * 5_000,
    "X" + " ** 2" * 1_900,
    "-(" * 3_000 + "X" + ")" * 3_000,
])
def test_deep_nesting_refused_cleanly(text: str) -> None:
    refusal(text)  # ExpressionError, never RecursionError


def test_nesting_limit() -> None:
    parse("relu(" * (MAX_DEPTH - 1) + "X" + ")" * (MAX_DEPTH - 1))
    assert "nests deeper than" in refusal("-relu(" * MAX_DEPTH + "X" + ")" * MAX_DEPTH)
    assert parse("(" * 150 + "X" + ")" * 150).root.op == "var"  # parentheses alone are no nesting


@pytest.mark.parametrize("terms", [300, 3_000, 5_000])
def test_a_long_flat_chain_is_no_nesting(terms: int) -> None:
    expression = parse(" + ".join(["X"] * terms) if terms < 3_000 else "+".join(["X"] * terms))
    assert expression.operands == ("X",)
    assert sum(1 for node in expression.nodes() if node.op == "add") == terms - 1
    problem = Problem.build(expression, {"X": np.ones(2)})
    np.testing.assert_array_equal(problem.forward(), [terms, terms])
    np.testing.assert_array_equal(problem.backward(np.ones(2))["X"], [terms, terms])


def test_a_long_mixed_chain_keeps_precedence() -> None:
    text = "+".join(["X*2"] * 2_000) + "-X"
    problem = Problem.build(text, {"X": np.ones(1)})
    np.testing.assert_array_equal(problem.forward(), [3_999.0])


# ---- Bugs in placing the marker and in refusing some texts (each one precise) ----

def test_marker_after_a_non_ascii_operand_name() -> None:
    """θ is a valid operand name; the marker must count characters, not UTF-8 bytes."""
    assert marked("θ * G", 4) in refusal("θ * G")
    assert marked("α + foo(X)", 4) in refusal("α + foo(X)")


def test_marker_on_a_second_line() -> None:
    text = "(W +\n X.y)"
    assert marked(text, 6) in refusal(text)


def test_huge_integer_constant_refused_as_expression_error() -> None:
    """An integer too large for a float is an ExpressionError, not an OverflowError."""
    refusal("X * 1" + "0" * 400)


def test_lone_surrogate_refused_as_expression_error() -> None:
    """Undecodable argv bytes arrive as lone surrogates (surrogateescape): an ExpressionError, not UnicodeError."""
    refusal("X + \udcff")


def test_parsing_prints_no_python_warnings() -> None:
    """ast.parse warns on `1if`; the user must see one error line, not '<unknown>:1: SyntaxWarning: ...' too."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        refusal("X + 1if X else 2")
    assert [str(w.message) for w in caught] == []


# ---- Random text: an Expression or an ExpressionError, nothing else ----

TOKENS = ["W", "X", "b", "G", "x1", "θ", "T", " ", "  ", "(", ")", "[", "]", ",", ".", ".T", ".shape", "+", "-",
          "*", "/", "@", "**", "%", "<", "==", "~", "not ", " and ", " if ", " else ", "lambda", ":", "=", "axis=",
          "axis=-1", "axis=None", "keepdims=", "0", "1", "2.5", "1e-3", "1e308", "1e999", "True", "None", "'s'",
          "2j", "·", "⊕", "⊙", "ᵀ", "−", "×", "\n", "\t", "\\", "#", "\"", "'", "{", "}", "f'", "for", " in ", ";",
          *FUNCTIONS, "foo", "__import__", "relu(", "sum(", "softmax("]


def check_parsed_or_refused(text: str) -> None:
    try:
        expr = parse(text)
    except ExpressionError as exc:
        assert str(exc)
        return
    names = expr.operands
    assert len(set(names)) == len(names) and "G" not in names and not set(names) & set(FUNCTIONS)
    order = expr.nodes()
    assert order[-1] is expr.root
    assert {n.name for n in order if n.op == "var"} == set(names)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_token_soup_parses_or_is_refused(text: str) -> None:
    check_parsed_or_refused(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused(text: str) -> None:
    check_parsed_or_refused(text)


# ---- Binding operands to the expression's names ----

def test_binding_errors_list_both_sets() -> None:
    with pytest.raises(WxbError) as caught:
        Problem.build("W @ X + b", {"W": np.eye(2), "X": np.eye(2), "c": np.ones(2), "d": 1.0})
    message = str(caught.value)
    assert "b is used in W @ X + b but not given" in message
    assert "c, d are given but not used in W @ X + b" in message
    assert caught.value.hint is not None and "W, X, b" in caught.value.hint


def test_binding_missing_only_and_unused_only() -> None:
    with pytest.raises(WxbError, match=r"W, X are used in .* but not given") as caught:
        Problem.build("W @ X + b", {"b": np.ones(2)})
    assert "given but not used" not in str(caught.value)
    with pytest.raises(WxbError, match="G is given but not used") as caught:
        Problem.build("X + b", {"X": np.eye(2), "b": np.ones(2), "G": np.ones((2, 2))})
    assert "but not given" not in str(caught.value)


def test_binding_accepts_a_parsed_expression_and_lists() -> None:
    expr = parse("W·X ⊕ b")
    problem = Problem.build(expr, {"W": [[1, 0], [0, 1]], "X": [[1, 2], [3, 4]], "b": [5, 6]})
    assert problem.expression is expr
    np.testing.assert_array_equal(problem.forward(), [[6.0, 7.0], [9.0, 10.0]])


@pytest.mark.parametrize(("text", "operands"), [
    ("z1 * tanh(z2 @ X)", {"z1": 2.0, "z2": np.eye(2), "X": np.ones((2, 2))}),
    ("tanh(z) * 2", {"z": np.ones(2)}),
    ("exp(z2 * tanh(z1 + z3))", {"z1": 1.0, "z2": 1.0, "z3": 1.0}),
])
def test_intermediate_labels_never_shadow_an_operand(text: str, operands: dict[str, object]) -> None:
    problem = Problem.build(text, operands)  # type: ignore[arg-type]
    labels = [problem.label(node) for node in problem.intermediates()]
    assert not set(labels) & set(operands), labels
    assert len(set(labels)) == len(labels)
