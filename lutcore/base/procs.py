"""Child processes of external tools, ended with whoever started them.

Every tool lutcore starts itself (Yosys and the ABC it starts, OpenSTA, nextpnr, Verilator's
lint; the simulators of the benches are cocotb's runner's to start) runs under a
small supervisor that leads its own process group: Ctrl-C at a terminal does not reach the
tool directly (lutcore decides what to stop), :func:`end` kills the whole group (ABC
included, which Yosys starts as its own child), and the supervisor kills the group itself
when the process that started it dies, even by ``SIGKILL``, so no tool is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PeakMemory", "end", "end_all", "peak_memory", "run", "spawn"]

# The supervisor: fork the tool into this process group, wait for it, and kill the group
# if our parent goes away (polled through a pidfd, so a finished tool is seen at once).
_SUPERVISOR = """
import os, select, signal, sys
parent = os.getppid()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    except OSError as exc:
        sys.stderr.write(f"cannot run {sys.argv[1]}: {exc.strerror}\\n")
        os._exit(127)
signal.signal(signal.SIGINT, signal.SIG_IGN)
fd = os.pidfd_open(pid)
while not select.select([fd], [], [], 0.25)[0]:
    if os.getppid() != parent:
        os.killpg(0, signal.SIGKILL)
_, status, usage = os.wait4(pid, 0)
if os.environ.get("LUTCORE_PEAK_RSS"):  # the tool's peak memory (kB), for peak_memory()
    with open(os.environ["LUTCORE_PEAK_RSS"], "w") as out:
        out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
"""

_LIVE: set[subprocess.Popen] = set()
_LOCK = threading.Lock()


@dataclass
class PeakMemory:
    """The largest resident memory (MiB) of any tool that ended inside :func:`peak_memory`
    (the tool's own peak, its children's included: ABC under Yosys)."""

    mib: float = 0.0


_TRACKERS: list[PeakMemory] = []


@contextlib.contextmanager
def peak_memory():
    """Track the peak memory of the tools started and ended in the block."""
    tracker = PeakMemory()
    _TRACKERS.append(tracker)
    try:
        yield tracker
    finally:
        _TRACKERS.remove(tracker)


def spawn(cmd: list[str], **popen: object) -> subprocess.Popen:
    """Start ``cmd`` (``popen`` as for :class:`subprocess.Popen`) under the supervisor, in
    a new process group; :func:`end` it (or :func:`end_all`) when done or interrupted."""
    fd, usage = tempfile.mkstemp(prefix="lutcore-rss-")
    os.close(fd)
    env = dict(popen.pop("env", None) or os.environ, LUTCORE_PEAK_RSS=usage)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SUPERVISOR, *map(str, cmd)],
            start_new_session=True,
            env=env,
            **popen,
        )
    except BaseException:
        os.unlink(usage)
        raise
    proc.lutcore_usage = usage
    with _LOCK:
        _LIVE.add(proc)
    return proc


def end(proc: subprocess.Popen) -> None:
    """Kill what is left of ``proc``'s process group (a finished tool leaves nothing, an
    interrupted one is stopped with its children) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with _LOCK:
        _LIVE.discard(proc)
    usage = Path(proc.lutcore_usage)
    with contextlib.suppress(OSError, ValueError):
        mib = int(usage.read_text() or 0) / 1024
        for tracker in _TRACKERS:
            tracker.mib = max(tracker.mib, mib)
    usage.unlink(missing_ok=True)


def end_all() -> None:
    """End every tool this process started that is still running."""
    with _LOCK:
        live = list(_LIVE)
    for proc in live:
        end(proc)


def run(cmd: list[str], *, timeout: float | None = None, **popen: object):
    """:func:`subprocess.run` through :func:`spawn`: output captured as text, the tool ended
    on every exit path (an interrupt, a timeout). Returns a
    :class:`subprocess.CompletedProcess`."""
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        end(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
