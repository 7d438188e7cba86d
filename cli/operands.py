"""Operands in: `-W`, `-X`, `-b`, `-G`, `-T` from files, archives, standard input or inline literals.

What an operand argument may be, tried in this order:
    1. `-`: standard input (at most one operand per command). `.npy` and `.npz` data are recognised by their
       magic bytes, JSON by a leading `[` or `{`, anything else is parsed as delimited text.
    2. A path that exists, even if it contains a colon. By suffix: `.npy` (memory-mapped, read-only), `.npz`,
       `.json` (a number, nested lists, or an object of them), `.csv` (delimiter sniffed among tab, `;`, `,`),
       `.tsv` (tab), `.txt`/`.dat` (whitespace). A file with another suffix is read by its magic bytes, else as
       text with the delimiter sniffed. Text rules: see wxb.cli.textparse.
    3. `ARCHIVE:KEY` where ARCHIVE is an existing `.npz` or `.json` file: the array named KEY in it.
    4. An inline literal: `"1 2; 3 4"`, `"[1, 2; 3, 4]"`, `"7"`, `"[[1, 2], [3, 4]]"` (see wxb.cli.textparse).
    Neither a file nor a literal: one error saying both ("no such file 'data.csv', and not a matrix literal
    either").
A bare archive (`-X params.npz`, no `:KEY`) gives its only array; with several, the one named after the
operand (`X` for `-X`); otherwise an error listing the names. A bundle (`read_operands(bundle=...)`) is an
archive whose arrays named W, X, b, G, T fill in the operands not given explicitly.

Safety: `allow_pickle=False` always, and object arrays are refused. A `.npy` header is checked against the
bytes really present before anything is allocated (for `.npz` members, against the zip's sizes). Only arrays
of booleans, integers and real floats are returned: complex, string, structured and object data are refused
here with the file named. Text gives float64; binary arrays keep their dtype (the core decides dtype policy).
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from wxb.cli.errors import InputError
from wxb.cli.progress import reading
from wxb.cli.textparse import (
    LARGE_TEXT,
    SUFFIX_DELIMITERS,
    WHITESPACE,
    Where,
    decode,
    json_array,
    parse_large_text,
    parse_literal,
    parse_text,
)

if TYPE_CHECKING:
    import zipfile

OPERANDS = ("W", "X", "b", "G", "T")
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ARCHIVE_SUFFIXES = (".npz", ".json")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "space": WHITESPACE, "whitespace": WHITESPACE}
_MAX_DEFLATE_RATIO = 1100  # zlib cannot expand data more than ~1032×: a zip claiming more is lying

Array = NDArray[np.generic]
Archive = Mapping[str, Callable[[], Array]]  # name → loader: arrays are read only when asked for


# ---------------------------------------------------------------- the interface


def read_operand(spec: str, operand: str, *, delimiter: str | None = None, header: bool | None = None) -> Array:
    """One operand from a path, `path.npz:KEY`, `-` (stdin) or an inline literal; InputError if none fits.
    header: the first row of a text operand is a header (True), data (False), or sniffed (None)."""
    delimiter = normalize_delimiter(delimiter)
    if spec == "-":
        return _pick(_read_stdin(operand, delimiter), operand, Where(operand, "stdin"))
    if os.path.lexists(spec):
        return _read_path(Path(spec), operand, None, delimiter)
    archive, colon, key = spec.rpartition(":")
    if colon and archive and key:
        if os.path.lexists(archive):
            return _read_path(Path(archive), operand, key, delimiter)
        if archive.lower().endswith(ARCHIVE_SUFFIXES):
            raise InputError(f"no such file {archive!r}", operand=operand)
    return _read_literal(spec, operand)


def operand_label(name: str) -> str:
    """How the user gave an operand, for messages: -W, -X, -b, -G, -T, or NAME= for any other name."""
    return f"-{name}" if name in OPERANDS else f"{name}="


def read_operands(
    specs: Mapping[str, str | None], *, bundle: str | None = None, delimiter: str | None = None,
    header: bool | None = None,
) -> dict[str, Array | None]:
    """The operands named in specs (None = not given): explicit specs first, then arrays of the same name in
    `bundle`. Any identifier may name an operand; at most one of them (or the bundle) reads standard input."""
    readers = [operand_label(name) for name, spec in specs.items() if spec == "-"]
    readers += ["--from"] if bundle == "-" else []
    if len(readers) > 1:
        hint = "only one operand can come from standard input; give the others as files or literals"
        both = "both" if len(readers) == 2 else "all"
        raise InputError(f"{' and '.join(readers)} {both} read standard input '-'", hint=hint)
    arrays: dict[str, Array | None] = {}
    for name, spec in specs.items():
        label = operand_label(name)
        arrays[name] = None if spec is None else read_operand(spec, label, delimiter=delimiter, header=header)
    if bundle is not None:
        _fill_from_bundle(arrays, bundle, delimiter)
    return arrays


def normalize_delimiter(delimiter: str | None) -> str | None:
    """A forced delimiter: one character, or `tab`, `\\t`, `space`/`whitespace` (any run of blanks)."""
    if delimiter is None:
        return None
    named = DELIMITER_NAMES.get(delimiter.lower(), delimiter)
    if len(named) != 1 or named in '"#\n\r' or named.isalnum() or named in ".+-":
        hint = "use one of , ; tab space, or a single punctuation character"
        raise InputError(f"cannot use {delimiter!r} as a delimiter", operand="--delimiter", hint=hint)
    return named


def _fill_from_bundle(arrays: dict[str, Array | None], bundle: str, delimiter: str | None) -> None:
    where = Where("--from", "stdin" if bundle == "-" else bundle)
    archive = _read_stdin("--from", delimiter) if bundle == "-" else _bundle_archive(Path(bundle), where)
    if not isinstance(archive, Mapping):
        raise where.error("a bundle must hold named arrays", hint="use an .npz or a JSON object of named arrays")
    wanted = [name for name, value in arrays.items() if value is None]
    if not set(archive) & set(arrays):
        raise where.error(f"no arrays named {', '.join(arrays)} (it has: {_names(archive)})")
    for name in wanted:
        if name in archive:
            arrays[name] = archive[name]()


def _bundle_archive(path: Path, where: Where) -> Archive | Array:
    if not os.path.lexists(path):
        raise where.error("no such file")
    return _read_file(path, where, delimiter=None)


# ---------------------------------------------------------------- paths, stdin, literals


def _read_path(path: Path, operand: str, key: str | None, delimiter: str | None) -> Array:
    where = Where(operand, str(path))
    content = _read_file(path, where, delimiter)
    if key is None:
        return _pick(content, operand, where)
    if not isinstance(content, Mapping):
        raise where.error(f"holds a single array, not named ones, so ':{key}' cannot pick from it")
    return _member(content, key, where)


def _read_file(path: Path, where: Where, delimiter: str | None) -> Archive | Array:
    """The array, or the archive of named arrays, in one file; OS errors become located InputErrors."""
    if path.is_dir():
        raise where.error("is a folder, not a file")
    suffix = path.suffix.lower()
    try:
        with open(path, "rb") as file:
            magic = file.read(len(NPY_MAGIC))
        if suffix == ".npy" or (magic.startswith(NPY_MAGIC) and delimiter is None):
            return _npy_file(path, where)
        if suffix == ".npz" or (magic[:4] in ZIP_MAGIC and delimiter is None):
            return _npz_archive(str(path), where)
        if suffix == ".json" and delimiter is None:
            return _json_content(path.read_bytes(), where)
        delimiter = delimiter or SUFFIX_DELIMITERS.get(suffix)
        size = path.stat().st_size
        if size > LARGE_TEXT:
            with reading(f"reading {path.name}", size) as advance:
                return parse_large_text(str(path), where, delimiter=delimiter, advance=advance)
        return parse_text(path.read_bytes(), where, delimiter=delimiter)
    except OSError as exc:
        raise where.error(f"cannot read it: {exc.strerror or exc}") from None


def _read_stdin(operand: str, delimiter: str | None) -> Archive | Array:
    where = Where(operand, "stdin")
    stream = sys.stdin
    if stream is None or stream.isatty():
        hint = f"pipe or redirect data into it, e.g. wxb ... {operand} - < data.csv"
        raise InputError(f"{operand} reads standard input, but it is a terminal", hint=hint)
    data = stream.buffer.read()
    if not data.strip():
        raise where.error("standard input is empty", hint="pipe data in, or give a file or a literal")
    if data.startswith(NPY_MAGIC):
        return _npy_bytes(data, where)
    if data[:4] in ZIP_MAGIC:
        return _npz_archive(io.BytesIO(data), where)
    if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"[", b"{"):
        return _json_content(data, where)
    if len(data) > LARGE_TEXT:
        with reading("reading standard input", len(data)) as advance:
            return parse_large_text(data, where, delimiter=delimiter, advance=advance)
    return parse_text(data, where, delimiter=delimiter)


def _read_literal(spec: str, operand: str) -> Array:
    try:
        return parse_literal(spec, operand)
    except InputError as exc:
        if _looks_like_path(spec):
            hint = 'check the path; a literal looks like "1 2; 3 4"'
            what = f"no such file {spec!r}, and not a matrix literal either"
            raise InputError(what, operand=operand, hint=hint) from None
        raise InputError(
            exc.what,
            operand=exc.operand,
            source=exc.source,
            column=exc.column,
            hint=exc.hint or f"there is no file named {spec!r} either",
        ) from None


def _looks_like_path(spec: str) -> bool:
    """A failed literal that reads like a file name: a folder, a suffix, or one word without digits."""
    return bool(re.search(r"[/\\]|\.[A-Za-z]\w*$", spec) or re.fullmatch(r"[^\W\d]+", spec.strip()))


def _pick(content: Archive | Array, operand: str, where: Where) -> Array:
    """A bare archive's only array, else the one named after the operand (`X` for `-X`)."""
    if not isinstance(content, Mapping):
        return content
    if len(content) == 1:
        return next(iter(content.values()))()
    name = operand.lstrip("-")
    if name in content:
        return content[name]()
    hint = f"pick one with {where.source}:KEY"
    raise where.error(f"holds several arrays and none named {name!r} (it has: {_names(content)})", hint=hint)


def _member(archive: Archive, key: str, where: Where) -> Array:
    if key not in archive:
        raise where.error(f"has no array named {key!r} (it has: {_names(archive)})")
    return archive[key]()


def _names(archive: Archive) -> str:
    return ", ".join(archive) or "no arrays"


# ---------------------------------------------------------------- .npy and .npz: checked before allocating


def _npy_header(stream: IO[bytes], where: Where) -> tuple[tuple[int, ...], bool, np.dtype[np.generic], int]:
    """(shape, fortran_order, dtype, bytes of data) from a .npy header; bad or unsafe headers raise."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise where.error(f"unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, SyntaxError) as exc:
        raise where.error(f"not a valid .npy file ({_first_line(exc)})") from None
    _check_dtype(dtype, where)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    return shape, fortran, dtype, count * dtype.itemsize


def _check_dtype(dtype: np.dtype[np.generic], where: Where) -> None:
    """Only booleans, integers and real floats; object arrays would need pickle, which wxb never loads."""
    if dtype.kind == "O" or dtype.hasobject:
        raise where.error("holds Python objects (loading them would run pickle, which wxb never does)")
    if dtype.kind == "c":
        raise where.error(f"holds complex numbers ({dtype})", hint="wxb computes with real numbers only")
    if dtype.kind not in "biuf":
        raise where.error(f"holds {dtype} data, not numbers")


def _truncated(shape: tuple[int, ...], dtype: np.dtype[np.generic], need: int, have: int, where: Where) -> InputError:
    return where.error(f"truncated .npy: its header says {shape} {dtype} ({need} bytes of data) but only {have} follow")


def _npy_file(path: Path, where: Where) -> Array:
    """A .npy file, memory-mapped read-only after its header was checked against the file's size."""
    with open(path, "rb") as file:
        shape, _, dtype, need = _npy_header(file, where)
        have = os.fstat(file.fileno()).st_size - file.tell()
    if have < need:
        raise _truncated(shape, dtype, need, have, where)
    try:
        array: Array = np.load(path, mmap_mode="r" if need else None, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise where.error(f"not a valid .npy file ({_first_line(exc)})") from None
    return array


def _npy_bytes(data: bytes, where: Where) -> Array:
    """An array from .npy bytes without copying them; the header is checked against the bytes present."""
    stream = io.BytesIO(data)
    shape, fortran, dtype, need = _npy_header(stream, where)
    offset = stream.tell()
    have = len(data) - offset
    if have < need:
        raise _truncated(shape, dtype, need, have, where)
    flat = np.frombuffer(data, dtype=dtype, count=need // dtype.itemsize if dtype.itemsize else 0, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


def _npz_archive(source: str | IO[bytes], where: Where) -> Archive:
    """The arrays of an .npz (a zip of .npy members), each read only when asked for."""
    import zipfile

    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise where.error(f"not a valid .npz file ({_first_line(exc)})") from None
    members = {info.filename.removesuffix(".npy"): info for info in archive.infolist() if not info.is_dir()}

    def loader(name: str, info: zipfile.ZipInfo) -> Callable[[], Array]:
        return lambda: _npz_member(archive, info, Where(where.operand, f"{where.source}:{name}"))

    return {name: loader(name, info) for name, info in members.items()}


def _npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: Where) -> Array:
    if info.file_size > max(info.compress_size, 1) * _MAX_DEFLATE_RATIO:
        raise where.error("damaged .npz: a member claims to expand more than zip compression can")
    try:
        with archive.open(info) as member:
            head = member.read(min(info.file_size, 1 << 16))
            shape, _, dtype, need = _npy_header(io.BytesIO(head), where)
            if need > info.file_size:
                raise _truncated(shape, dtype, need, info.file_size, where)
            data = head + member.read(info.file_size - len(head))
    except InputError:
        raise
    except Exception as exc:  # zipfile, zlib and EOF errors of a damaged archive
        raise where.error(f"damaged .npz member ({_first_line(exc)})") from None
    return _npy_bytes(data, where)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ---------------------------------------------------------------- JSON


def _json_content(data: bytes, where: Where) -> Archive | Array:
    """A JSON number or nested list (one array), or an object of them (named arrays)."""
    import json

    text = decode(data, where)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc.msg})", operand=where.operand, source=where.source, line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise where.error("JSON nested too deeply") from None
    if isinstance(value, dict):
        return {
            name: _json_loader(item, Where(where.operand, f"{where.source}:{name}")) for name, item in value.items()
        }
    return json_array(value, where)


def _json_loader(value: object, where: Where) -> Callable[[], Array]:
    return lambda: json_array(value, where)
