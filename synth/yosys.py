"""In-process Yosys through pyosys (native Yosys with ABC).

Each call runs a script on a fresh design; Yosys' log goes to a file (``tee -q``) so the
console only shows our own progress messages.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

__all__ = ["YosysError", "run_script", "yosys_version"]


class YosysError(RuntimeError):
    """A Yosys command failed; the message names the command and the log file."""


def yosys_version() -> str:
    from pyosys import libyosys as ys

    return ys.yosys_maybe_version() if hasattr(ys, "yosys_maybe_version") else "unknown"


def run_script(commands: list[str], log: Path | None = None):
    """Run ``commands`` on a new design and return it. ``log`` receives Yosys' output (a
    temporary file when not given). Raises :class:`YosysError` naming the failing command."""
    from pyosys import libyosys as ys

    if log is None:
        log = Path(tempfile.mkdtemp(prefix="lutcore-yosys-")) / "yosys.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    design = ys.Design()
    # pyosys echoes each command header on the process' stdout: send fd 1 to the log too.
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(log, "a") as sink:
            os.dup2(sink.fileno(), 1)
            for command in commands:
                try:
                    ys.run_pass(f"tee -q -a {log} {command}", design)
                except Exception as exc:  # pyosys turns log_error into an exception
                    tail = "\n".join(log.read_text().splitlines()[-15:])
                    raise YosysError(
                        f"yosys command `{command}` failed ({exc}); log {log}:\n{tail}"
                    ) from None
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return design
