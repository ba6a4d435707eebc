"""A command run as a fresh process and measured from outside: exit, signal, time, peak RSS, output.

Why one helper: the native benchmark (`benchmarks/native.py`) compares processes by their
peak memory, and the native fuzz campaign (`benchmarks/fuzz_native.py`) must tell an exit
code from a signal or a hang and bound every run's time and memory. Both need figures
the child cannot fake or forget to print: its peak RSS from `wait4`'s rusage and a
timeout that kills its whole process group.

Why a launcher: Linux carries a process's peak RSS across `exec`, so a child forked (or
vforked) from this Python process starts with this process's RSS as its peak, and
`wait4` would report tens of MB the command never used. The command is therefore
forked from a small `python -I -S` launcher, which applies the address-space cap,
waits for it and writes its exit status and `ru_maxrss` to a file: peaks below the
launcher's own few MB read as that floor (`launcher_floor_mb()`).

Example:

    >>> from measured_process import run_measured
    >>> r = run_measured(["true"], timeout_s=5)
    >>> r.exit, r.signal, r.timed_out
    (0, None, False)
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

# argv: RESULT_FILE CAP_BYTES (0: none) COMMAND... ; writes "STATUS MAXRSS_KB" for the command.
_LAUNCHER = r"""
import os, resource, sys
result, cap, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pid = os.fork()
if pid == 0:
    try:
        if cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.execvp(cmd[0], cmd)
    except BaseException as exc:
        os.write(2, f"launcher: cannot run {cmd[0]}: {exc}\n".encode())
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(result, "w") as f:
    f.write(f"{status} {usage.ru_maxrss}\n")
"""


@dataclass
class Finished:
    """How a measured process ended."""

    exit: int | None        # None when killed by a signal or at the timeout
    signal: int | None      # the signal that ended it (SIGKILL after a timeout)
    timed_out: bool
    seconds: float          # wall time from start to exit (the launcher's start-up included)
    peak_mb: float          # peak RSS (wait4 ru_maxrss; NaN when killed at the timeout)
    stdout: str
    stderr: str

    @property
    def outcome(self) -> str:
        """"0", "2", ..., "signal 11" or "timeout": a key for tables of results."""
        if self.timed_out:
            return "timeout"
        return f"signal {self.signal}" if self.signal else str(self.exit)


def run_measured(cmd: list[str], timeout_s: float, env: dict[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, address_space_bytes: int | None = None) -> Finished:
    """Run `cmd` in a new process group, stdin from /dev/null; kill the group after `timeout_s`.

    `address_space_bytes` caps its virtual memory (RLIMIT_AS), so a runaway allocation fails
    inside it instead of swapping the machine (not for AddressSanitizer builds, which
    reserve terabytes of shadow address space)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".status") as result:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _LAUNCHER, result.name,
                                 str(address_space_bytes or 0), *cmd],
                                stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True,
                                stdin=subprocess.DEVNULL)
        timed_out = wait_or_kill_group(proc.pid, timeout_s)
        proc.wait()
        seconds = time.monotonic() - start
        with contextlib.suppress(ProcessLookupError):  # anything the command left behind in its group
            os.killpg(proc.pid, signal.SIGKILL)
        fields = result.read().split()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if timed_out or len(fields) != 2:
        return Finished(None, signal.SIGKILL if timed_out else None, timed_out, seconds, float("nan"), stdout,
                        stderr + ("" if timed_out else f"\nlauncher ended with {proc.returncode}"))
    status, maxrss_kb = int(fields[0]), int(fields[1])
    signalled = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return Finished(None if signalled else os.WEXITSTATUS(status), signalled, False, seconds, maxrss_kb / 1024,
                    stdout, stderr)


def wait_or_kill_group(pid: int, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for child `pid` (a process-group leader) to end, without reaping
    it; past that, SIGKILL its whole group. True when it timed out. The caller reaps it."""
    fd = os.pidfd_open(pid)
    try:
        timed_out = not select.select([fd], [], [], timeout_s)[0]
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    return timed_out


@functools.lru_cache(maxsize=1)
def launcher_floor_mb() -> float:
    """The peak RSS a command that allocates nothing shows through the launcher (measured once)."""
    return round(run_measured(["true"], timeout_s=30).peak_mb, 1)
