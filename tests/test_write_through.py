"""`-o` writes through: links are kept and their targets replaced atomically; FIFOs, devices, sockets and inherited
descriptors are written directly; a full or closed stdout is one line on stderr; signals leave no temp file.

Driven through real processes. No test writes to the real /dev: device nodes are made in tmp_path (skipped
where mknod is not permitted), and /dev/stdout or /dev/fd/N always name a descriptor redirected into tmp_path.
"""

from __future__ import annotations

import gzip
import io
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from conftest import WXB, shell, wxb

from wxb.cli.env import Environment, using
from wxb.cli.errors import InputError, OutputError
from wxb.cli.write import output, through

SEED = ["-X", "1 2; 3 4", "-b", "5; 6"]
SEED_CSV = "6.0,7.0\n9.0,10.0\n"


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A bash script in which `wxb` is this environment's wxb, run in cwd."""
    return shell(script, cwd=cwd)


def one_error_line(stderr: str) -> str:
    """The single line an error prints; fails on a traceback or an 'Exception ignored' second message."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("wxb: error: "), stderr
    return lines[0]


def device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device node made in tmp_path: minor 3 is a null device, 7 a full one (Linux's mem major 1)."""
    path = tmp_path / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        os.close(os.open(path, os.O_WRONLY))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make or open a device node here: {exc}")
    return path


def is_device(path: Path, minor: int) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, minor)


# ---------------------------------------------------------------- symbolic links


def test_a_symlink_stays_a_link_and_its_target_gets_the_content(tmp_path: Path) -> None:
    target = tmp_path / "data.csv"
    target.write_text("old\n")
    (tmp_path / "link.csv").symlink_to("data.csv")
    done = wxb("forward", *SEED, "-o", "link.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert os.readlink(tmp_path / "link.csv") == "data.csv"
    assert target.read_text() == SEED_CSV
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "link.csv"]


def test_a_chain_of_links_across_folders(tmp_path: Path) -> None:
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "c.csv").write_text("old\n")
    (tmp_path / "deep" / "c.csv").chmod(0o640)
    (tmp_path / "b.csv").symlink_to("deep/c.csv")
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")  # absolute, then relative
    done = wxb("forward", *SEED, "-o", str(tmp_path / "a.csv"))
    assert done.returncode == 0, done.stderr
    assert os.readlink(tmp_path / "a.csv") == str(tmp_path / "b.csv")
    assert os.readlink(tmp_path / "b.csv") == "deep/c.csv"
    assert (tmp_path / "deep" / "c.csv").read_text() == SEED_CSV
    assert stat.S_IMODE((tmp_path / "deep" / "c.csv").stat().st_mode) == 0o640  # the target keeps its mode
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv", "deep"] and os.listdir(tmp_path / "deep") == ["c.csv"]


def test_a_dangling_link_gets_its_target_created(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "link.json").symlink_to("out/new.json")
    done = wxb("forward", *SEED, "-o", "link.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "out" / "new.json").read_text() == "[[6.0, 7.0], [9.0, 10.0]]\n"
    assert os.listdir(tmp_path / "out") == ["new.json"]


def test_a_link_to_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "r.csv").symlink_to("folder")
    done = wxb("forward", *SEED, "-o", "r.csv", cwd=tmp_path)
    assert done.returncode == 2 and ("folder" in one_error_line(done.stderr) or "directory" in done.stderr)
    assert (tmp_path / "r.csv").is_symlink() and os.listdir(tmp_path / "folder") == []


def test_a_link_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").symlink_to("b.csv")
    (tmp_path / "b.csv").symlink_to("a.csv")
    done = wxb("forward", *SEED, "-o", "a.csv", cwd=tmp_path)
    assert done.returncode == 2 and "symbolic links" in one_error_line(done.stderr)
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv"]


# ---------------------------------------------------------------- FIFOs, devices, sockets: written directly


@pytest.mark.parametrize("fmt", ["csv", "npz", "npy"])
def test_a_fifo_is_written_through_to_its_reader(tmp_path: Path, fmt: str) -> None:
    fifo = tmp_path / f"out.{fmt}"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    done = wxb("backward", *SEED, "-W", "1 0; 0 1", "--wrt", "all" if fmt == "npz" else "b", "-o", str(fifo))
    try:
        received, _ = reader.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        reader.kill()
        pytest.fail("the FIFO's reader never got its data (was the FIFO replaced?)")
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == [fifo.name]
    if fmt == "csv":
        assert received == b"2.0\n2.0\n"
    elif fmt == "npy":
        assert np.load(io.BytesIO(received)).ravel().tolist() == [2.0, 2.0]
    else:
        with np.load(io.BytesIO(received)) as archive:
            assert sorted(archive.files) == ["dW", "dX", "db"] and archive["db"].ravel().tolist() == [2.0, 2.0]


def test_a_null_device_node_is_written_not_replaced(tmp_path: Path) -> None:
    node = device(tmp_path, "null.csv", 3)
    done = wxb("forward", *SEED, "-o", str(node))
    assert done.returncode == 0 and done.stderr == ""
    assert is_device(node, 3) and os.listdir(tmp_path) == ["null.csv"]


def test_a_full_device_is_one_error_line_and_the_node_stays(tmp_path: Path) -> None:
    node = device(tmp_path, "full.csv", 7)
    done = wxb("forward", *SEED, "-o", str(node))
    assert done.returncode == 2
    assert one_error_line(done.stderr) == f"wxb: error: cannot write it: No space left on device, in -o {node}"
    assert is_device(node, 7) and os.listdir(tmp_path) == ["full.csv"]


def test_a_link_to_a_device_node_writes_the_device(tmp_path: Path) -> None:
    node = device(tmp_path, "null", 3)
    (tmp_path / "r.csv").symlink_to("null")
    done = wxb("forward", *SEED, "-o", "r.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert is_device(node, 3) and (tmp_path / "r.csv").is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["null", "r.csv"]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket's path must fit in about 100 bytes."""
    with tempfile.TemporaryDirectory(dir="/tmp") as name:
        yield Path(name)


def test_a_unix_socket_is_connected_to_and_written(short_dir: Path) -> None:
    path = short_dir / "s.csv"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(20)
    received: list[bytes] = []

    def serve() -> None:
        try:
            connection, _ = server.accept()
        except TimeoutError:
            return
        with connection:
            received.extend(iter(lambda: connection.recv(65536), b""))

    thread = threading.Thread(target=serve)
    thread.start()
    done = wxb("forward", *SEED, "-o", str(path))
    thread.join(30)
    server.close()
    assert done.returncode == 0, done.stderr
    assert b"".join(received).decode() == SEED_CSV
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


# ---------------------------------------------------------------- inherited descriptors


def test_dev_stdout_writes_to_the_redirected_stdout(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    with out.open("wb") as stream:
        done = subprocess.run([*WXB, "forward", *SEED, "-o", "/dev/stdout", "--format", "csv"], stdout=stream,
                              stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == SEED_CSV and os.listdir(tmp_path) == ["out.csv"]


def test_dev_stdout_appends_when_stdout_appends(tmp_path: Path) -> None:
    done = bash("echo first > log.csv; wxb forward -X 1 -b 1 -o /dev/stdout -f csv >> log.csv", tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "log.csv").read_text() == "first\n2.0\n"  # not truncated, not replaced


@pytest.mark.parametrize("name", ["/dev/fd/3", "/proc/self/fd/3"])
def test_an_inherited_descriptor(tmp_path: Path, name: str) -> None:
    if not os.path.exists(os.path.dirname(name)):
        pytest.skip(f"no {os.path.dirname(name)} here")
    done = bash(f"wxb forward -X '1 2; 3 4' -b '5; 6' -o {name} -f csv 3> out.csv", tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.csv").read_text() == SEED_CSV and os.listdir(tmp_path) == ["out.csv"]
    done = bash(f"wxb forward -X 1 -b 1 -o {name} -f csv 3>> out.csv", tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.csv").read_text() == SEED_CSV + "2.0\n"


def test_a_closed_descriptor_is_one_error_line(tmp_path: Path) -> None:
    done = bash("exec 7>&-; wxb forward -X 1 -b 1 -o /dev/fd/7 -f csv", tmp_path)
    assert done.returncode == 2
    assert "/dev/fd/7" in one_error_line(done.stderr) and os.listdir(tmp_path) == []


def test_process_substitution_into_gzip(tmp_path: Path) -> None:
    done = bash("wxb forward -X '1 2; 3 4' -b '5; 6' -f csv -o >(gzip > f.csv.gz); wait $!", tmp_path)
    assert done.returncode == 0, done.stderr
    assert gzip.decompress((tmp_path / "f.csv.gz").read_bytes()).decode() == SEED_CSV


def test_process_substitution_of_an_npz(tmp_path: Path) -> None:
    done = bash("wxb backward -X '1 2; 3 4' -b '5; 6' -W '1 0; 0 1' --wrt all -f npz -o >(cat > r.npz); wait $!",
                tmp_path)
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "r.npz") as archive:
        assert archive["db"].ravel().tolist() == [2.0, 2.0]


# ---------------------------------------------------------------- a full or closed stdout


@pytest.mark.parametrize("rows", [1, 200, 400])  # one buffered line; past the buffer; the polars writer
def test_stdout_on_a_full_device_is_one_line_naming_stdout(tmp_path: Path, rows: int) -> None:
    node = device(tmp_path, "full", 7)
    np.save(tmp_path / "x.npy", np.zeros((rows, 300)))
    with node.open("wb") as full:
        done = subprocess.run([*WXB, "forward", "-X", str(tmp_path / "x.npy"), "-b", "0"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert one_error_line(done.stderr) == "wxb: error: cannot write to stdout: No space left on device"


def test_a_closed_stdout_is_one_line_naming_stdout(tmp_path: Path) -> None:
    done = bash("wxb forward -X 1 -b 1 >&-", tmp_path)
    assert done.returncode == 2
    assert one_error_line(done.stderr) == "wxb: error: cannot write to stdout: it is closed"


CLOSED_STDOUT = """
import sys
import numpy as np
from wxb.cli.write import output
from wxb.cli.errors import OutputError
try:
    output.write_results({"f": np.eye(2)}, "csv")
except OutputError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


def test_writing_results_to_a_closed_stdout(tmp_path: Path) -> None:
    done = bash(f"{sys.executable} -c '{CLOSED_STDOUT}' >&-", tmp_path)
    assert done.returncode == 2 and done.stderr == "cannot write to stdout: it is closed\n"


class FailingStream(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")


class FailingStdout:
    buffer: BinaryIO = io.BufferedWriter(FailingStream())

    def flush(self) -> None:
        pass


def test_a_failing_stdout_raises_an_output_error() -> None:
    failing = Environment(None, FailingStdout(), None)  # type: ignore[arg-type]  # only .buffer and .flush
    with using(failing), pytest.raises(OutputError, match=r"^cannot write to stdout: No space left on device$"):
        output.write_results({"f": np.zeros((300, 300))}, "csv")
    closed = Environment(None, None, None)
    with using(closed), pytest.raises(OutputError, match=r"^cannot write to stdout: it is closed$"):
        output.write_text("x\n")
    assert issubclass(OutputError, InputError)


# ---------------------------------------------------------------- signals while a temp file exists


SLOW_WRITER = """
import signal, sys, time
from pathlib import Path
for name in ("SIGTERM", "SIGHUP"):  # the defaults, whatever was inherited (nohup ignores SIGHUP)
    signal.signal(getattr(signal, name), signal.SIG_DFL)
from wxb.cli.write.through import write_atomically
target, ready = Path(sys.argv[1]), Path(sys.argv[2])
def slow(stream):
    stream.write(b"half-written")
    stream.flush()
    ready.write_text("writing")
    time.sleep(60)
write_atomically(target, slow)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_the_write_removes_the_temp_file(tmp_path: Path, signum: int) -> None:
    (tmp_path / "out").mkdir()
    target, ready = tmp_path / "out" / "r.csv", tmp_path / "ready"
    target.write_text("old\n")
    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target), str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists(), "the writer never started"
        assert len(os.listdir(tmp_path / "out")) == 2  # r.csv and its temp file
        writer.send_signal(signum)
        assert writer.wait(timeout=20) == -signum  # ended by the signal itself, as its default would
    finally:
        writer.kill()
    assert os.listdir(tmp_path / "out") == ["r.csv"] and target.read_text() == "old\n"


def test_signal_handlers_are_set_only_during_the_write(tmp_path: Path) -> None:
    inherited = {s: signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGHUP)}  # not nohup's SIG_IGN
    try:
        before = {s: signal.getsignal(s) for s in inherited}
        during: dict[int, object] = {}

        def emit(stream: BinaryIO) -> None:
            during.update({s: signal.getsignal(s) for s in before})
            stream.write(b"x")

        through.write_atomically(tmp_path / "r.csv", emit)
        assert {s: signal.getsignal(s) for s in before} == before
        assert all(during[s] is not before[s] for s in before)
        assert (tmp_path / "r.csv").read_bytes() == b"x"
    finally:
        for s, handler in inherited.items():
            signal.signal(s, handler)


def test_an_ignored_hangup_stays_ignored(tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        seen: list[object] = []
        through.write_atomically(tmp_path / "r.csv", lambda stream: seen.append(signal.getsignal(signal.SIGHUP)))
        assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_o_into_a_process_substitution_without_a_suffix_writes_csv(tmp_path: Path) -> None:
    target = tmp_path / "x.gz"
    done = shell(f'wxb forward -X "1 2" -b 1 -o >(gzip > "{target}"); wait')
    assert done.returncode == 0, done.stderr
    for _ in range(50):  # the process substitution finishes on its own time
        if target.exists() and target.stat().st_size:
            break
        time.sleep(0.1)
    assert gzip.decompress(target.read_bytes()) == b"2.0,3.0\n"


@pytest.mark.parametrize("name", ["o.json", "out"])
def test_o_dev_stdout_writes_csv_as_stdout_in_a_pipe_does(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    done = shell(f'wxb forward -X "1 2" -b 1 -o /dev/stdout > "{out}"')
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "2.0,3.0\n"
