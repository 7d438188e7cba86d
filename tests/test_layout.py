"""A module split in two keeps its public names importable from where they were (issue 19)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(("module", "names"), [
    ("engine", ["WHOLE", "Evaluation", "Gradients", "Problem", "aligned", "constant_text", "matmul_shape",
                "node_shape", "reverse", "rounding_scale", "rule_names", "rule_text", "whole_matrix_ops"]),
    ("jacobian", ["DENSE_LIMIT", "Chain", "JacobianStructure", "MatmulAxes", "Memo", "block", "chain", "chain_scale",
                  "dense", "entries", "matrix_view", "node_value", "structure"]),
    ("symbolic", ["ONE", "ZERO", "Derivation", "DeriveError", "Term", "Writer", "const", "derive", "formula",
                  "is_const", "number_text", "shaped_like", "term_of", "text", "var"]),
])
def test_a_split_module_keeps_its_public_names(module: str, names: list[str]) -> None:
    imported = importlib.import_module(f"wxb.core.{module}")
    assert [name for name in names if not hasattr(imported, name)] == []
    assert set(names) <= set(imported.__all__)
