"""zarr stores: operands in (`-X acts.zarr`, `-X store.zarr:X`, `NAME=store.zarr:group/key`) and results out
(`-o f.zarr` for one result, `-o grads.zarr` for a keyed record: a group of arrays named f, dW, db, ...).

Reading gives the zarr array itself (nothing is read yet): in memory it is read whole (`in_memory`), with --dask it
becomes da.from_zarr. Writing makes a store beside the target (`.NAME.<random>.tmp`), chunked along the batch (the last
axis), and renames it over the target at the end; with --dask the blocks are written by the tasks. zarr is imported
only here, only when used; without the extra, one line names it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError, Where
from ..extras import dask_array, import_extra
from .npyblocks import unseen_output

MARKERS = ("zarr.json", ".zarray", ".zgroup")  # zarr format 3, and format 2's array and group
BLOCK_BYTES = 128 * 1024 * 1024
Check = Callable[[np.dtype[Any], Where], None]


def is_zarr(path: str | os.PathLike[str]) -> bool:
    """True for a folder holding a zarr array or group."""
    return os.path.isdir(path) and any(os.path.exists(os.path.join(path, marker)) for marker in MARKERS)


def is_zarr_array(value: object) -> bool:
    """True for a zarr array (without importing zarr)."""
    return type(value).__module__.startswith("zarr")


def open_store(path: Path, where: Where, check: Check) -> Any:
    """The zarr array at path, or for a group a mapping of its arrays (nested ones by path, 'enc/W') to loaders;
    dtypes are checked as a .npy's are."""
    zarr = import_extra("zarr", f"reading the zarr store {where.source}")
    try:
        node = zarr.open(str(path.resolve()), mode="r")
    except Exception as exc:  # zarr's errors for damaged metadata have no common base
        raise where.error(f"not a readable zarr store ({' '.join(str(exc).split())[:200]})") from None
    if not hasattr(node, "members"):
        check(np.dtype(node.dtype), where)
        return node
    arrays = {name: member for name, member in node.members(max_depth=None) if not hasattr(member, "members")}

    def loader(name: str, array: Any) -> Callable[[], Any]:
        def load() -> Any:
            check(np.dtype(array.dtype), Where(where.operand, f"{where.source}:{name}"))
            return array
        return load

    return {name: loader(name, array) for name, array in arrays.items()}


def in_memory(value: Any) -> Any:
    """A zarr array read whole into NumPy; anything else as it is."""
    return value[...] if is_zarr_array(value) else value


def batch_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Chunks of whole columns along the batch (last) axis, about BLOCK_BYTES each (at least 1 along every axis)."""
    if not shape:
        return ()
    column = math.prod(shape[:-1]) * itemsize
    width = max(1, BLOCK_BYTES // max(column, 1))
    return (*(max(n, 1) for n in shape[:-1]), max(1, min(width, shape[-1])))


def write(results: Mapping[str, Any], output: Path, record: bool, *, shown: str | None = None) -> None:
    """NumPy results into a zarr store at output: one array, or (several, or a record) a group of them."""
    stored, finish, abandon = _prepare(results, output, record, shown or str(output))
    try:
        for array, value in stored:
            array[...] = np.asarray(value)
    except BaseException:
        abandon()
        raise
    finish()


def lazy_store(results: Mapping[str, Any], output: Path, record: bool, *,
               shown: str) -> tuple[list[Any], Callable[[], None], Callable[[], None]]:
    """da.store tasks that write Dask results into a zarr store at output (its chunks: the results' own, made
    regular), with what finishes or abandons the store."""
    da = dask_array()
    regular = {name: value.rechunk(tuple(max(c) if c and max(c) else 1 for c in value.chunks))
               for name, value in results.items()}
    stored, finish, abandon = _prepare(regular, output, record, shown, chunks={
        name: value.chunksize for name, value in regular.items()})
    sources = [value for _, value in stored]
    targets = [SeenTarget(array, metadata_file(array), shown) for array, _ in stored]
    return [da.store(sources, targets, lock=False, compute=False)], finish, abandon


def _refuse_other_arrays(zarr: Any, output: Path, results: Mapping[str, Any], record: bool, shown: str) -> None:
    """An existing group is replaced only when every array in it is one that this run writes again."""
    if not output.exists():
        return
    try:
        node = zarr.open(str(output.resolve()), mode="r")
    except Exception:  # a damaged store: replaced, as before
        return
    if not hasattr(node, "members"):
        return
    kept = sorted(name for name, member in node.members(max_depth=None)
                  if not hasattr(member, "members") and (name not in results or (len(results) == 1 and not record)))
    if kept:
        raise OutputError(f"is a zarr group holding arrays this run does not write ({', '.join(kept)}), and wxb "
                          "never deletes them", operand="-o", source=shown, hint="name a new store")


def metadata_file(array: Any) -> str:
    """The path of a zarr array's own metadata file (format 3's zarr.json, format 2's .zarray)."""
    folder = Path(array.store.root) / array.path
    return str(next((folder / name for name in ("zarr.json", ".zarray") if (folder / name).exists()),
                    folder / "zarr.json"))


class SeenTarget:
    """A zarr array as the target of da.store that writes a block only where its store's metadata is seen: a
    worker with its own view of the folder would otherwise write the chunks on its side, and the store would
    read back as zeros."""

    def __init__(self, array: Any, marker: str, shown: str) -> None:
        self.array, self.marker, self.shown = array, marker, shown
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __setitem__(self, region: Any, block: Any) -> None:
        if not os.path.exists(self.marker):
            raise unseen_output(self.shown)
        self.array[region] = block


def _prepare(results: Mapping[str, Any], output: Path, record: bool, shown: str,
             chunks: Mapping[str, tuple[int, ...]] | None = None) -> tuple[list[tuple[Any, Any]], Callable[[], None],
                                                                         Callable[[], None]]:
    """The arrays of a new store beside output, each paired with its value, and finish (rename over output) and
    abandon (remove the new store)."""
    zarr = import_extra("zarr", f"writing the zarr store {shown}")
    if output.exists() and not is_zarr(output):
        hint = "name a new path, or remove it first" if output.is_dir() else "name the store NAME.zarr"
        raise OutputError("is not a zarr store, and wxb replaces only zarr stores", operand="-o", source=shown,
                          hint=hint)
    _refuse_other_arrays(zarr, output, results, record, shown)
    try:
        temp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent.resolve()))
    except OSError as exc:
        raise OutputError(f"cannot write there: {exc.strerror or exc}", operand="-o", source=shown) from None
    store = str(temp / "store")

    def spec(name: str, value: Any) -> dict[str, Any]:
        dtype = np.dtype(value.dtype).newbyteorder("=")
        size = (chunks or {}).get(name) or batch_chunks(tuple(value.shape), dtype.itemsize)
        return {"shape": tuple(value.shape), "dtype": dtype, "chunks": tuple(max(c, 1) for c in size)}

    if len(results) == 1 and not record:
        ((name, value),) = results.items()
        stored = [(zarr.create_array(store, **spec(name, value)), value)]
    else:
        group = zarr.open_group(store, mode="w")
        stored = [(group.create_array(name, **spec(name, value)), value) for name, value in results.items()]

    def finish() -> None:
        old = None
        if output.exists():
            old = output.with_name(f".{output.name}.old.{os.getpid()}")
            output.rename(old)
        os.replace(store, output)
        shutil.rmtree(temp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abandon() -> None:
        with contextlib.suppress(OSError):
            shutil.rmtree(temp)

    return stored, finish, abandon
