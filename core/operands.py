"""Operands as wxb computes with them: the dtype policy, the 1-D bias-as-column rule, and the array backend.

The backend is NumPy, or any duck array that NumPy dispatches to (`__array_function__`, as Dask arrays do): such
arrays pass through untouched, so the rules run on them lazily and nothing is turned into NumPy behind the user's
back."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import DtypeError, ShapeError

_REFUSED_KINDS = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "structured", "M": "datetime",
                  "m": "timedelta"}


def is_duck(a: object) -> bool:
    """True for an array of another backend that NumPy dispatches to (a Dask array), not a NumPy one."""
    return not isinstance(a, np.ndarray | np.generic) and hasattr(type(a), "__array_function__")


def as_array(a: Any) -> np.ndarray:
    """a as an array of its own backend: a duck array (Dask) as it is, anything else through np.asarray."""
    return a if is_duck(a) else np.asarray(a)


def filled(value: np.ndarray, shape: tuple[int, ...], like: Any = None) -> np.ndarray:
    """A 0-d value stretched to shape without filling memory: NumPy's read-only broadcast view, or, beside a duck
    array `like` of that shape (Dask), that backend's own lazy full array, chunked as `like`."""
    if like is not None and is_duck(like) and not is_duck(value):
        return np.full_like(like, value, dtype=value.dtype)
    return np.broadcast_to(value, shape)


def mapped(a: object) -> bool:
    """a is a float array mapped from a file (np.memmap, or a view of one): its data is on disk, not in memory."""
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
        return False
    while a is not None:
        if isinstance(a, np.memmap) or type(a).__name__ == "mmap":
            return True
        a = getattr(a, "base", None)
    return False


def as_operand(a: ArrayLike, name: str, *, keep: bool = False) -> np.ndarray:
    """a as a native float array: any 4-byte float becomes float32, everything else float64; no copy if possible.
    A duck array (Dask) keeps its backend; keep: a float array mapped from a file keeps its dtype and byte order
    (converted whole it would be read into memory; its blocks are converted as they are read)."""
    try:
        array = as_array(a)
    except ValueError:
        raise ShapeError(f"{name} is not a rectangular array (its rows have different lengths)") from None
    kind = array.dtype.kind
    if kind in _REFUSED_KINDS:
        raise DtypeError(
            f"{name} has dtype {array.dtype} ({_REFUSED_KINDS[kind]}), but wxb computes with real numbers only",
            hint=f"give {name} as floats, integers or booleans",
        )
    if keep and kind == "f":
        return array
    if kind == "f" and array.dtype.itemsize == 4:
        return array.astype(np.float32, copy=False)  # native byte order ('>f4' too); no copy when already so
    return array.astype(np.float64, copy=False)


def align_bias(b: np.ndarray, wx_shape: tuple[int, ...]) -> np.ndarray:
    """b with a 1-D bias read as a column (m,) → (m, 1) when W·X has 2 or more axes; otherwise b itself. A view."""
    if b.ndim == 1 and len(wx_shape) >= 2:
        return b.reshape(b.shape[0], 1)
    return b
