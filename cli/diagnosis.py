"""Why a result holds NaN or infinities: one warning line per result, naming the cause."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import core

Array = np.ndarray[Any, np.dtype[Any]]


def _entries(n: int, kind: str) -> str:
    """'1 NaN entry', '3 infinite entries'."""
    return f"{n:,} {kind} {'entry' if n == 1 else 'entries'}"

def nonfinite_warnings(results: Mapping[str, Array], problem: core.Problem | None) -> list[str]:
    """For each result holding NaN or ±inf: how many entries, and why (the operands had them, or the maths
    produced them: an overflow, a division by zero, an invalid operation)."""
    lines = []
    operands = list(problem.operands.values()) if problem is not None else []
    for name, value in results.items():
        array = np.asarray(value)
        if array.dtype.kind != "f" or np.isfinite(np.sum(array)):
            continue
        nans, infs = int(np.count_nonzero(np.isnan(array))), int(np.count_nonzero(np.isinf(array)))
        parts = []
        if nans:
            given = any(np.isnan(np.sum(a)) for a in operands)
            why = "from NaN in the operands" if given else "from an invalid operation: 0/0, ∞ − ∞, 0·∞, or log " \
                "or sqrt of a negative number"
            parts.append(f"{_entries(nans, 'NaN')} ({why})")
        if infs:
            limit = float(np.finfo(array.dtype).max)
            given = any(np.isinf(a).any() for a in operands)
            why = "from infinities in the operands" if given else f"from an overflow beyond ±{limit:.2g} for " \
                f"{array.dtype}, or a pole such as 1/0 or log 0"
            parts.append(f"{_entries(infs, 'infinite')} ({why})")
        lines.append(f"{name} has " + " and ".join(parts))
    return lines
