"""The table of losses: each turns f into a scalar L and gives G = ∂L/∂f, the upstream gradient of the backward
pass. N is f.size; mean and mse of no entries are nan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import WxbError
from .notation import shape_text
from .operands import as_operand, filled
from .shapes import check_fits, same_column

Array = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True)
class Loss:
    """One row: L(f, T) and G(f, T) = ∂L/∂f, the formula as text, and whether it needs a target T."""

    value: Callable[[Array, Array | None], float]
    gradient: Callable[[Array, Array | None], Array]
    text: str
    needs_target: bool = False
    per_entry: bool = False  # divided by N, f's number of entries: a block's G is its share n_block / N of it


def _n(f: Array) -> int:
    return max(f.size, 1)


def _mean(values: Array) -> float:
    return float(np.sum(values) / values.size) if values.size else float("nan")


def _constant(f: Array, value: float) -> Array:
    """G = value everywhere, of f's shape, without an f-sized array filled up front (lazy beside a Dask f)."""
    return filled(np.asarray(value, dtype=f.dtype), f.shape, like=f)


LOSSES: dict[str, Loss] = {
    "sum":  Loss(lambda f, t: float(np.sum(f)),        lambda f, t: _constant(f, 1.0),
                 "L = Σ f, so G = 1"),
    "mean": Loss(lambda f, t: _mean(f),                 lambda f, t: _constant(f, 1.0 / _n(f)),
                 "L = Σ f / N, so G = 1/N", per_entry=True),
    "mse":  Loss(lambda f, t: _mean((f - t) ** 2),      lambda f, t: 2.0 * (f - t) / _n(f),
                 "L = Σ (f − T)² / N, so G = 2(f − T)/N", needs_target=True, per_entry=True),
}


DEFAULT_LOSS = "sum"  # L = Σ f, G = 1: what backward, check, explain and derive take when no --loss is given


def loss_name(name: str | None) -> str:
    """The loss asked for, or the default one."""
    return DEFAULT_LOSS if name is None else name


def loss_row(name: str | None) -> Loss:
    """The row of a loss (None: the default), refused when unknown."""
    name = loss_name(name)
    if name not in LOSSES:
        raise WxbError(f"unknown loss {name!r}", hint="choose " + ", ".join(LOSSES))
    return LOSSES[name]


def _target(name: str | None, f: Array, target: ArrayLike | None) -> Array | None:
    """T as an operand that fits f (a 1-D T beside a matrix f is a column), when the loss needs one."""
    row = loss_row(name)
    if not row.needs_target:
        return None
    if target is None:
        raise WxbError(f"the {loss_name(name)} loss needs a target T",
                       hint="give the target with -T, or use the sum or mean loss")
    from .shapes import aligned  # the one rule for 1-D operands: beside a matrix, a column

    t = as_operand(target, "T")
    shape = f.shape if same_column(t.shape, f.shape) else aligned(t.shape, f.shape)
    label = f"T {shape_text(t.shape)}" + (f" as a column {shape_text(shape)}" if shape != t.shape else "")
    check_fits("T", shape, "f", f.shape, label=label)
    return t.reshape(shape)


def upstream_gradient(f: ArrayLike, loss: str | None = None, target: ArrayLike | None = None) -> Array:
    """G = ∂L/∂f for the named loss (None: the default, sum)."""
    values = as_operand(f, "f")
    return loss_row(loss).gradient(values, _target(loss, values, target))


def loss_value(f: ArrayLike, loss: str | None = None, target: ArrayLike | None = None) -> float:
    """L(f) for the named loss (None: the default, sum)."""
    values = as_operand(f, "f")
    return loss_row(loss).value(values, _target(loss, values, target))
