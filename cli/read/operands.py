"""Operands in: arrays by name (`-W`, `-X`, `-b`, `-G`, `-T`, or any `NAME=`) from files, archives, pipes,
standard input or inline literals.

What an operand argument may be, tried in this order:
    1. `-`: standard input (at most one operand per command, counting `/dev/stdin` and `--from -`).
    2. A path that exists, even if it contains a colon. A regular file is sniffed where it lies: `.npy` is
       memory-mapped (read-only) and text over LARGE_TEXT goes straight to polars. Anything else (a pipe, a FIFO,
       `/dev/stdin`, `<(...)`, `/dev/fd/N`, a character device) is opened once and read once, and its bytes are
       sniffed exactly as standard input's are.
    3. `ARCHIVE:KEY` where ARCHIVE is an existing `.npz` or `.json` file: the array named KEY in it.
    A zarr store (a folder, `store.zarr` or `store.zarr:group/KEY`) gives its zarr array, read only when used
       (wxb.cli.zarrio; needs the wxb[dask] extra).
    4. An inline literal: `"1 2; 3 4"`, `"[1, 2; 3, 4]"`, `"7"`, `"[[1, 2], [3, 4]]"` (see wxb.cli.textparse).
    Neither a file nor a literal: one error saying both ("no such file 'data.csv', and not a matrix literal
    either").
What the bytes are, file or stream alike: `.npy` or `.npz` data by their magic bytes, whatever the name; else by
suffix, `.npy`, `.npz`, `.json` (a number, nested lists, or an object of them), `.csv`, `.txt` and `.dat`
(delimiter sniffed among tab, `;`, `,`, else whitespace), `.tsv` (tab); with no such suffix, JSON if it starts
with `[` or `{`, else text with the delimiter sniffed. A forced delimiter and `header` apply to text only.
Text rules (UTF-8 or UTF-16, header rows, row labels): see wxb.cli.textparse.
A bare archive (`-X params.npz`, no `:KEY`) gives its only array; with several, the one named after the
operand (`X` for `-X`, `W1` for `W1=`); otherwise an error listing the names. A bundle
(`read_operands(bundle=...)`, the user's `--from`) is an archive whose arrays fill in every operand not given
explicitly, each from the array of the same name.

Safety: `allow_pickle=False` always, and object arrays are refused. A `.npy` header is checked against the
bytes really present before anything is allocated (for `.npz` members, against the zip's sizes). Only arrays
of booleans, integers and real floats are returned: complex, string, structured and object data are refused
here with the file named. Text gives float64; binary arrays keep their dtype (the core decides dtype policy).
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import InputError, Where
from ..show.progress import reading
from .archives import Archive, Array, check_dtype, json_content, npy_bytes, npy_file, npy_stream, npz_archive
from .largetext import parse_large_text
from .literals import parse_literal
from .textparse import (
    LARGE_TEXT,
    SUFFIX_DELIMITERS,
    UTF16_BOMS,
    WHITESPACE,
    parse_text,
    shorten,
)

if TYPE_CHECKING:
    from ..model import Sources

OPERANDS = ("W", "X", "b", "G", "T")  # the operands with options of their own (`-W`, ...)
BUNDLE = "--from"
STDIN_PATHS = ("-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")


def reads_stdin(spec: str | None) -> bool:
    """True for `-`, `-:KEY` and the paths that name standard input."""
    return spec is not None and (spec in STDIN_PATHS or spec.startswith("-:"))
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ARCHIVE_SUFFIXES = (".npz", ".json")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "space": WHITESPACE, "whitespace": WHITESPACE}
_SNIFF = 4096  # bytes of a regular file looked at to tell what it holds



# ---------------------------------------------------------------- the interface


def read_operand(spec: str, label: str, *, delimiter: str | None = None, header: bool | None = None) -> Array:
    """One operand from a path, `path.npz:KEY`, `-` (stdin) or an inline literal; InputError if none fits.

    `label` names the operand in messages (`-X`, `W1=`); `delimiter` and `header` apply to text only."""
    delimiter = normalize_delimiter(delimiter)
    if spec == "-" or spec.startswith("-:"):
        content, where = _read_stdin(label, delimiter, header), Where(label, "stdin")
        if spec == "-":
            return _pick(content, label, where)
        if not isinstance(content, Mapping):
            raise where.error("holds one array, not an archive of named ones", hint="read it with - alone")
        return _member(content, spec[2:], where)
    if os.path.lexists(spec):
        return _read_path(Path(spec), label, None, delimiter, header)
    member = archive_member(spec)
    if member is not None:
        return _read_path(Path(member[0]), label, member[1], delimiter, header)
    archive, colon, key = spec.rpartition(":")
    if colon and archive and key and archive.lower().endswith(ARCHIVE_SUFFIXES):
        raise InputError(f"no such file {shorten(archive)!r}", operand=label)
    return _read_literal(spec, label)


def archive_member(spec: str) -> tuple[str, str] | None:
    """FILE:KEY split at the last colon that leaves an existing file, so a key may hold colons (a.npz:x:y is the
    key x:y of a.npz, unless a file a.npz:x exists); None when no colon does."""
    at = len(spec)
    while (at := spec.rfind(":", 0, at)) > 0:
        if at + 1 < len(spec) and os.path.lexists(spec[:at]):
            return spec[:at], spec[at + 1:]
    return None


def is_literal(spec: str) -> bool:
    """True when read_operand reads spec as an inline literal: not stdin, a path, nor a path's archive member."""
    if spec == "-" or spec.startswith("-:") or os.path.lexists(spec):
        return False
    return archive_member(spec) is None


def read_operands(
    specs: Mapping[str, str | None],
    *,
    bundle: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Array | None]:
    """Every operand named in specs (None = not given): its own spec first, else the array of that exact name in
    `bundle`, else None. Names are identifiers (`X`, `W1`); messages call them as `labels` says (how the user
    typed them), else `-X` or `W1=` (operand_label)."""
    bad = [name for name in specs if not name.isidentifier()]
    if bad:
        raise ValueError(f"operand names must be identifiers, not {bad}")
    _one_reader_of_stdin(specs, bundle, labels)
    arrays: dict[str, Array | None] = {
        name: None if spec is None else read_operand(spec, (labels or {}).get(name, operand_label(name)),
                                                     delimiter=delimiter, header=header)
        for name, spec in specs.items()
    }
    if bundle is not None:
        _fill_from_bundle(arrays, bundle, delimiter, header)
    return arrays


def operand_label(name: str) -> str:
    """How messages name an operand: its option (`-X`) for W, X, b, G and T, else its argument (`W1=`)."""
    return f"-{name}" if name in OPERANDS else f"{name}="


def normalize_delimiter(delimiter: str | None) -> str | None:
    """A forced delimiter: one character, or `tab`, `\\t`, `space`/`whitespace` (any run of blanks)."""
    if delimiter is None:
        return None
    named = DELIMITER_NAMES.get(delimiter.lower(), delimiter)
    if len(named) != 1 or named in '"#\n\r' or named.isalnum() or named in ".+-":
        hint = "use one of , ; tab space, or a single punctuation character"
        raise InputError(f"cannot use {shorten(delimiter)!r} as a delimiter", operand="--delimiter", hint=hint)
    return named


def refuse_two_readers_of_stdin(sources: Sources, readers: Mapping[str, str], kind: str) -> None:
    """Standard input is read once: by one operand (or the bundle) or one of `readers`, a command's own sources
    beside the operands (label: source, as `--tangent X=`: `-`), of the `kind` named in the hint, not two."""
    operands = [*sources.shorthands.values(), *(b.partition("=")[2] for b in sources.bindings or []), sources.bundle]
    reading = [label for label, spec in readers.items() if reads_stdin(spec)]
    if len(reading) + any(reads_stdin(spec) for spec in operands) > 1:
        raise InputError("two sources read standard input", operand=reading[-1],
                         hint=f"only one operand or {kind} can come from standard input; give the others as files "
                              "or literals")


def _one_reader_of_stdin(specs: Mapping[str, str | None], bundle: str | None,
                         labels: Mapping[str, str] | None = None) -> None:
    """Standard input can be read once: refuse two operands (or an operand and the bundle) that both read it."""
    readers = [(labels or {}).get(name, operand_label(name)) for name, spec in specs.items() if reads_stdin(spec)]
    readers += [BUNDLE] if bundle in STDIN_PATHS else []
    if len(readers) > 1:
        hint = "only one operand can come from standard input; give the others as files or literals"
        named = f"{', '.join(readers[:-1])} and {readers[-1]} {'both' if len(readers) == 2 else 'all'}"
        raise InputError(f"{named} read standard input", hint=hint)


def _fill_from_bundle(arrays: dict[str, Array | None], bundle: str, delimiter: str | None,
                      header: bool | None) -> None:
    where = Where(BUNDLE, "stdin" if bundle == "-" else bundle)
    archive = _read_stdin(BUNDLE, delimiter, header) if bundle == "-" else _bundle_archive(Path(bundle), where)
    if not isinstance(archive, Mapping):
        hint = "use an .npz, or a JSON object, of arrays named after the operands"
        raise where.error("a bundle must hold named arrays", hint=hint)
    if not set(archive) & set(arrays):
        raise where.error(f"no arrays named {_names(arrays)} (it has: {_names(archive)})")
    for name in arrays:
        if arrays[name] is None and name in archive:
            arrays[name] = archive[name]()


def _bundle_archive(path: Path, where: Where) -> Archive | Array:
    if not os.path.lexists(path):
        raise where.error("no such file")
    return _read_file(path, where, delimiter=None, header=None)


# ---------------------------------------------------------------- paths, stdin, literals


def _read_path(path: Path, label: str, key: str | None, delimiter: str | None, header: bool | None) -> Array:
    where = Where(label, str(path))
    content = _read_file(path, where, delimiter, header)
    if key is None:
        return _pick(content, label, where)
    if not isinstance(content, Mapping):
        raise where.error(f"holds a single array, not named ones, so ':{shorten(key)}' cannot pick from it")
    return _member(content, key, where)


def _read_file(path: Path, where: Where, delimiter: str | None, header: bool | None) -> Archive | Array:
    """The array, or the archive of named arrays, in one file; OS errors become located InputErrors.

    A regular file is read where it lies; anything else (a pipe, FIFO, device) is read once, then sniffed."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            from ..stores import zarr as zarrio

            if zarrio.is_zarr(path):  # a zarr store: its array, or its group's arrays by name (store.zarr:KEY)
                return zarrio.open_store(path, where, check_dtype)  # type: ignore[no-any-return]
            raise where.error("is a folder, not a file")
        if not stat.S_ISREG(mode):
            with open(path, "rb") as stream:
                return _from_stream(stream, where, delimiter, header, path.suffix.lower())
        return _regular_file(path, where, delimiter, header)
    except OSError as exc:
        raise where.error(f"cannot read it: {exc.strerror or exc}") from None


def _regular_file(path: Path, where: Where, delimiter: str | None, header: bool | None) -> Archive | Array:
    """A regular file, by what it holds: .npy memory-mapped, large text handed to polars by path."""
    suffix = path.suffix.lower()
    with open(path, "rb") as file:
        kind = content_kind(file.read(_SNIFF), suffix)
    if kind == "npy":
        return npy_file(path, where)
    if kind == "npz":
        return npz_archive(str(path), where)
    if kind == "json":
        return json_content(path.read_bytes(), where)
    delimiter = delimiter or SUFFIX_DELIMITERS.get(suffix)
    size = path.stat().st_size
    if size > LARGE_TEXT:
        _text_fits(path, size, where)
        with reading(f"reading {path.name}", size) as advance:
            return parse_large_text(str(path), where, delimiter=delimiter, header=header, advance=advance)
    return parse_text(path.read_bytes(), where, delimiter=delimiter, header=header)


TEXT_PARSE_FACTOR = 1.5  # peak memory of parsing text, per byte of it (polars' frame, then the array)


def _text_fits(path: Path, size: int, where: Where) -> None:
    """Refuse text whose parsing would not fit in the memory available, before reading it (know before
    computing): converted to .npy, it is memory-mapped and streams."""
    from ..stores.blocks import available_memory, size_text

    available, source = available_memory()
    need = int(size * TEXT_PARSE_FACTOR)
    if need > available:
        raise where.error(f"{size_text(size)} of text needs about {size_text(need)} to read, "
                          f"{size_text(available)} available ({source})",
                          hint=f"convert it to .npy first, which streams: wxb convert {path} -o {path.stem}.npy")


def _read_stdin(label: str, delimiter: str | None, header: bool | None) -> Archive | Array:
    where = Where(label, "stdin")
    from ..env import current

    env = current()
    stream = env.stdin
    if stream is None or env.stdin_isatty:
        hint = f"pipe or redirect data into it, e.g. wxb ... {label} - < data.csv"
        raise InputError(f"{label} reads standard input, but it is a terminal", hint=hint)
    return _from_stream(stream.buffer, where, delimiter, header)


def _from_stream(stream: IO[bytes], where: Where, delimiter: str | None, header: bool | None,
                 suffix: str = "") -> Archive | Array:
    """What a stream holds (stdin, a pipe), read once. Small data is read whole; beyond LARGE_TEXT, .npy is read
    straight into its array and text is parsed piece by piece (wxb.cli.convert), so memory holds the array and
    one buffer, never the whole bytes beside the array."""
    head = stream.read(LARGE_TEXT + 1)
    if len(head) <= LARGE_TEXT:
        if not head.strip():
            raise where.error("standard input is empty" if where.source == "stdin" else "it is empty",
                              hint="pipe data in, or give a file or a literal")
        return _from_bytes(head, where, delimiter, header, suffix)
    kind = content_kind(head, suffix)
    if kind == "npy":
        return npy_stream(stream, head, where)
    if kind == "text":
        from .textstream import read_text_stream

        return read_text_stream(stream, head, where, delimiter=delimiter or SUFFIX_DELIMITERS.get(suffix),
                                header=header)
    if kind == "npz":  # a zip is read from its end: spooled to a temporary file, not held in memory
        import shutil
        import tempfile

        spool = tempfile.TemporaryFile(prefix="wxb-npz-")  # noqa: SIM115 (the archive reads it later; gone at exit)
        spool.write(head)
        shutil.copyfileobj(stream, spool, 1 << 20)
        spool.seek(0)
        return npz_archive(spool, where)
    return _from_bytes(head + stream.read(), where, delimiter, header, suffix)


def _from_bytes(
    data: bytes, where: Where, delimiter: str | None, header: bool | None, suffix: str = ""
) -> Archive | Array:
    """The array, or archive of named arrays, in bytes already read (from stdin or a pipe), by what they hold."""
    kind = content_kind(data, suffix)
    if kind == "npy":
        return npy_bytes(data, where)
    if kind == "npz":
        return npz_archive(io.BytesIO(data), where)
    if kind == "json":
        return json_content(data, where)
    delimiter = delimiter or SUFFIX_DELIMITERS.get(suffix)
    if len(data) > LARGE_TEXT:
        with reading(f"reading {where.source}", len(data)) as advance:
            return parse_large_text(data, where, delimiter=delimiter, header=header, advance=advance)
    try:
        return parse_text(data, where, delimiter=delimiter, header=header)
    except InputError:
        literal = _literal_text(data, delimiter)
        if literal is None:
            raise
        return parse_literal(literal, where.operand)


def _literal_text(data: bytes, delimiter: str | None) -> str | None:
    """The text of piped bytes that are not a table but may be an inline literal ("1 2; 3 4"): rows separated by
    `;` on one line, no delimiter asked for; else None. A literal that fails too leaves the table's error."""
    if delimiter is not None or b";" not in data:
        return None
    try:
        lines = [line for line in data.decode("utf-8-sig").splitlines() if line.strip()]
    except UnicodeDecodeError:
        return None
    if len(lines) != 1:
        return None
    with suppress(InputError):
        parse_literal(lines[0], "")
        return lines[0]
    return None


def content_kind(head: bytes, suffix: str) -> str:
    """'npy', 'npz', 'json' or 'text': magic bytes first, then the suffix, then a leading `[` or `{` (JSON)."""
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head[:4] in ZIP_MAGIC:
        return "npz"
    if suffix in (".npy", ".npz", ".json"):
        return suffix[1:]
    if suffix not in TEXT_SUFFIXES and _first_character(head) in ("[", "{"):
        return "json"
    return "text"


def _first_character(head: bytes) -> str:
    """The first non-blank character of text that starts with these bytes (UTF-8 or UTF-16 with a BOM)."""
    if head[:2] in UTF16_BOMS:
        text = head[: len(head) // 2 * 2].decode("utf-16", errors="ignore")
    else:
        text = head[:_SNIFF].decode("utf-8", errors="ignore").removeprefix("\ufeff")
    return text.lstrip()[:1]


def _read_literal(spec: str, label: str) -> Array:
    try:
        return parse_literal(spec, label)
    except InputError as exc:
        if _looks_like_path(spec):
            hint = 'check the path; a literal looks like "1 2; 3 4"'
            what = f"no such file {shorten(spec)!r}, and not a matrix literal either"
            raise InputError(what, operand=label, hint=hint) from None
        raise InputError(
            exc.what,
            operand=exc.operand,
            source=exc.source,
            column=exc.column,
            hint=exc.hint or f"there is no file named {shorten(spec)!r} either",
        ) from None


def _looks_like_path(spec: str) -> bool:
    """A failed literal that reads like a file name: a folder, a suffix, or one word without digits."""
    return bool(re.search(r"[/\\]|\.[A-Za-z]\w*$", spec) or re.fullmatch(r"[^\W\d]+", spec.strip()))


def _pick(content: Archive | Array, label: str, where: Where) -> Array:
    """A bare archive's only array, else the one named after the operand (`X` for `-X`, `W1` for `W1=`)."""
    if not isinstance(content, Mapping):
        return content
    if not content:
        raise where.error("holds no arrays (an empty archive)")
    if len(content) == 1:
        return next(iter(content.values()))()
    name = label.lstrip("-").removesuffix("=")
    if name in content:
        return content[name]()
    hint = f"pick one with {'-' if where.source == 'stdin' else shorten(where.source)}:KEY"
    raise where.error(f"holds several arrays and none named {name!r} (it has: {_names(content)})", hint=hint)


def _member(archive: Archive, key: str, where: Where) -> Array:
    if not archive:
        raise where.error(f"holds no arrays (an empty archive), so none named {shorten(key)!r}")
    if key not in archive:
        raise where.error(f"has no array named {shorten(key)!r} (it has: {_names(archive)})")
    return archive[key]()


def _names(archive: Mapping[str, object]) -> str:
    """The names in an archive, for a message: a few, shortened."""
    return shorten(", ".join(archive), 120) or "no arrays"
