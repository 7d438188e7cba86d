"""`--dask` and `--scheduler`: the same engine on Dask arrays, on this machine's cores or on an existing cluster.

    with running(dask=True, scheduler=None):     # threads here, or a Client of --scheduler's cluster
        arrays = lazy_operands(arrays)            # .npy by reader tasks, zarr by da.from_zarr, small ones wrapped
        ...core builds the lazy graph...
        results = realize(results, problem, fmt, output, record)   # one dask.compute

Inputs: a memory-mapped .npy (what wxb's reader gives) becomes one reader task per block of batch columns, opening
the file by its absolute path (wxb.cli.npyblocks); nothing of its data enters the graph. A zarr array goes through
da.from_zarr. Operands already in memory (literals, csv, json, npz members, stdin) are small by nature and are
wrapped with da.from_array: their values travel in the graph. With --scheduler the workers read the files
themselves, so .npy and zarr operands must be on storage every worker sees, under the same path.

Outputs: every result, and the NaN and infinity counts behind wxb's warning lines, in one dask.compute (a result
with NaN or infinities costs a second pass, over the operands, to say where they came from). A result
written to a .npy file (-o f.npy) or a zarr store (-o grads.zarr) is written by the tasks, block by block, into a
file created beside the target and renamed over it at the end; nothing as large as f is gathered on the client.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, OutputError
from ..extras import dask_array, import_extra
from ..stores.blocks import NpyData
from ..stores.npyblocks import NpyTarget, column_bounds, create, read_columns

BLOCK_BYTES = 64 * 1024 * 1024  # a block of batch columns: large enough for BLAS, small beside a worker's memory
Results = Mapping[str, Any]


# ---------------------------------------------------------------- the cluster


@contextlib.contextmanager
def running(dask: bool, scheduler: str | None) -> Iterator[None]:
    """Where the command's Dask graph runs: on the cluster at `scheduler` (a Client for the block, closed after),
    else (dask) on this machine's cores in threads, else nowhere (the command runs in memory).

    Threads, not a LocalCluster of processes: NumPy releases the GIL in its kernels, so threads use every core,
    with no cluster to start on every command (about 10 s here) and no copies between processes (README, Big
    data: the figures)."""
    if not dask and scheduler is None:
        yield
        return
    option = "--scheduler" if scheduler else "--dask"
    dask_module = import_extra("dask", option)
    import_extra("dask.array", option)
    if scheduler is None:
        with dask_module.config.set(scheduler="threads"):
            yield
        return
    distributed = import_extra("distributed", option)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the client's own notes (versions, ports) are not the user's business
        client = _connect(distributed, scheduler)
    _quiet_interruption()
    try:
        with client.as_current():
            yield
    finally:
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()


def _quiet_interruption() -> None:
    """After Ctrl-C the client's gathering tasks end in AllExit, which asyncio would log as "Task exception was
    never retrieved" with a traceback each, as they are collected: the interruption is wxb's own exit 130."""
    import logging

    def not_all_exit(record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "AllExit"

    logging.getLogger("asyncio").addFilter(not_all_exit)


def _connect(distributed: Any, address: str) -> Any:
    """A client of the scheduler at address; an address that does not answer is one located error (at once when the
    name does not resolve or the connection is refused: only a silent host waits for the timeout)."""
    try:
        _probe(address)
        return distributed.Client(address)  # waits distributed.comm.timeouts.connect (30 s; DASK_ env to change)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"cannot reach the Dask scheduler at {address!r}: {reason}", operand="--scheduler",
                         hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, or use "
                         "--dask to compute on this machine") from None


def _probe(address: str) -> None:
    """For a tcp:// address (the default protocol): OSError at once when its host name does not resolve or
    nothing listens on its port; nothing when a connection opens or the host stays silent (the client waits)."""
    import socket

    protocol, _, location = address.rpartition("://")
    if protocol not in ("", "tcp") or not location:
        return
    host, _, port = location.rpartition(":") if location.rpartition(":")[2].isdigit() else (location, "", "8786")
    host = host.strip("[]") or "127.0.0.1"
    try:
        found = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"the host name {host!r} does not resolve ({exc.strerror})") from None
    family, kind, proto, _, where = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.settimeout(1)
        try:
            probe.connect(where)
        except ConnectionRefusedError:
            raise OSError(f"nothing listens on port {port} of {host} (connection refused)") from None
        except OSError:
            return  # silent or unreachable for now: the client's own timeout decides


# ---------------------------------------------------------------- operands in


def lazy_operands(arrays: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every operand as a Dask array chunked along the batch (the last axis), one column width for all; labels:
    how each was given (`-X`, `X=`), as its reader tasks name it."""
    import_extra("dask.array", "--dask")
    width = batch_width([a for a in arrays.values() if a is not None])
    from ..read.operands import operand_label

    given = labels or {}
    return {name: None if a is None else lazy_array(a, width, given.get(name, operand_label(name)))
            for name, a in arrays.items()}


def batch_width(arrays: list[Any]) -> int:
    """Columns per block: BLOCK_BYTES over the largest column among the operands (a column: every axis but the
    last), so that X and G of one batch are cut at the same columns."""
    columns = [int(np.prod(a.shape[:-1])) * np.dtype(a.dtype).itemsize for a in arrays if len(a.shape) >= 2]
    return max(1, BLOCK_BYTES // max(columns, default=1))


def lazy_array(array: Any, width: int, label: str) -> Any:
    """One operand as a Dask array: a mapped .npy by reader tasks, zarr by da.from_zarr, an in-memory one wrapped."""
    da = dask_array()
    if isinstance(array, da.Array):
        return array
    if np.ndim(array) == 0 and not type(array).__module__.startswith("zarr"):
        return np.asarray(array)  # a scalar stays a NumPy scalar: a scalar G then fills f's own chunks
    if isinstance(array, np.memmap) and array.filename is not None:
        return npy_array(NpyData.of_memmap(array), width, label)
    if type(array).__module__.startswith("zarr"):
        return da.from_zarr(array)
    array = np.asarray(array)
    chunks = (*array.shape[:-1], width) if array.ndim >= 2 else array.shape
    return da.from_array(array, chunks=chunks)


def npy_array(layout: NpyData, width: int, label: str = "") -> Any:
    """The array of a .npy file as reader tasks, one per block of `width` batch columns (the last axis)."""
    from dask.base import tokenize

    da = dask_array()

    stat = os.stat(layout.path)
    name = "read-npy-" + tokenize(layout, stat.st_mtime_ns, stat.st_size, width)
    if not layout.shape:
        graph: dict[Any, Any] = {(name,): (read_columns, layout, 0, 0, label)}
        return da.Array(graph, name, (), dtype=layout.dtype, meta=np.empty((), layout.dtype))
    bounds = column_bounds(layout.shape[-1], width)
    lead = (0,) * (len(layout.shape) - 1)
    graph = {(name, *lead, j): (read_columns, layout, start, stop, label) for j, (start, stop) in enumerate(bounds)}
    chunks = (*((n,) for n in layout.shape[:-1]), tuple(stop - start for start, stop in bounds))
    return da.Array(graph, name, chunks, dtype=layout.dtype, meta=np.empty((0,) * len(layout.shape), layout.dtype))


# ---------------------------------------------------------------- results out


def finite_counts(results: Results) -> dict[str, Any]:
    """Lazy counts behind the warning lines: NaN and infinite entries of each float result."""
    return {name: (np.count_nonzero(np.isnan(value)), np.count_nonzero(np.isinf(value)))
            for name, value in results.items() if value.dtype.kind == "f"}


def operand_flags(operands: list[Any]) -> tuple[Any, Any]:
    """Lazy flags: whether the operands hold NaN, and infinities (asked only when a result does: reading every
    operand a second time is the price, where checking them with the results would hold their blocks in memory)."""
    da = dask_array()
    floats = [a for a in operands if a.dtype.kind == "f"]
    if not floats:
        return False, False
    return (da.any(da.stack([np.isnan(np.sum(a)) for a in floats])),
            da.any(da.stack([np.any(np.isinf(a)) for a in floats])))


def realize(results: Results, operands: list[Any], fmt: str, output: Path | None,
            record: bool) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Compute lazy results in one dask.compute, with their finite counts: (results in memory, counts); the
    results are None when the tasks wrote them to -o (a .npy file or a zarr store) themselves."""
    import dask

    counts = finite_counts(results)
    store = _block_writer(results, fmt, output, record)
    if store is None:
        computed, counts = _compute(dask, results, counts)
        arrays: dict[str, Any] | None = {name: np.asarray(value) for name, value in computed.items()}
    else:
        stores, finish, abandon = store
        try:
            _, counts = _compute(dask, stores, counts)
        except BaseException:
            abandon()
            raise
        finish()
        arrays = None
    if any(any(pair) for pair in counts.values()):
        counts[""] = tuple(bool(flag) for flag in _compute(dask, operand_flags(operands), {})[0])
    return arrays, counts


def _compute(dask: Any, work: Any, counts: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """dask.compute of both at once, NumPy's floating-point warnings silenced (they become wxb's warning lines);
    a worker that died is one error line."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            done, found = dask.compute(work, counts)
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise InputError("a Dask worker died while computing (out of memory?)",
                             hint="give the workers more memory, or use smaller blocks") from None
        raise
    return done, {name: (int(nans), int(infs)) for name, (nans, infs) in found.items()}


Writer = tuple[list[Any], Callable[[], None], Callable[[], None]]


def _block_writer(results: Results, fmt: str, output: Path | None, record: bool) -> Writer | None:
    """Store tasks that write the results into -o block by block, with what finishes (renames) or abandons the
    output; None when the output is not a file the tasks can write (stdout, a pipe, a text format)."""
    if output is None or str(output) == "-" or fmt not in ("npy", "zarr"):
        return None
    from ..write.through import resolve_output

    target = resolve_output(output)
    if isinstance(target, int) or (os.path.exists(target) and not os.path.isfile(target) and fmt == "npy"):
        return None  # a descriptor, FIFO or device: written by the ordinary writer, from memory
    if fmt == "zarr":
        from ..stores.zarr import lazy_store

        return lazy_store(results, Path(target), record, shown=str(output))
    if len(results) != 1:
        return None  # the ordinary writer refuses it with its own message
    return _npy_store(next(iter(results.values())), Path(target), str(output))


def _npy_store(value: Any, target: Path, shown: str) -> Writer:
    """Tasks writing value into a .npy created beside target (header first), renamed over target at the end."""
    import tempfile

    da = dask_array()

    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        layout = create(temp, tuple(value.shape), np.dtype(value.dtype).newbyteorder("="))
    except OSError as exc:
        raise OutputError(f"cannot write there: {exc.strerror or exc}", operand="-o", source=shown) from None
    stored = da.store(value, NpyTarget(layout, shown), lock=False, compute=False)

    def finish() -> None:
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, target)

    def abandon() -> None:
        with contextlib.suppress(OSError):
            os.unlink(temp)

    return [stored], finish, abandon


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
