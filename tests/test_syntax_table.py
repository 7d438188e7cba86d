"""The one table of the infix syntax (wxb.core.expr.SYNTAX): every operator row of the primitives has one line in
it, the parser reads each symbol and each seed spelling as that primitive, precedence is Python's, and `wxb help`
writes the operators from it."""

from __future__ import annotations

import ast

import pytest

from wxb.cli.show.topics import operator_spellings
from wxb.core.expr import SYNTAX, Syntax, parse
from wxb.core.primitives import PRIMITIVES


def test_every_operator_row_has_one_line_and_every_line_a_row() -> None:
    operators = sorted(name for name, row in PRIMITIVES.items() if not row.called)
    assert sorted(row.primitive for row in SYNTAX) == operators


@pytest.mark.parametrize("row", SYNTAX, ids=lambda row: row.primitive)
def test_each_symbol_and_seed_spelling_parses_as_its_primitive(row: Syntax) -> None:
    for symbol in (row.symbol, *row.seed):
        text = row.written("x", "2") if row.symbol == symbol else row.written("x", "2").replace(row.symbol, symbol)
        assert parse(text).root.op == row.primitive, text


@pytest.mark.parametrize("row", [row for row in SYNTAX if row.form == "infix"], ids=lambda row: row.primitive)
def test_the_node_is_the_one_python_reads_for_the_symbol(row: Syntax) -> None:
    tree = ast.parse(row.written("x", "y"), mode="eval").body
    assert isinstance(tree, ast.BinOp) and type(tree.op) is row.node


def test_precedence_is_pythons() -> None:
    """a ∘ b • c groups as a ∘ (b • c) exactly when • binds tighter than ∘ in the table."""
    infix = [row for row in SYNTAX if row.form == "infix" and row.primitive != "pow"]
    for outer in infix:
        for inner in infix:
            root = parse(f"a {outer.symbol} b {inner.symbol} c").root
            tighter = inner.precedence > outer.precedence
            assert root.op == (outer.primitive if tighter else inner.primitive), (outer.symbol, inner.symbol)
    power = next(row for row in SYNTAX if row.primitive == "pow")
    negation = next(row for row in SYNTAX if row.primitive == "neg")
    assert power.precedence > negation.precedence > max(row.precedence for row in infix)
    assert parse("-a ** 2").root.op == "neg" and parse("-a * b").root.op == "mul"


def test_help_writes_the_operators_from_the_table() -> None:
    assert operator_spellings() == {"add": "x + y", "sub": "x - y", "mul": "x * y", "div": "x / y",
                                    "matmul": "x @ y", "pow": "x ** p", "neg": "-x", "T": "x.T"}
