"""The one test table of primitives (tests/primitive_cases.py) against the table of primitives: a row cannot be
added untested, and an entry cannot outlive its row."""

from __future__ import annotations

from dataclasses import replace

import pytest
from primitive_cases import ALONG, BINARY, CASES, POSITIVE, REDUCTIONS, UNARY
from test_engine_oracle import SHAPED

from wxb.core.primitives import PRIMITIVES


def test_every_row_has_an_entry() -> None:
    """Without one, the autograd oracle, derive's round trip and the random trees would skip the row."""
    missing = [name for name in PRIMITIVES if name not in CASES]
    assert not missing, f"rows of PRIMITIVES without an entry in tests/primitive_cases.py CASES: {missing}"


def test_every_entry_has_a_row() -> None:
    stale = [name for name in CASES if name not in PRIMITIVES]
    assert not stale, f"entries in tests/primitive_cases.py CASES for no row of PRIMITIVES: {stale}"


def test_a_derive_case_exactly_for_the_rows_with_formulas() -> None:
    wrong = [name for name, row in PRIMITIVES.items() if name in CASES and
             (CASES[name].derive is None) != (not row.formulas)]
    assert not wrong, f"rows whose derive case does not match their formulas (a case iff formulas): {wrong}"


def test_the_random_trees_draw_every_row_or_say_why_not() -> None:
    drawn = {*UNARY, *POSITIVE, *BINARY, *REDUCTIONS, *ALONG, *SHAPED}
    silent = [name for name in PRIMITIVES if name not in drawn and not (name in CASES and CASES[name].undrawn)]
    assert not silent, f"rows the random trees never draw, with no reason in their entry's `undrawn`: {silent}"
    assert not [name for name in drawn if name in CASES and CASES[name].undrawn], "drawn, yet said to be undrawn"


def test_the_drawn_lists_come_from_the_rows() -> None:
    """What today's rows give (a change here is a change to what the random trees test)."""
    assert set(UNARY) == {"neg", "pow", "relu", "tanh", "sigmoid", "softplus", "exp", "abs", "sin", "cos",
                          "arctan", "sinh", "cosh"}
    assert set(POSITIVE) == {"pow", "log", "log1p", "sqrt"}
    assert set(BINARY) == {"add", "sub", "mul", "div"}
    assert set(REDUCTIONS) == {"sum", "mean", "logsumexp", "max", "min", "norm"}
    assert set(ALONG) == {"softmax", "log_softmax"}


def test_every_entry_names_known_domains_and_kinks() -> None:
    for name, entry in CASES.items():
        assert set(entry.domains) <= {"real", "positive"}, name
        assert set(entry.powers) <= set(entry.domains), name
        assert entry.kink in ("", "argument", "value", "top tie", "bottom tie"), name


def test_every_row_has_one_tangent_rule_per_argument() -> None:
    missing = [name for name, row in PRIMITIVES.items() if len(row.jvps) != row.arity or not all(map(callable,
                                                                                                   row.jvps))]
    assert not missing, f"rows of PRIMITIVES without a tangent rule (jvps) for each argument: {missing}"


def test_a_row_without_its_tangent_rules_fails_at_import() -> None:
    row = PRIMITIVES["add"]
    with pytest.raises(TypeError, match="tangent rules"):
        replace(row, jvps=row.jvps[:1])


def test_the_rows_with_a_kink_are_those_the_test_table_knows() -> None:
    """A row the random trees skip near a kink (its entry's `kink`) says how to detect it and what it takes there."""
    assert {name for name, row in PRIMITIVES.items() if row.kink} == {name for name, e in CASES.items() if e.kink}
    assert all("{x}" in row.kink.convention for row in PRIMITIVES.values() if row.kink)
