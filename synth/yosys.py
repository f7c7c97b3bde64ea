"""Yosys through pyosys (native Yosys 0.70 with ABC), one child process per script.

pyosys ends the whole process on a Yosys error (``log_error`` exits), so each script runs in
a child Python that imports pyosys; the parent turns a failure into :class:`YosysError` with
the Yosys error line and the log path. Yosys' output goes to the log, not the console.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["YosysError", "run_script", "yosys_abc", "yosys_version"]

_CHILD = """
import sys
from pyosys import libyosys as ys
ys.run_pass("tee -q -o " + sys.argv[2] + " script " + sys.argv[1], ys.Design())
"""

_VERSION = "from pyosys import libyosys as ys; print(ys.yosys_maybe_version())"


class YosysError(RuntimeError):
    """A Yosys script failed; the message has Yosys' error and the log file."""


def yosys_version() -> str:
    """``Yosys 0.70 (git sha1 ...)`` without the build machine's compiler path."""
    proc = subprocess.run(
        [sys.executable, "-c", _VERSION],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().split(", ")[0].rstrip(")") + ")"


def yosys_abc() -> Path:
    """The ABC binary that ships with pyosys (the one Yosys' ``abc`` pass runs)."""
    import pyosys

    path = Path(pyosys.__file__).parent / "yosys-abc"
    if not path.exists():
        raise YosysError(f"yosys-abc not found next to pyosys ({path}); reinstall pyosys")
    return path


def run_script(commands: list[str], log: Path | None = None) -> Path:
    """Run ``commands`` as one Yosys script on a fresh design; returns the log path.

    Raises :class:`YosysError` with Yosys' ``ERROR:`` line when a command fails.
    """
    if log is None:
        log = Path(tempfile.mkdtemp(prefix="lutcore-yosys-")) / "yosys.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    script = log.with_suffix(".ys")
    script.write_text("\n".join(commands) + "\n")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(script), str(log)], capture_output=True, text=True
    )
    if proc.returncode:
        text = log.read_text() if log.exists() else ""
        errors = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
        detail = errors[-1] if errors else (proc.stderr.strip()[-2000:] or "no output")
        raise YosysError(f"yosys failed: {detail} (script {script}, log {log})")
    return log
