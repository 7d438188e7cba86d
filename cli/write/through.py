"""-o, written through: where a path ends decides how it is written.

`-o` writes through (write_through): symbolic links are followed, and what they end at decides. A regular file,
or nothing yet, is written atomically: to a temporary file beside the target, flushed, then renamed over it, so a
link stays a link and its target gets the new content; the target keeps its mode. On any failure, and on SIGTERM
or SIGHUP, the temporary file is removed and an existing file is left untouched. A FIFO, a device or a socket is
written directly, never replaced; so is an inherited descriptor (`/dev/stdout`, `/dev/fd/N`, `>(gzip > x.gz)`),
written as it is open (appending stays appending). An output that fails (a full disk, a closed stdout) is an
OutputError naming stdout or the -o path.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from ..errors import OutputError

Emit = Callable[[BinaryIO], object]  # writes the prepared output to a binary stream


def is_terminal(output: Path) -> bool:
    """True when -o names a terminal: an inherited descriptor on one (/dev/stdout), or a terminal device (opened
    only to ask; a FIFO is never opened here, since closing it would end its reader's input)."""
    held = descriptor(str(output))
    if held is not None:
        try:
            return os.isatty(held)
        except OSError:
            return False
    try:
        if not stat.S_ISCHR(os.stat(output).st_mode):
            return False
        fd = os.open(output, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    """Why a write failed, in the system's words (polars' "… (os error 28)" too); a bad descriptor is a closed one."""
    code, text = exc.errno, exc.strerror
    if code is None:
        import re

        found = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(found.group(1)) if found else None
        text = os.strerror(code) if code is not None else None
    if code == errno.EBADF:
        return "it is closed"
    return text or str(exc)


@contextmanager
def _reported(what: str, shown: str) -> Iterator[None]:
    """Within the block, an OSError becomes an OutputError `what: <reason>, in -o <shown>` (a closed pipe is not
    an error of ours: it passes through)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"{what}: {_reason(exc)}", operand="-o", source=shown) from None


# ---------------------------------------------------------------- -o: writing through

STANDARD_STREAMS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
DESCRIPTOR_FOLDERS = ("/dev/fd", "/proc/self/fd", "/proc/thread-self/fd")
MAX_LINKS = 40  # symbolic links followed before giving up, as Linux does
CLEANUP_SIGNALS = ("SIGTERM", "SIGHUP")


def write_through(path: Path, emit: Emit) -> None:
    """Write to -o's `path` by what it names, at the end of its symbolic links: an inherited descriptor is written
    as it is open; a regular file, or nothing yet, atomically (a link stays a link); a folder is refused; a FIFO,
    device or socket is written directly, never replaced."""
    shown = str(path)
    target = resolve_output(path)
    if isinstance(target, int):
        _write_descriptor(target, emit, shown)
        return
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write there: {_reason(exc)}", operand="-o", source=shown) from None
    if mode is None or stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        write_atomically(Path(target), emit, shown=shown)
    elif stat.S_ISSOCK(mode):
        _write_socket(target, emit, shown)
    else:
        _write_directly(target, emit, shown)


def resolve_output(path: Path) -> int | str:
    """What -o names: the number of a descriptor this process holds open, or the path its symbolic links end at
    (which may not exist yet: a dangling link's target is created)."""
    current = str(path)
    for _ in range(MAX_LINKS):
        held = descriptor(current)
        if held is not None:
            return held
        try:
            link = os.readlink(current)
        except OSError:  # not a link, or nothing there yet
            return current
        current = os.path.join(os.path.dirname(current), link)
    raise OutputError("too many levels of symbolic links", operand="-o", source=str(path))


def descriptor(path: str) -> int | None:
    """The descriptor `path` stands for when it names one of this process's own: /dev/stdout, /dev/fd/N,
    /proc/self/fd/N (and the same folders reached another way); else None."""
    absolute = os.path.abspath(path)
    if absolute in STANDARD_STREAMS:
        return STANDARD_STREAMS[absolute]
    folder, name = os.path.split(absolute)
    if not name.isdigit():
        return None
    if folder in DESCRIPTOR_FOLDERS or os.path.realpath(folder) in _own_descriptor_folders():
        return int(name)
    return None


def _own_descriptor_folders() -> tuple[str, ...]:
    import threading

    pid = os.getpid()
    return f"/proc/{pid}/fd", f"/proc/{pid}/task/{threading.get_native_id()}/fd"


def _write_descriptor(descriptor: int, emit: Emit, shown: str) -> None:
    """An inherited descriptor (`/dev/stdout`, `/dev/fd/63` from `>(...)`), written through a copy of it: nothing is
    reopened, truncated or replaced, and a descriptor opened for appending keeps appending."""
    from ..env import current

    env = current()
    for held in (env.stdout, env.stderr):  # whatever they hold comes first, as it would on the descriptor
        with suppress(AttributeError, OSError, ValueError):
            held.flush()  # type: ignore[union-attr]  # None is an AttributeError, suppressed
    with _reported("cannot write it", shown), open(os.dup(descriptor), "wb") as stream:
        emit(stream)


def _write_directly(target: str, emit: Emit, shown: str) -> None:
    """A FIFO or a device, opened for writing and written in place (opening a FIFO waits for its reader)."""
    with _reported("cannot write it", shown), open(target, "wb") as stream:
        emit(stream)


def _write_socket(target: str, emit: Emit, shown: str) -> None:
    """A Unix socket: connected to and written as a stream (a socket cannot be opened like a file)."""
    import socket

    with _reported("cannot write it", shown), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(target)
        with connection.makefile("wb") as stream:
            emit(stream)


def write_atomically(path: Path, emit: Emit, *, shown: str | None = None) -> None:
    """Emit into a temp file beside `path`, flush it, rename it over `path`; on failure, and on SIGTERM or SIGHUP,
    remove the temp. `shown` is the -o path as the user gave it, for messages (default: `path`).

    No fsync: the rename makes the replacement atomic for readers, and durability across a power cut is the
    file system's business, as it is for the plain scripts wxb is measured against."""
    shown = shown or str(path)
    if path.is_dir():
        raise OutputError("is a folder, not a file", operand="-o", source=shown)
    import tempfile

    with _reported("cannot write there", shown):
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with _removed_on_signals(temp), _reported("cannot write it", shown):
            with os.fdopen(fd, "wb") as stream:
                emit(stream)
                stream.flush()
            _keep_metadata(temp, path)
            os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _keep_metadata(temp: str, path: Path) -> None:
    """The replacement keeps the replaced file's mode and, where permitted, its owner; a new file gets the usual
    0o666 minus the umask."""
    try:
        old = os.stat(path)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        return
    new = os.stat(temp)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        with suppress(OSError):
            os.chown(temp, old.st_uid, old.st_gid)
    os.chmod(temp, stat.S_IMODE(old.st_mode))


@contextmanager
def _removed_on_signals(temp: str) -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP remove `temp`, then end the process as that signal would have (a shell
    sees status 128 + signum). Set only in the main thread, never over an ignored signal (nohup), and restored on
    the way out."""
    signums = [getattr(signal, name) for name in CLEANUP_SIGNALS if hasattr(signal, name)]
    previous: dict[int, Any] = {}

    def remove_and_resignal(signum: int, frame: FrameType | None) -> None:
        with suppress(OSError):
            os.unlink(temp)
        _restore_handlers(previous)
        signal.raise_signal(signum)

    try:
        for signum in signums:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, remove_and_resignal)
    except ValueError:  # not the main thread: signals are not ours to catch
        pass
    try:
        yield
    finally:
        _restore_handlers(previous)


def _restore_handlers(previous: dict[int, Any]) -> None:
    """Put back the handlers `previous` recorded (one set outside Python counts as the default)."""
    for signum, handler in previous.items():
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    previous.clear()
