"""The optional extra `wxb[dask]` (dask[array], distributed, zarr): imported only when a command needs it, and one
line naming the extra when it is not installed."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from .errors import InputError

EXTRA = "wxb[dask]"
# wxb is on no package index, so `pip install 'wxb[dask]'` finds nothing: the extra by path, or its packages by name
INSTALL = "pip install '.[dask]' in wxb's source folder, or pip install 'dask[array]' distributed zarr"


def import_extra(module: str, what: str) -> ModuleType:
    """The module of the extra, or an InputError saying that `what` needs the extra and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{what} needs the {EXTRA} extra ({module} is not installed)", hint=INSTALL) from None


def dask_array() -> Any:
    """The dask.array module (untyped in places, so seen as Any)."""
    import dask.array

    return dask.array
