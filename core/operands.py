"""Operands as wxb computes with them: the dtype policy and the 1-D bias-as-column rule."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .errors import DtypeError, ShapeError

_REFUSED_KINDS = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "structured", "M": "datetime",
                  "m": "timedelta"}


def as_operand(a: ArrayLike, name: str) -> np.ndarray:
    """a as a native float array: any 4-byte float becomes float32, everything else float64; no copy if possible."""
    try:
        array = np.asarray(a)
    except ValueError:
        raise ShapeError(f"{name} is not a rectangular array (its rows have different lengths)") from None
    kind = array.dtype.kind
    if kind in _REFUSED_KINDS:
        raise DtypeError(
            f"{name} has dtype {array.dtype} ({_REFUSED_KINDS[kind]}), but wxb computes with real numbers only",
            hint=f"give {name} as floats, integers or booleans",
        )
    if kind == "f" and array.dtype.itemsize == 4:
        return array.astype(np.float32, copy=False)  # native byte order ('>f4' too); no copy when already so
    return array.astype(np.float64, copy=False)


def align_bias(b: np.ndarray, wx_shape: tuple[int, ...]) -> np.ndarray:
    """b with a 1-D bias read as a column (m,) → (m, 1) when W·X has 2 or more axes; otherwise b itself. A view."""
    if b.ndim == 1 and len(wx_shape) >= 2:
        return b.reshape(b.shape[0], 1)
    return b
