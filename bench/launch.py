"""Run one command from this small process and print its exit code, wall seconds and own peak RSS (KiB).

Usage: python -I -S bench/launch.py COMMAND [ARG ...]

Why a launcher: Linux keeps a process's peak RSS across exec, and at exec it records the peak of the memory it
had until then, which for a child forked, vforked or posix_spawned by the benchmark harness is the harness's own
memory (hundreds of MB of NumPy arrays). Started from this process, which imports nothing beyond built-ins, a
command's figure is its own peak, or this launcher's (about 8 MB) if that is larger.

COMMAND gets this process's stdin and stderr and writes its stdout to /dev/null; this launcher's stdout carries
one line, "EXIT SECONDS PEAK_KIB". If COMMAND cannot be started, the reason goes to stderr and the exit code is 127.
"""

import os
import sys
import time


def main(argv: list[str]) -> int:
    """Spawn argv with stdout to /dev/null, wait for it, print its exit code, wall time and ru_maxrss."""
    to_devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    start = time.perf_counter()
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=to_devnull)
    except OSError as exc:
        print(f"launch: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    print(os.waitstatus_to_exitcode(status), elapsed, usage.ru_maxrss)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
