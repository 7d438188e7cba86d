"""Why a result holds NaN or infinities: one warning line per result, naming the cause."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ... import core

Array = np.ndarray[Any, np.dtype[Any]]


def _entries(n: int, kind: str) -> str:
    """'1 NaN entry', '3 infinite entries'."""
    return f"{n:,} {kind} {'entry' if n == 1 else 'entries'}"


BLOCK = 1 << 20  # entries looked at a time: no input-sized temporary, and a finite block costs one sum


def _blocks(a: Array) -> Iterator[Array]:
    """An array in flat blocks of its memory order (a view where it can be)."""
    flat = np.ravel(a, order="K")
    for start in range(0, flat.size, BLOCK):
        yield flat[start:start + BLOCK]


def has(blocks: Iterable[Array], test: Any) -> bool:
    """A float array's blocks hold an entry passing test (np.isnan, np.isinf); a block whose sum is finite holds
    none."""
    return any(b.dtype.kind in "fc" and not np.isfinite(np.sum(b)) and bool(test(b).any()) for b in blocks)


def holding(inputs: Mapping[str, Callable[[], Iterable[Array]]], test: Any) -> str:
    """The names of the inputs (each given as its blocks) with an entry passing test, as 'X, Y'; '' if none."""
    return ", ".join(name for name, blocks in inputs.items() if has(blocks(), test))


def whole(a: Array) -> Callable[[], Iterable[Array]]:
    """An input held in memory (or mapped), as its blocks."""
    return lambda: _blocks(np.asarray(a))


def _holding(inputs: Mapping[str, Array], test: Any) -> str:
    """The names of the float inputs with an entry passing test (np.isnan, np.isinf), as 'X, Y'; '' if none."""
    return holding({name: whole(a) for name, a in inputs.items()}, test)


def nonfinite_warnings(results: Mapping[str, Array], problem: core.Problem | None,
                       upstream: Mapping[str, Array | None] | None = None) -> list[str]:
    """For each result holding NaN or ±inf: how many entries, and why: NaN or infinities given (named: an operand,
    G or T), an invalid operation on given infinities, or the maths itself (an overflow, a pole, 0/0). The inputs
    are looked at only when a result is not finite."""
    counts = {}
    for name, value in results.items():
        array = np.asarray(value)
        # A finite sum means every entry is finite (one pass, no f-sized temporary); a sum that overflowed from
        # finite entries is counted, finds nothing, and gives no line.
        if array.dtype.kind == "f" and not np.isfinite(np.sum(array)):
            counts[name] = (int(np.count_nonzero(np.isnan(array))), int(np.count_nonzero(np.isinf(array))))
    if not any(nans or infs for nans, infs in counts.values()):
        return []
    inputs = {name: np.asarray(a) for name, a in {**(problem.operands if problem is not None else {}),
                                                  **(upstream or {})}.items() if a is not None}
    dtypes = {name: np.asarray(value).dtype for name, value in results.items()}
    return nonfinite_lines(counts, dtypes, _holding(inputs, np.isnan), _holding(inputs, np.isinf))


def nonfinite_lines(counts: Mapping[str, tuple[int, int]], dtypes: Mapping[str, np.dtype[Any]], nan_in: str,
                    inf_in: str) -> list[str]:
    """The warning lines from each result's (NaN entries, infinite entries) and the inputs that hold NaN and
    infinities ('X, G'; '' for none)."""
    lines = []
    for name, (nans, infs) in counts.items():
        if not (nans or infs):
            continue
        limit = f"±{float(np.finfo(dtypes[name]).max):.2g} for {dtypes[name]}"
        parts = []
        if nans:
            if nan_in:
                why = f"from NaN in {nan_in}"
            elif inf_in:
                why = f"from an invalid operation such as ∞ − ∞ or 0·∞ on the infinite entries of {inf_in}, or 0/0"
            else:
                why = "from an invalid operation: 0/0, ∞ − ∞, 0·∞, or log or sqrt of a negative number"
            parts.append(f"{_entries(nans, 'NaN')} ({why})")
        if infs:
            why = (f"from the infinite entries of {inf_in}, or an overflow beyond {limit}" if inf_in else
                   f"from an overflow beyond {limit}, or a pole such as 1/0 or log 0")
            parts.append(f"{_entries(infs, 'infinite')} ({why})")
        lines.append(f"{name} has " + " and ".join(parts))
    return lines
