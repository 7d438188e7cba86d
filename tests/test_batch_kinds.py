"""Each row owns its batch rule, one kind of a closed set (wxb.core.primitives.batch): a label that is not one
fails when the row is made (at import), and the streaming analysis calls the row's rule without naming a kind or
a primitive."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from wxb.core.engine import Problem
from wxb.core.plan import streaming
from wxb.core.primitives import PRIMITIVES
from wxb.core.primitives.batch import COLUMNS, KINDS, REDUCE, WHOLE, Batch, Combine, known

CORE = Path(__file__).resolve().parent.parent / "core"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_row_names_a_kind_of_batch_rule(name: str) -> None:
    batch = PRIMITIVES[name].batch
    assert known(batch), f"{name}: {batch!r}"
    assert replace(batch, combine=None) in KINDS
    assert batch.combine is None or batch.tag is REDUCE.tag, f"{name}: only a reduction's blocks combine"


def test_the_reductions_whose_blocks_combine() -> None:
    combining = sorted(name for name, row in PRIMITIVES.items() if row.batch.combine is not None)
    assert combining == ["logsumexp", "mean", "sum"]
    assert [PRIMITIVES[name].batch.combine.reads_values for name in combining] == [True, False, False]


@pytest.mark.parametrize("bad", ["colums", "columns", None, 3])
def test_a_row_with_a_batch_that_is_not_a_kind_fails_when_it_is_made(bad: object) -> None:
    with pytest.raises(TypeError, match=r"is not a kind of wxb\.core\.primitives\.batch"):
        replace(PRIMITIVES["sin"], batch=bad)


def test_a_batch_kind_with_a_rule_of_its_own_fails_when_it_is_made() -> None:
    with pytest.raises(TypeError, match="not one of"):
        Batch("colums", lambda node, shape, tags, size: tags[0])
    assert not known(replace(REDUCE, whole_matrices=True))


def test_the_analysis_calls_the_rows_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = Problem.build("sum(sin(X))", {"X": np.ones((3, 10))})
    assert streaming(problem).streams
    monkeypatch.setitem(PRIMITIVES, "sin", replace(PRIMITIVES["sin"], batch=WHOLE))
    plan = streaming(problem)
    assert not plan.streams
    assert plan.reason == "sin(X) needs every column of its argument at once"
    monkeypatch.setitem(PRIMITIVES, "sum", replace(PRIMITIVES["sum"], batch=REDUCE))
    monkeypatch.setitem(PRIMITIVES, "sin", replace(PRIMITIVES["sin"], batch=COLUMNS))
    assert streaming(problem).reason == "sum(sin(X)) reduces over the batch, and its blocks do not combine"


def test_a_rows_combine_merges_the_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from wxb.core.chunks import forward_blocks, slicing

    doubled = Combine(lambda values, counts, total: 2 * sum(values[1:], start=values[0]),
                      lambda value, whole, count, total: 1.0)
    monkeypatch.setitem(PRIMITIVES, "sum", replace(PRIMITIVES["sum"], batch=REDUCE.summing(doubled)))
    problem = Problem.build("sum(X)", {"X": np.ones((2, 6))})
    plan = streaming(problem)
    assert float(forward_blocks(problem, plan, 2, slicing(problem), lambda *a: None)) == 24.0


@pytest.mark.parametrize("module", ["plan.py", "chunks.py"])
def test_the_streaming_analysis_names_no_primitive_and_switches_on_no_kind(module: str) -> None:
    tree = ast.parse((CORE / module).read_text())
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    named = strings & set(PRIMITIVES) - {"T"}  # 'T' is also the target operand that chunks read in blocks
    assert not named, sorted(named)
    assert not strings & {kind.name for kind in KINDS} - {"columns"}  # 'columns' is also a value of Streaming.root
    compared = [node for node in ast.walk(tree) if isinstance(node, ast.Compare)
                and any(isinstance(side, ast.Attribute) and side.attr == "batch"
                        for side in (node.left, *node.comparators))]
    assert not compared, [ast.unparse(node) for node in compared]
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.If) and len(node.orelse) == 1
                and isinstance(node.orelse[0], ast.If) and "batch" in ast.unparse(node.test)]
