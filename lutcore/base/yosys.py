"""Yosys through pyosys (native Yosys 0.70 with ABC), one child process per script.

pyosys ends the whole process on a Yosys error (``log_error`` exits), so each script runs in
a child Python that imports pyosys; the parent turns a failure into :class:`YosysError` with
the Yosys error line and the log path. Yosys' output goes to the log, not the console.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import procs
from .tools import HEARTBEAT_S

__all__ = [
    "HEARTBEAT_S",
    "YosysError",
    "quote",
    "run_script",
    "watch",
    "yosys_abc",
    "yosys_version",
]


_CHILD = """
import sys
from pyosys import libyosys as ys
design = ys.Design()
open(sys.argv[2], "w").close()
# command by command: Yosys' `script` takes its file name unquoted, `tee -o` quoted
for line in open(sys.argv[1]).read().splitlines():
    if line.strip():
        ys.run_pass(f'tee -q -a "{sys.argv[2]}" {line}', design)
"""

_VERSION = "from pyosys import libyosys as ys; print(ys.yosys_maybe_version())"


class YosysError(RuntimeError):
    """A Yosys script failed; the message has Yosys' error and the log file."""


def quote(path: Path | str) -> str:
    """``path`` as one argument of a Yosys command (double quotes keep spaces, brackets and
    ``$``; a double quote or a line break cannot be carried and is refused)."""
    text = str(path)
    if '"' in text or "\n" in text or "\r" in text:
        raise YosysError(f"path {text!r}: a Yosys script cannot carry a double quote or line break")
    return f'"{text}"'


def yosys_version() -> str:
    """``Yosys 0.70 (git sha1 ...)`` without the build machine's compiler path."""
    proc = procs.run([sys.executable, "-c", _VERSION])
    if proc.returncode:
        raise YosysError(f"pyosys does not start: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip().split(", ")[0].rstrip(")") + ")"


def yosys_abc() -> Path:
    """The ABC binary that ships with pyosys (the one Yosys' ``abc`` pass runs)."""
    import pyosys

    path = Path(pyosys.__file__).parent / "yosys-abc"
    if not path.exists():
        raise YosysError(f"yosys-abc not found next to pyosys ({path}); reinstall pyosys")
    return path


def run_script(
    commands: list[str], log: Path | None = None, *, label: str = "yosys", progress=None
) -> Path:
    """Run ``commands`` as one Yosys script on a fresh design; returns the log path.

    Raises :class:`YosysError` with Yosys' ``ERROR:`` line when a command fails. With
    ``progress``, long runs report the pass in progress every :data:`HEARTBEAT_S` seconds.
    """
    if log is None:
        log = Path(tempfile.mkdtemp(prefix="lutcore-yosys-")) / "yosys.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    quote(log)  # refused before anything runs
    script = log.with_suffix(".ys")
    script.write_text("\n".join(commands) + "\n")
    stderr = log.with_suffix(".stderr")
    # ABC's scratch folders (yosys-abc-*) go into a folder of this run, removed however the
    # run ends (Yosys leaves them behind when it fails); not beside the log, since ABC
    # cannot read paths with spaces
    scratch = Path(tempfile.mkdtemp(prefix="lutcore-yosys-"))
    env = dict(os.environ, TMPDIR=str(scratch))
    try:
        with stderr.open("w") as err:  # a file, not a pipe: a full pipe would block the child
            proc = procs.spawn(
                [sys.executable, "-c", _CHILD, script, log],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
            watch(proc, log, label, progress, r"^[\d.]+\. Executing (.*)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if proc.returncode:
        text = log.read_text() if log.exists() else ""
        errors = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
        detail = errors[-1] if errors else (stderr.read_text().strip()[-2000:] or "no output")
        raise YosysError(f"yosys failed: {detail} (script {script}, log {log})")
    return log


def watch(proc: subprocess.Popen, log: Path, label: str, progress, step: str) -> None:
    """Wait for ``proc``; every :data:`HEARTBEAT_S` seconds tell ``progress`` the elapsed
    time and the last line of ``log`` matching the regex ``step`` (its first group). If the
    wait is interrupted, ``proc`` and its children are killed (a long Yosys pass would
    otherwise run on); ``proc`` comes from :func:`lutcore.base.procs.spawn`."""
    started = time.monotonic()
    while True:
        try:
            proc.wait(timeout=HEARTBEAT_S)
            procs.end(proc)  # and whatever it left running
            return
        except subprocess.TimeoutExpired:
            if progress is None:
                continue
        except BaseException:  # Ctrl-C, a sweep being stopped: take the tool down too
            procs.end(proc)
            raise
        text = log.read_text(errors="replace") if log.exists() else ""
        steps = re.findall(step, text, flags=re.M)
        where = steps[-1].strip() if steps else "starting"
        progress(f"[{label}] {time.monotonic() - started:.0f} s: {where}")
